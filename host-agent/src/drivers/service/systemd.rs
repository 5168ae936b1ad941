//! systemd units, driven through `systemctl`.

use std::path::PathBuf;
use std::time::Duration;

use super::{action_error, check_word};
use crate::drivers::process::Invocation;
use crate::resource::{ErrorKind, Health, Presence, Resource, ResourceError};

/// A systemd unit: `systemctl start UNIT`, `systemctl stop UNIT`,
/// `systemctl is-active UNIT`.
///
/// The probe is `is-active`: exit 0 is [`Presence::Active`]. A non-zero exit
/// is [`Presence::Inactive`], except while the unit is half-way
/// (`activating`, `deactivating`, `reloading`, `refreshing` printed), which
/// is [`Presence::Unknown`] so a unit still coming up or going down counts as
/// held. `stop` of a unit that is not active does nothing (so a unit that
/// does not exist stops fine). Exit codes of `start`/`stop` follow the LSB
/// mapping (5 "not installed": unit not found).
#[derive(Debug, Clone)]
pub struct SystemdUnit {
    unit: String,
    systemctl: PathBuf,
    timeout: Duration,
}

impl SystemdUnit {
    /// The unit `unit` (e.g. `httpd.service`), with `systemctl` from `PATH`;
    /// each call must finish within `timeout`.
    ///
    /// Errors ([`ErrorKind::Config`]): an empty unit name or one with `/`,
    /// whitespace or a leading `-`; a zero timeout.
    pub fn new(unit: &str, timeout: Duration) -> Result<Self, ResourceError> {
        Self::with_systemctl(unit, PathBuf::from("systemctl"), timeout)
    }

    /// Same, running the given `systemctl` program (for a non-standard
    /// location, or a stand-in in tests).
    pub fn with_systemctl(unit: &str, systemctl: PathBuf, timeout: Duration) -> Result<Self, ResourceError> {
        check_word(unit, "systemd unit")?;
        if timeout.is_zero() {
            return Err(ResourceError::new(ErrorKind::Config, format!("systemd unit {unit}: timeout is zero")));
        }
        Ok(Self { unit: unit.to_owned(), systemctl, timeout })
    }

    /// The unit name.
    pub fn unit(&self) -> &str {
        &self.unit
    }

    fn systemctl(&self, verb: &str) -> Result<(crate::drivers::process::Exit, String), ResourceError> {
        let what = format!("systemd unit {} {verb}", self.unit);
        let exit = Invocation::new(&self.systemctl).arg(verb).arg(&self.unit).timeout(self.timeout).run(&what)?;
        Ok((exit, what))
    }

    fn is_active(&self) -> Result<(Presence, String), ResourceError> {
        let (exit, _) = self.systemctl("is-active")?;
        let state = exit.output.lines().last().unwrap_or_default().trim().to_owned();
        let presence = if exit.success() {
            Presence::Active
        } else if matches!(state.as_str(), "activating" | "deactivating" | "reloading" | "refreshing") {
            Presence::Unknown
        } else {
            Presence::Inactive
        };
        Ok((presence, state))
    }
}

impl Resource for SystemdUnit {
    fn describe(&self) -> String {
        format!("systemd unit {}", self.unit)
    }

    fn start(&mut self) -> Result<(), ResourceError> {
        let (exit, what) = self.systemctl("start")?;
        if exit.success() {
            Ok(())
        } else {
            Err(action_error(&exit, &what))
        }
    }

    fn stop(&mut self) -> Result<(), ResourceError> {
        if self.is_active()?.0 == Presence::Inactive {
            return Ok(());
        }
        let (exit, what) = self.systemctl("stop")?;
        if exit.success() {
            Ok(())
        } else {
            Err(action_error(&exit, &what))
        }
    }

    fn probe(&mut self) -> Result<Presence, ResourceError> {
        self.is_active().map(|(presence, _)| presence)
    }

    fn monitor(&mut self) -> Result<Health, ResourceError> {
        let (presence, state) = self.is_active()?;
        Ok(match presence {
            Presence::Active => Health::Healthy,
            _ => Health::Unhealthy(format!(
                "systemd unit {} is {}",
                self.unit,
                if state.is_empty() { "not active" } else { &state }
            )),
        })
    }
}
