//! What happened during a run, in order, on the rig's clock: controller
//! console lines, relay switches, power, boots, addresses and mounts seen
//! by the detectors, the client's view. Anything can wait for an entry
//! (never a bare sleep), and a narrator can print entries as they come.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::controller::console::ConsoleEvent;
use crate::RigError;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happening {
    /// A controller console line, parsed.
    Controller(ConsoleEvent),
    /// The controller process started (`restart`: not its first start).
    ControllerStarted {
        /// Whether it was started before in this run.
        restart: bool,
    },
    /// The controller process was killed by the rig.
    ControllerKilled,
    /// The relay board switched a channel (a controller command).
    Relay {
        /// The server on that channel.
        node: String,
        /// Its new state.
        on: bool,
    },
    /// The rig cut or restored a server's own supply.
    Supply {
        /// The server.
        node: String,
        /// Whether it has supply now.
        on: bool,
    },
    /// A server lost power (relay or supply): everything of it is gone.
    PowerLost {
        /// The server.
        node: String,
    },
    /// A server got power; it boots after the boot delay.
    PowerOn {
        /// The server.
        node: String,
    },
    /// A server booted: network up, agent started.
    Booted {
        /// The server.
        node: String,
    },
    /// A fault the scenario injected.
    Fault {
        /// The server.
        node: String,
        /// What.
        what: String,
    },
    /// A group's service address appeared on (or left) a server.
    Address {
        /// The group.
        group: String,
        /// The server.
        node: String,
        /// Whether it is there now.
        present: bool,
    },
    /// A group's shared disk was mounted (or unmounted) in a server's
    /// namespace.
    Mount {
        /// The group.
        group: String,
        /// The server.
        node: String,
        /// Whether it is mounted now.
        present: bool,
    },
    /// The client got answers for a group from another server than before.
    Answering {
        /// The group.
        group: String,
        /// The server answering now.
        node: String,
    },
    /// QEMU reported an event on QMP (`RESET`, `WATCHDOG`, `STOP`, ...).
    Emulator(String),
    /// A safety detector fired.
    Violation(String),
    /// Free text from the rig.
    Note(String),
}

/// One entry: when, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Since the run's start.
    pub at: Duration,
    /// What happened.
    pub what: Happening,
}

impl Entry {
    /// A line for people.
    #[must_use]
    pub fn line(&self) -> String {
        format!("[{:>9.3} s] {}", self.at.as_secs_f64(), describe(&self.what))
    }
}

/// A happening in words.
#[must_use]
pub fn describe(what: &Happening) -> String {
    match what {
        Happening::Controller(e) => format!("controller: {}", e.text()),
        Happening::ControllerStarted { restart: false } => "controller started".to_owned(),
        Happening::ControllerStarted { restart: true } => "controller started again".to_owned(),
        Happening::ControllerKilled => "controller killed (SIGKILL)".to_owned(),
        Happening::Relay { node, on } => format!("relay board: {node}'s relay switched {}", on_off(*on)),
        Happening::Supply { node, on: false } => format!("rig: {node}'s own supply cut"),
        Happening::Supply { node, on: true } => format!("rig: {node}'s own supply restored"),
        Happening::PowerLost { node } => format!("{node}: power lost (processes killed, NIC down, disk cut)"),
        Happening::PowerOn { node } => format!("{node}: power on, booting"),
        Happening::Booted { node } => format!("{node}: booted, agent started"),
        Happening::Fault { node, what } => format!("rig: {what} on {node}"),
        Happening::Address { group, node, present: true } => format!("{node}: {group}'s service address configured"),
        Happening::Address { group, node, present: false } => format!("{node}: {group}'s service address gone"),
        Happening::Mount { group, node, present: true } => format!("{node}: {group}'s shared disk mounted"),
        Happening::Mount { group, node, present: false } => format!("{node}: {group}'s shared disk unmounted"),
        Happening::Answering { group, node } => format!("client: {group}'s answers come from {node}"),
        Happening::Emulator(e) => format!("qemu: {e}"),
        Happening::Violation(v) => format!("VIOLATION {v}"),
        Happening::Note(n) => n.clone(),
    }
}

const fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// Which entries a narrator prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Narration {
    /// None.
    Quiet,
    /// What a person following a failover wants to see, on stdout.
    Story,
    /// The same on stderr (stdout carries JSON).
    StoryOnStderr,
}

#[derive(Debug)]
struct Inner {
    entries: Vec<Entry>,
    narration: Narration,
}

/// The run's timeline, shared by every part of the rig.
#[derive(Debug, Clone)]
pub struct Timeline {
    epoch: Instant,
    inner: Arc<(Mutex<Inner>, Condvar)>,
}

/// An upper bound on a wait: a broken build fails instead of hanging.
pub const BOUND: Duration = Duration::from_secs(60);

impl Timeline {
    /// An empty timeline starting now.
    #[must_use]
    pub fn new(narration: Narration) -> Self {
        Self {
            epoch: Instant::now(),
            inner: Arc::new((Mutex::new(Inner { entries: Vec::new(), narration }), Condvar::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The time since the run started.
    #[must_use]
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// The instant of a time on this timeline.
    #[must_use]
    pub fn instant(&self, at: Duration) -> Instant {
        self.epoch + at
    }

    /// The time on this timeline of an instant.
    #[must_use]
    pub fn at(&self, instant: Instant) -> Duration {
        instant.saturating_duration_since(self.epoch)
    }

    /// Records a happening now.
    pub fn push(&self, what: Happening) -> Entry {
        self.push_at(self.now(), what)
    }

    /// Records a happening that was seen at `at`.
    pub fn push_at(&self, at: Duration, what: Happening) -> Entry {
        let entry = Entry { at, what };
        let mut inner = self.lock();
        if worth_telling(&entry.what) {
            match inner.narration {
                Narration::Quiet => {}
                Narration::Story => println!("{}", entry.line()),
                Narration::StoryOnStderr => eprintln!("{}", entry.line()),
            }
        }
        inner.entries.push(entry.clone());
        drop(inner);
        self.inner.1.notify_all();
        entry
    }

    /// Changes what is printed from now on.
    pub fn set_narration(&self, narration: Narration) {
        self.lock().narration = narration;
    }

    /// Every entry so far.
    #[must_use]
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().entries.clone()
    }

    /// Entries from `since` on.
    #[must_use]
    pub fn since(&self, since: Duration) -> Vec<Entry> {
        self.lock().entries.iter().filter(|e| e.at >= since).cloned().collect()
    }

    /// The first entry at or after `since` that `matches`, waiting for it
    /// up to `bound`; every `check` (of interruption, of processes that must
    /// stay alive) runs while waiting and ends the wait with its error.
    ///
    /// # Errors
    ///
    /// [`RigError::NeverSaw`] naming `what`, or `check`'s error.
    pub fn wait_for(
        &self,
        what: &str,
        since: Duration,
        bound: Duration,
        mut matches: impl FnMut(&Happening) -> bool,
        mut check: impl FnMut() -> Result<(), RigError>,
    ) -> Result<Entry, RigError> {
        let deadline = Instant::now() + bound;
        let mut inner = self.lock();
        let mut looked = 0;
        loop {
            let fresh = inner.entries.get(looked..).unwrap_or_default();
            if let Some(e) = fresh.iter().find(|e| e.at >= since && matches(&e.what)) {
                return Ok(e.clone());
            }
            looked = inner.entries.len();
            drop(inner);
            check()?;
            let now = Instant::now();
            if now >= deadline {
                return Err(RigError::NeverSaw { what: what.to_owned(), waited: bound, context: String::new() });
            }
            // Woken by the next entry; the short bound only lets `check` run.
            let guard = self.lock();
            inner = self
                .inner
                .1
                .wait_timeout(guard, (deadline - now).min(Duration::from_millis(100)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Whether a narrator prints this happening.
fn worth_telling(what: &Happening) -> bool {
    match what {
        Happening::Controller(e) => e.is_notable(),
        _ => true,
    }
}
