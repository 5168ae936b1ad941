//! A server's serial line to the controller: two pseudo-terminals, one
//! whose slave the server's agent opens and one whose slave (or socket,
//! for QEMU's UART) the controller opens, and a thread of the rig carrying
//! bytes between their far ends. On command it cuts the line, delays it,
//! or corrupts bytes; while the server has no power the line is dead (a
//! powered-off server's UART drives nothing).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::termios::{tcflush, FlushArg};
use warden_bsp::linux::Pty;

use crate::host::realtime;
use crate::RigError;
use warden_sim::Rng;

/// What the line does to the bytes it carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LineFault {
    /// Nothing: bytes pass as they are.
    Clear,
    /// Nothing passes, in either direction.
    Cut,
    /// Every byte arrives this much later.
    Delay(Duration),
    /// Each byte has a bit flipped with this probability.
    Corrupt(f64),
}

impl std::fmt::Display for LineFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Clear => f.write_str("serial line clear"),
            Self::Cut => f.write_str("serial line cut"),
            Self::Delay(d) => write!(f, "serial line delayed by {} ms", d.as_millis()),
            Self::Corrupt(p) => write!(f, "serial line flipping a bit in {:.1} % of bytes", p * 100.0),
        }
    }
}

/// Bytes counted in one direction. They saturate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Carried {
    /// Delivered.
    pub delivered: u64,
    /// Dropped: the line was cut or dead, or the far end was not reading.
    pub dropped: u64,
    /// Delivered with a flipped bit.
    pub corrupted: u64,
    /// Held back by a delay now, neither delivered nor dropped yet.
    pub delayed: u64,
}

#[derive(Debug)]
struct LineState {
    fault: LineFault,
    powered: bool,
    /// Bumped at every power change: delayed bytes of an earlier epoch are dropped.
    epoch: u64,
    to_controller: Carried,
    to_agent: Carried,
}

/// The controller's end of the line.
#[derive(Debug)]
pub enum ControllerEnd {
    /// A pseudo-terminal whose slave the Linux controller opens.
    Pty(Pty),
    /// A connected socket (QEMU's UART chardev).
    Socket(OwnedFd),
}

/// One serial line and its relay thread (stopped when dropped).
#[derive(Debug)]
pub struct SerialLine {
    node: String,
    agent_end: Pty,
    controller_end: ControllerEnd,
    state: Arc<Mutex<LineState>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn lock(state: &Mutex<LineState>) -> std::sync::MutexGuard<'_, LineState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Longest poll, so the stop flag is seen.
const TICK: Duration = Duration::from_millis(20);

impl SerialLine {
    /// A line for `node`, dead until [`SerialLine::set_powered`] says the
    /// server has power. `seed` drives corruption.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when a pseudo-terminal or the thread cannot be had.
    pub fn open(node: &str, controller_end: ControllerEnd, seed: u64) -> Result<Self, RigError> {
        let agent_end = Pty::open().map_err(RigError::io(format!("opening the pty of {node}'s serial line")))?;
        let state = Arc::new(Mutex::new(LineState {
            fault: LineFault::Clear,
            powered: false,
            epoch: 0,
            to_controller: Carried::default(),
            to_agent: Carried::default(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let agent_file = agent_end.master.try_clone().map_err(RigError::io(format!("{node}'s serial line")))?;
        let controller_file = match &controller_end {
            ControllerEnd::Pty(p) => p.master.try_clone(),
            ControllerEnd::Socket(s) => s.try_clone().map(File::from),
        }
        .map_err(RigError::io(format!("{node}'s serial line, controller end")))?;
        for f in [&agent_file, &controller_file] {
            fcntl(f.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
                .map_err(RigError::os(format!("{node}'s serial line: non-blocking")))?;
        }
        let relay = Relay {
            ends: [agent_file, controller_file],
            state: Arc::clone(&state),
            stop: Arc::clone(&stop),
            rng: Rng::new(seed),
            delayed: VecDeque::new(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("serial-{node}"))
            .spawn(move || relay.run())
            .map_err(RigError::io(format!("starting {node}'s serial line thread")))?;
        Ok(Self { node: node.to_owned(), agent_end, controller_end, state, stop, thread: Some(thread) })
    }

    /// The device the agent opens.
    #[must_use]
    pub fn agent_device(&self) -> &std::path::Path {
        self.agent_end.path()
    }

    /// The device the controller opens (`None` for a socket end).
    #[must_use]
    pub fn controller_device(&self) -> Option<&std::path::Path> {
        match &self.controller_end {
            ControllerEnd::Pty(p) => Some(p.path()),
            ControllerEnd::Socket(_) => None,
        }
    }

    /// Sets what the line does to its bytes.
    pub fn set_fault(&self, fault: LineFault) {
        lock(&self.state).fault = fault;
    }

    /// What the line does now.
    #[must_use]
    pub fn fault(&self) -> LineFault {
        lock(&self.state).fault
    }

    /// The server got or lost power. At power-on, what a dead server's
    /// UART may have had queued is thrown away.
    pub fn set_powered(&self, powered: bool) {
        let mut s = lock(&self.state);
        if s.powered != powered {
            s.powered = powered;
            s.epoch += 1;
        }
        if powered {
            let _ = tcflush(self.agent_end.slave().as_fd(), FlushArg::TCIOFLUSH);
        }
    }

    /// Throws away what the controller's end has queued (before a new
    /// controller opens it).
    pub fn flush_controller_end(&self) {
        if let ControllerEnd::Pty(p) = &self.controller_end {
            let _ = tcflush(p.slave().as_fd(), FlushArg::TCIOFLUSH);
        }
    }

    /// Bytes carried so far: (agent to controller, controller to agent).
    #[must_use]
    pub fn carried(&self) -> (Carried, Carried) {
        let s = lock(&self.state);
        (s.to_controller, s.to_agent)
    }

    /// The node.
    #[must_use]
    pub fn node(&self) -> &str {
        &self.node
    }
}

impl Drop for SerialLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The relay thread's own state.
struct Relay {
    /// `[agent, controller]`.
    ends: [File; 2],
    state: Arc<Mutex<LineState>>,
    stop: Arc<AtomicBool>,
    rng: Rng,
    /// Delayed bytes: when due, towards which end, of which epoch.
    delayed: VecDeque<(Instant, usize, u64, Vec<u8>)>,
}

impl Relay {
    fn run(mut self) {
        realtime::raise_rig_thread();
        let mut buf = [0u8; 4096];
        while !self.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            let wait = self.delayed.front().map_or(TICK, |(due, ..)| due.saturating_duration_since(now).min(TICK));
            let readable = {
                let mut fds = [
                    PollFd::new(self.ends[0].as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.ends[1].as_fd(), PollFlags::POLLIN),
                ];
                let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
                if poll(&mut fds, PollTimeout::from(ms)).is_err() {
                    continue;
                }
                let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| r.intersects(PollFlags::POLLIN));
                [ready(&fds[0]), ready(&fds[1])]
            };
            for (from, ready) in readable.into_iter().enumerate() {
                if !ready {
                    continue;
                }
                let Ok(n) = self.ends[from].read(&mut buf) else { continue };
                if n == 0 {
                    // A socket end closed (QEMU gone): nothing more to carry.
                    return;
                }
                self.carry(1 - from, &buf[..n]);
            }
            self.deliver_due();
        }
    }

    /// Bytes from one end towards end `to`, through the line's fault.
    fn carry(&mut self, to: usize, bytes: &[u8]) {
        let (fault, powered, epoch) = {
            let s = lock(&self.state);
            (s.fault, s.powered, s.epoch)
        };
        if !powered || fault == LineFault::Cut {
            self.count(to, |c| c.dropped = c.dropped.saturating_add(bytes.len() as u64));
            return;
        }
        if fault == LineFault::Clear {
            // The common case allocates nothing: a real-time thread that
            // asks the allocator can wait on a thread that is not.
            self.write(to, bytes);
            return;
        }
        let mut bytes = bytes.to_vec();
        if let LineFault::Corrupt(p) = fault {
            let mut flipped = 0u64;
            for b in &mut bytes {
                if self.rng.chance(p) {
                    *b ^= 1 << self.rng.range(0, 7);
                    flipped += 1;
                }
            }
            self.count(to, |c| c.corrupted = c.corrupted.saturating_add(flipped));
        }
        match fault {
            LineFault::Delay(d) => {
                self.count(to, |c| c.delayed = c.delayed.saturating_add(bytes.len() as u64));
                self.delayed.push_back((Instant::now() + d, to, epoch, bytes));
            }
            _ => self.write(to, &bytes),
        }
    }

    fn deliver_due(&mut self) {
        let now = Instant::now();
        while self.delayed.front().is_some_and(|(due, ..)| *due <= now) {
            let Some((_, to, epoch, bytes)) = self.delayed.pop_front() else { break };
            self.count(to, |c| c.delayed = c.delayed.saturating_sub(bytes.len() as u64));
            let current = lock(&self.state).epoch;
            if epoch == current {
                self.write(to, &bytes);
            } else {
                self.count(to, |c| c.dropped = c.dropped.saturating_add(bytes.len() as u64));
            }
        }
    }

    /// Writes what the far end takes now; the rest is dropped, as a UART
    /// whose receiver is not reading drops it.
    fn write(&mut self, to: usize, bytes: &[u8]) {
        let mut done = 0;
        while done < bytes.len() {
            match self.ends[to].write(&bytes[done..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => done += n,
            }
        }
        let dropped = (bytes.len() - done) as u64;
        self.count(to, |c| {
            c.delivered = c.delivered.saturating_add(done as u64);
            c.dropped = c.dropped.saturating_add(dropped);
        });
    }

    fn count(&self, to: usize, f: impl FnOnce(&mut Carried)) {
        let mut s = lock(&self.state);
        f(if to == 1 { &mut s.to_controller } else { &mut s.to_agent });
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::os::fd::AsRawFd as _;

    use super::*;

    /// The two program ends of a line: what the agent and the controller
    /// would open, as raw non-blocking descriptors.
    fn open_ends(line: &SerialLine) -> (File, File) {
        let open = |p: &std::path::Path| {
            let f = std::fs::OpenOptions::new().read(true).write(true).open(p).unwrap();
            fcntl(f.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
            f
        };
        (open(line.agent_device()), open(line.controller_device().unwrap()))
    }

    /// Reads what arrives at `end` until `want` bytes came (the bound only
    /// turns a hang into a failure).
    fn receive(end: &mut File, want: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < want && Instant::now() < deadline {
            let mut fds = [PollFd::new(end.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(100u16));
            let mut buf = [0u8; 256];
            if let Ok(n) = end.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        got
    }

    /// What is waiting at `end` now.
    fn waiting(end: &mut File) -> Vec<u8> {
        let mut buf = [0u8; 256];
        end.read(&mut buf).map(|n| buf[..n].to_vec()).unwrap_or_default()
    }

    /// Waits until the line's counters satisfy `done`.
    fn until(line: &SerialLine, what: &str, done: impl Fn(Carried, Carried) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !{
            let (up, down) = line.carried();
            done(up, down)
        } {
            assert!(Instant::now() < deadline, "never saw {what}: {:?}", line.carried());
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn line() -> SerialLine {
        let end = Pty::open().unwrap();
        SerialLine::open("alpha", ControllerEnd::Pty(end), 7).unwrap()
    }

    #[test]
    fn a_dead_or_cut_line_carries_nothing_a_clear_one_everything() {
        let line = line();
        let (mut agent, mut controller) = open_ends(&line);
        agent.write_all(b"dead").unwrap();
        until(&line, "the bytes of a dead line dropped", |up, _| up.dropped == 4);
        line.set_powered(true);
        line.set_fault(LineFault::Cut);
        agent.write_all(b"cut").unwrap();
        controller.write_all(b"cut").unwrap();
        until(&line, "the bytes of a cut line dropped", |up, down| up.dropped == 7 && down.dropped == 3);
        line.set_fault(LineFault::Clear);
        let frame: Vec<u8> = (0..=255).collect();
        agent.write_all(&frame).unwrap();
        assert_eq!(receive(&mut controller, frame.len()), frame, "a clear line changes nothing");
        controller.write_all(b"beat").unwrap();
        assert_eq!(receive(&mut agent, 4), b"beat");
        let (up, down) = line.carried();
        assert_eq!((up.delivered, down.delivered, up.corrupted), (256, 4, 0));
    }

    #[test]
    fn corruption_flips_one_bit_per_corrupted_byte() {
        let line = line();
        let (mut agent, mut controller) = open_ends(&line);
        line.set_powered(true);
        line.set_fault(LineFault::Corrupt(1.0));
        let sent = [0u8; 64];
        agent.write_all(&sent).unwrap();
        let got = receive(&mut controller, sent.len());
        assert_eq!(got.len(), sent.len());
        assert!(got.iter().all(|b| b.count_ones() == 1), "{got:?}");
        assert_eq!(line.carried().0.corrupted, 64);
    }

    #[test]
    fn a_delayed_line_keeps_order_and_a_power_loss_drops_what_was_in_flight() {
        let line = line();
        let (mut agent, mut controller) = open_ends(&line);
        line.set_powered(true);
        line.set_fault(LineFault::Delay(Duration::from_millis(30)));
        agent.write_all(b"first ").unwrap();
        agent.write_all(b"second").unwrap();
        assert_eq!(receive(&mut controller, 12), b"first second");
        // In flight when the power goes: dropped, never delivered.
        line.set_fault(LineFault::Delay(Duration::from_secs(1)));
        agent.write_all(b"in flight").unwrap();
        until(&line, "the bytes held back", |up, _| up.delayed == 9);
        line.set_powered(false);
        line.set_powered(true);
        until(&line, "the bytes in flight dropped", |up, _| up.dropped == 9);
        assert_eq!(waiting(&mut controller), b"", "bytes of the earlier power-on arrived");
        assert_eq!(line.carried().0.delivered, 12);
    }
}
