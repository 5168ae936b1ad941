//! The relay board the controller talks to, played by a thread of the rig
//! with `warden_bsp::relay::Board` on a pseudo-terminal (or QEMU's UART
//! socket). Its relays really switch the servers ([`Rack::set_relay`]),
//! and it answers sense queries with each server's real power, which
//! includes the servers' own supplies.
//!
//! Bytes are fed one at a time, so a switch is carried out completely (a
//! power-off takes its processes, its NIC and its disk down) before the
//! board reads the query that follows it: the controller can never read a
//! server as off while anything of it still runs.
//!
//! The board's sense inputs are live: the rack wakes the thread whenever a
//! server's power changes, and channels the controller watches are
//! reported at once, as a supply-good line on a real board would be.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use warden_bsp::relay::{Board, BoardEvent, BoardStats};
use warden_bsp::Channel;

use super::rack::Rack;
use super::serial::ControllerEnd;
use crate::host::realtime;
use crate::RigError;

/// Channels on the played board (one per possible node).
pub const CHANNELS: usize = 8;

/// How often the thread looks at its stop flag.
const TICK: Duration = Duration::from_millis(20);

/// The board and its thread (stopped when dropped).
#[derive(Debug)]
pub struct RelayBoard {
    end: ControllerEnd,
    stats: Arc<Mutex<BoardStats>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RelayBoard {
    /// Plays a board with one channel per server of `rack` (channel `i`
    /// powers server `i`, relays on) on `end`.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when the end or the thread cannot be had.
    pub fn start(end: ControllerEnd, rack: Arc<Rack>) -> Result<Self, RigError> {
        let file = match &end {
            ControllerEnd::Pty(p) => p.master.try_clone(),
            ControllerEnd::Socket(s) => s.try_clone().map(File::from),
        }
        .map_err(RigError::io("the relay board's line"))?;
        fcntl(file.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
            .map_err(RigError::os("the relay board's line"))?;
        let stats = Arc::new(Mutex::new(BoardStats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let channels = rack.len().min(CHANNELS);
        let board = Board::<CHANNELS>::with_channels([true; CHANNELS], channels);
        let (flag, counters) = (Arc::clone(&stop), Arc::clone(&stats));
        let power = rack.watch_power()?;
        let thread = std::thread::Builder::new()
            .name("relay-board".into())
            .spawn(move || serve(board, file, &power, &rack, &flag, &counters))
            .map_err(RigError::io("starting the relay board thread"))?;
        Ok(Self { end, stats, stop, thread: Some(thread) })
    }

    /// The device the controller opens as its relay module (`None` for a socket).
    #[must_use]
    pub fn device(&self) -> Option<&std::path::Path> {
        match &self.end {
            ControllerEnd::Pty(p) => Some(p.path()),
            ControllerEnd::Socket(_) => None,
        }
    }

    /// The board's counters.
    #[must_use]
    pub fn stats(&self) -> BoardStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Throws away what the controller's end has queued (before a new
    /// controller opens it).
    pub fn flush_controller_end(&self) {
        if let ControllerEnd::Pty(p) = &self.end {
            let _ = nix::sys::termios::tcflush(p.slave().as_fd(), nix::sys::termios::FlushArg::TCIOFLUSH);
        }
    }
}

impl Drop for RelayBoard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    mut board: Board<CHANNELS>,
    mut port: File,
    mut power: &std::os::unix::net::UnixStream,
    rack: &Rack,
    stop: &AtomicBool,
    stats: &Mutex<BoardStats>,
) {
    realtime::raise_rig_thread();
    let channels = rack.len().min(CHANNELS);
    let sync = |board: &mut Board<CHANNELS>| {
        for i in 0..channels {
            let channel = Channel(u8::try_from(i).unwrap_or(u8::MAX));
            board.override_sense(channel, Some(rack.powered(i)));
        }
    };
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        let (line, changed) = {
            let mut fds = [PollFd::new(port.as_fd(), PollFlags::POLLIN), PollFd::new(power.as_fd(), PollFlags::POLLIN)];
            let ms = u16::try_from(TICK.as_millis()).unwrap_or(u16::MAX);
            let _ = poll(&mut fds, PollTimeout::from(ms));
            let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), ready(&fds[1]))
        };
        let mut events = Vec::new();
        if changed {
            let mut sink = [0u8; 64];
            while matches!(power.read(&mut sink), Ok(n) if n > 0) {}
            sync(&mut board);
            board.report_changes(|e| events.push(e));
        }
        if line {
            match port.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    for byte in buf.iter().take(n) {
                        sync(&mut board);
                        board.feed(std::slice::from_ref(byte), |e| events.push(e));
                        // Each byte's effects (a switch cuts the power) come before the next byte.
                        act(&mut events, &mut port, rack);
                    }
                }
                Err(_) => {}
            }
        }
        act(&mut events, &mut port, rack);
        *stats.lock().unwrap_or_else(PoisonError::into_inner) = board.stats();
    }
}

/// Carries out what the board did: relays switch the rack, replies go out.
fn act(events: &mut Vec<BoardEvent>, port: &mut File, rack: &Rack) {
    for event in events.drain(..) {
        match event {
            BoardEvent::Switched { channel, on } => rack.set_relay(usize::from(channel.0), on),
            BoardEvent::Reply(reply) => {
                let _ = port.write_all(&reply);
            }
            BoardEvent::Refused(_) => {}
        }
    }
}
