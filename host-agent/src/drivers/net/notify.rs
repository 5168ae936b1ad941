//! Switch notification: one broadcast from the interface, so learning
//! switches move its MAC to the new port at once. A moved MAC (see
//! [`super::MacAddress`]) needs no ARP, but a switch keeps forwarding it to
//! the old port until it sees a frame from the new one.

use std::fs;
use std::io;
use std::path::PathBuf;

use super::frame::switch_notify;
use super::packet::LinkSocket;
use super::{check_interface, is_errno, no_interface, os_error};
use crate::resource::{Presence, Resource, ResourceError};

/// Sends a switch-notify broadcast (ethertype 0x88B5, see
/// [`super::frame::switch_notify`]) from an interface on start.
///
/// It holds nothing, so like heartbeat's `SendArp` it records that it was
/// started in a marker file under the run directory: `probe` reports
/// `Active` while the marker exists and the interface does, `stop`
/// removes the marker.
#[derive(Debug, Clone)]
pub struct SwitchNotify {
    interface: String,
    count: u32,
    marker: PathBuf,
}

impl SwitchNotify {
    /// A switch-notify resource from plain parameters.
    ///
    /// * `interface`: the interface to send from (its current MAC is the
    ///   frame's source).
    /// * `count`: frames to send back to back (1 to 10), more than one for
    ///   switches that drop the odd frame.
    /// * `run_dir`: directory for the marker file `notify-<interface>`.
    pub fn new(interface: &str, count: u32, run_dir: impl Into<PathBuf>) -> Result<Self, ResourceError> {
        let what = format!("switch notify on {interface}");
        check_interface(&what, interface)?;
        if !(1..=10).contains(&count) {
            return Err(ResourceError::new(
                crate::resource::ErrorKind::Config,
                format!("{what}: count {count} must be 1 to 10"),
            ));
        }
        Ok(Self { interface: interface.to_owned(), count, marker: run_dir.into().join(format!("notify-{interface}")) })
    }

    fn label(&self) -> String {
        format!("switch notify on {}", self.interface)
    }

    /// Sends the broadcast now, without touching the marker (for a refresh).
    pub fn send(&self) -> Result<(), ResourceError> {
        let label = self.label();
        let socket = LinkSocket::sender(&self.interface).map_err(|e| {
            if is_errno(&e, libc::ENODEV) {
                no_interface(&label, &self.interface)
            } else {
                os_error(&label, "opening a packet socket", &e)
            }
        })?;
        let frame = switch_notify(socket.mac());
        for _ in 0..self.count {
            socket.send(&frame).map_err(|e| os_error(&label, "sending", &e))?;
        }
        Ok(())
    }
}

impl Resource for SwitchNotify {
    fn describe(&self) -> String {
        self.label()
    }

    fn start(&mut self) -> Result<(), ResourceError> {
        self.send()?;
        let label = self.label();
        if let Some(dir) = self.marker.parent() {
            fs::create_dir_all(dir).map_err(|e| os_error(&label, &format!("creating {}", dir.display()), &e))?;
        }
        fs::write(&self.marker, b"sent\n")
            .map_err(|e| os_error(&label, &format!("writing {}", self.marker.display()), &e))
    }

    fn stop(&mut self) -> Result<(), ResourceError> {
        match fs::remove_file(&self.marker) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(os_error(&self.label(), &format!("removing {}", self.marker.display()), &e)),
        }
    }

    fn probe(&mut self) -> Result<Presence, ResourceError> {
        if !self.marker.exists() {
            return Ok(Presence::Inactive);
        }
        let exists = nix::net::if_::if_nametoindex(self.interface.as_str()).is_ok();
        Ok(if exists { Presence::Active } else { Presence::Inactive })
    }
}
