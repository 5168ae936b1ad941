//! The servers and their power. A server has power when its relay (the
//! controller's, on the relay board) is on **and** its own supply (the
//! rig's, for power-loss scenarios) is on.
//!
//! * Power off is carried out at once and completely ([`Server::power_off`])
//!   by whoever switched it, before the switch returns: nobody can read
//!   the power as off while anything of the server still runs.
//! * Power on is read as on at once; the server boots after the boot delay
//!   on the rack's own boot thread, so that a slow boot never holds up the
//!   relay board's answers.
//! * Reading a server's power never waits for anything.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::server::Server;
use crate::watch::timeline::{Happening, Timeline};
use crate::RigError;

/// The power inputs of one server.
#[derive(Debug)]
struct Power {
    /// What the relay board commands (the coil).
    relay: bool,
    /// The contacts are welded shut: power flows whatever the coil says.
    welded: bool,
    supply: bool,
    /// Bumped at every power change: a boot planned under an earlier
    /// generation is dropped.
    generation: u64,
    /// When to boot, and for which generation.
    boot_at: Option<(Instant, u64)>,
}

#[derive(Debug)]
struct Slot {
    name: String,
    /// Held through a whole power change, so changes of one server never overlap.
    transition: Mutex<()>,
    power: Mutex<Power>,
    powered: AtomicBool,
    server: Mutex<Server>,
}

/// Every server and its power.
#[derive(Debug)]
pub struct Rack {
    slots: Vec<Slot>,
    timeline: Timeline,
    boot_delay: Duration,
    /// Wakes the boot thread when a boot is planned or the rack stops.
    wake: Condvar,
    /// Guards nothing but the boot thread's wait (and the stop flag).
    waiting: Mutex<bool>,
    /// Poked (one byte each) whenever a server's power changes: what a
    /// relay board's sense inputs see at once.
    watchers: Mutex<Vec<std::os::unix::net::UnixStream>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The boot thread (stopped when dropped).
#[derive(Debug)]
pub struct BootThread {
    rack: Arc<Rack>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for BootThread {
    fn drop(&mut self) {
        *lock(&self.rack.waiting) = true;
        self.rack.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Rack {
    /// The servers, relays on, supplies on, not yet powered:
    /// [`Rack::power_up`] applies the power.
    #[must_use]
    pub fn new(servers: Vec<Server>, timeline: Timeline, boot_delay: Duration) -> Self {
        let slots = servers
            .into_iter()
            .map(|server| Slot {
                name: server.name.clone(),
                transition: Mutex::new(()),
                power: Mutex::new(Power { relay: true, welded: false, supply: true, generation: 0, boot_at: None }),
                powered: AtomicBool::new(false),
                server: Mutex::new(server),
            })
            .collect();
        Self {
            slots,
            timeline,
            boot_delay,
            wake: Condvar::new(),
            waiting: Mutex::new(false),
            watchers: Mutex::new(Vec::new()),
        }
    }

    /// Starts the thread that boots servers when their boot delay is over.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when the thread cannot be started.
    pub fn start_boots(self: &Arc<Self>) -> Result<BootThread, RigError> {
        let rack = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("boots".into())
            .spawn(move || rack.boot_loop())
            .map_err(RigError::io("starting the boot thread"))?;
        Ok(BootThread { rack: Arc::clone(self), thread: Some(thread) })
    }

    fn boot_loop(&self) {
        loop {
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            for slot in &self.slots {
                let due = {
                    let mut power = lock(&slot.power);
                    match power.boot_at {
                        Some((at, generation)) if at <= now => {
                            power.boot_at = None;
                            Some(generation)
                        }
                        Some((at, _)) => {
                            next = Some(next.map_or(at, |n| n.min(at)));
                            None
                        }
                        None => None,
                    }
                };
                if let Some(generation) = due {
                    self.boot(slot, generation);
                }
            }
            let stop = lock(&self.waiting);
            if *stop {
                return;
            }
            let wait = next.map_or(Duration::from_secs(3600), |n| n.saturating_duration_since(Instant::now()));
            let (stop, _) = self.wake.wait_timeout(stop, wait).unwrap_or_else(PoisonError::into_inner);
            if *stop {
                return;
            }
        }
    }

    /// Boots `slot`'s server, unless its power changed since the boot was
    /// planned (checked under the server's lock, which a power-off takes too).
    fn boot(&self, slot: &Slot, generation: u64) {
        let mut server = lock(&slot.server);
        if lock(&slot.power).generation != generation || !slot.powered.load(Ordering::SeqCst) {
            return;
        }
        match server.boot() {
            Ok(()) => self.timeline.push(Happening::Booted { node: slot.name.clone() }),
            Err(e) => self.timeline.push(Happening::Violation(format!("rig: {} did not boot: {e}", slot.name))),
        };
    }

    /// Powers every server whose relay and supply are on.
    pub fn power_up(&self) {
        for i in 0..self.slots.len() {
            self.apply(i, |_| {});
        }
    }

    /// The relay board switched server `index`'s relay.
    pub fn set_relay(&self, index: usize, on: bool) {
        if let Some(slot) = self.slots.get(index) {
            self.timeline.push(Happening::Relay { node: slot.name.clone(), on });
        }
        self.apply(index, |p| p.relay = on);
    }

    /// The rig welds server `index`'s relay contacts shut (a relay that
    /// switches off and never opens: the sense keeps reading power), or
    /// mends them (they follow the coil again).
    pub fn set_welded(&self, index: usize, welded: bool) {
        self.apply(index, |p| p.welded = welded);
    }

    /// The rig cuts or restores server `index`'s own supply.
    pub fn set_supply(&self, index: usize, on: bool) {
        self.apply(index, |p| p.supply = on);
    }

    /// A socket that becomes readable each time a server's power changes
    /// (a byte per change; the reader drains it and reads [`Rack::powered`]).
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when the socket pair cannot be had.
    pub fn watch_power(&self) -> Result<std::os::unix::net::UnixStream, RigError> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(RigError::io("a power watch socket"))?;
        ours.set_nonblocking(true).map_err(RigError::io("a power watch socket"))?;
        theirs.set_nonblocking(true).map_err(RigError::io("a power watch socket"))?;
        lock(&self.watchers).push(ours);
        Ok(theirs)
    }

    fn tell_watchers(&self) {
        use std::io::Write as _;
        // A full socket already has a wake-up pending: nothing is lost.
        for w in lock(&self.watchers).iter_mut() {
            let _ = w.write(&[1]);
        }
    }

    /// Whether server `index` has power (what its sense input reads).
    #[must_use]
    pub fn powered(&self, index: usize) -> bool {
        self.slots.get(index).is_some_and(|s| s.powered.load(Ordering::SeqCst))
    }

    /// Whether server `index`'s relay is on.
    #[must_use]
    pub fn relay(&self, index: usize) -> bool {
        self.slots.get(index).is_some_and(|s| lock(&s.power).relay)
    }

    /// Runs `f` on server `index`.
    pub fn with_server<R>(&self, index: usize, f: impl FnOnce(&mut Server) -> R) -> Option<R> {
        self.slots.get(index).map(|s| f(&mut lock(&s.server)))
    }

    /// The number of servers.
    #[must_use]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no servers.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Powers every server off (the end of a run).
    pub fn power_down(&self) {
        for i in 0..self.slots.len() {
            self.set_supply(i, false);
        }
    }

    /// Changes server `index`'s power inputs with `change`, then carries
    /// out what follows.
    fn apply(&self, index: usize, change: impl FnOnce(&mut Power)) {
        let Some(slot) = self.slots.get(index) else { return };
        let _transition = lock(&slot.transition);
        let mut power = lock(&slot.power);
        let supply_before = power.supply;
        change(&mut power);
        if power.supply != supply_before {
            self.timeline.push(Happening::Supply { node: slot.name.clone(), on: power.supply });
        }
        let want = (power.relay || power.welded) && power.supply;
        if want == slot.powered.load(Ordering::SeqCst) {
            return;
        }
        power.generation += 1;
        if want {
            slot.powered.store(true, Ordering::SeqCst);
            power.boot_at = Some((Instant::now() + self.boot_delay, power.generation));
            drop(power);
            self.tell_watchers();
            self.timeline.push(Happening::PowerOn { node: slot.name.clone() });
            let _stop = lock(&self.waiting);
            self.wake.notify_all();
        } else {
            power.boot_at = None;
            drop(power);
            // Read as off only once everything of it is gone.
            let result = lock(&slot.server).power_off();
            slot.powered.store(false, Ordering::SeqCst);
            self.tell_watchers();
            match result {
                Ok(_) => self.timeline.push(Happening::PowerLost { node: slot.name.clone() }),
                Err(e) => self.timeline.push(Happening::Violation(format!("rig: {e}"))),
            };
        }
    }
}
