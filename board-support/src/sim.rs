//! In-memory, deterministic implementations for the whole-cluster
//! simulator. Every one is a cheap handle (`Clone` shares the state) so the
//! simulator keeps one end and gives the other to the code under test;
//! nothing reads the OS clock or a random source. Faults are set by hand.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use warden_core::controller::FenceRecord;
use warden_core::{Duration, Instant, MAX_NODES};

use crate::clock::Clock;
use crate::fence::{apply, Corruption, FenceStore, FenceStoreError, Fences};
use crate::link::{Link, LinkError};
use crate::power::{Channel, PowerError, PowerSwitch};
use crate::watchdog::{Watchdog, WatchdogError};

/// Virtual time, moved only by the simulator.
#[derive(Debug, Clone, Default)]
pub struct SimClock(Rc<Cell<Instant>>);

impl SimClock {
    /// A clock at `start`.
    #[must_use]
    pub fn new(start: Instant) -> Self {
        Self(Rc::new(Cell::new(start)))
    }

    /// Moves time on by `d`.
    pub fn advance(&self, d: Duration) {
        self.0.set(self.0.get().saturating_add(d));
    }

    /// Moves time to `at`; an instant in the past is ignored (the clock never
    /// goes back).
    pub fn set(&self, at: Instant) {
        self.0.set(self.0.get().max(at));
    }
}

impl Clock for SimClock {
    fn now(&self) -> Instant {
        self.0.get()
    }
}

/// A watchdog on virtual time: [`SimWatchdog::fired`] says whether a reset
/// would have happened by now.
#[derive(Debug, Clone)]
pub struct SimWatchdog {
    clock: SimClock,
    state: Rc<Cell<Option<(Duration, Instant)>>>,
    feeds: Rc<Cell<u32>>,
}

impl SimWatchdog {
    /// A watchdog reading `clock`, not yet started.
    #[must_use]
    pub fn new(clock: SimClock) -> Self {
        Self { clock, state: Rc::default(), feeds: Rc::default() }
    }

    /// Whether the countdown ran out (the board would have reset).
    #[must_use]
    pub fn fired(&self) -> bool {
        self.state.get().is_some_and(|(timeout, fed)| self.clock.now() > fed.saturating_add(timeout))
    }

    /// Feeds so far (a start counts as one).
    #[must_use]
    pub fn feeds(&self) -> u32 {
        self.feeds.get()
    }
}

impl Watchdog for SimWatchdog {
    fn start(&mut self, timeout: Duration) -> Result<Duration, WatchdogError> {
        if timeout == Duration::ZERO {
            return Err(WatchdogError::UnsupportedTimeout { requested: timeout });
        }
        self.state.set(Some((timeout, self.clock.now())));
        self.feeds.set(self.feeds.get().saturating_add(1));
        Ok(timeout)
    }

    fn feed(&mut self) -> Result<(), WatchdogError> {
        let (timeout, _) = self.state.get().ok_or(WatchdogError::NotStarted)?;
        self.state.set(Some((timeout, self.clock.now())));
        self.feeds.set(self.feeds.get().saturating_add(1));
        Ok(())
    }
}

/// How a simulated channel's sense input misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SenseFault {
    /// The sense follows the relay.
    #[default]
    None,
    /// The sense reads this whatever the relay does (a welded relay, a
    /// shorted sense wire).
    Stuck(bool),
    /// The channel has no sense input.
    Absent,
    /// The sense source does not answer.
    Silent,
}

#[derive(Debug, Default)]
struct PowerState {
    relays: Vec<bool>,
    faults: Vec<SenseFault>,
    refuse_sets: u32,
    log: Vec<(Channel, bool)>,
}

/// A bank of relays whose sense follows the relay unless a
/// [`SenseFault`] is set. Every accepted `set` is logged.
#[derive(Debug, Clone, Default)]
pub struct SimPowerSwitch(Rc<RefCell<PowerState>>);

impl SimPowerSwitch {
    /// `relays.len()` channels, relays as given.
    #[must_use]
    pub fn new(relays: &[bool]) -> Self {
        Self(Rc::new(RefCell::new(PowerState {
            relays: relays.to_vec(),
            faults: vec![SenseFault::None; relays.len()],
            ..PowerState::default()
        })))
    }

    /// The relay of `channel`.
    #[must_use]
    pub fn relay(&self, channel: Channel) -> Option<bool> {
        self.0.borrow().relays.get(usize::from(channel.0)).copied()
    }

    /// Sets `channel`'s sense fault; `false` beyond the bank.
    pub fn set_fault(&self, channel: Channel, fault: SenseFault) -> bool {
        self.0.borrow_mut().faults.get_mut(usize::from(channel.0)).map(|f| *f = fault).is_some()
    }

    /// Makes the next `n` `set` calls fail with a device error (nothing switched).
    pub fn refuse_sets(&self, n: u32) {
        self.0.borrow_mut().refuse_sets = n;
    }

    /// Every `set` carried out, in order.
    #[must_use]
    pub fn log(&self) -> Vec<(Channel, bool)> {
        self.0.borrow().log.clone()
    }
}

impl PowerSwitch for SimPowerSwitch {
    fn set(&mut self, channel: Channel, on: bool) -> Result<(), PowerError> {
        let mut state = self.0.borrow_mut();
        if usize::from(channel.0) >= state.relays.len() {
            return Err(PowerError::NoSuchChannel(channel));
        }
        if state.refuse_sets > 0 {
            state.refuse_sets -= 1;
            return Err(PowerError::Device { channel, code: 0 });
        }
        if let Some(relay) = state.relays.get_mut(usize::from(channel.0)) {
            *relay = on;
        }
        state.log.push((channel, on));
        Ok(())
    }

    fn sense(&mut self, channel: Channel) -> Result<Option<bool>, PowerError> {
        let state = self.0.borrow();
        let i = usize::from(channel.0);
        let relay = *state.relays.get(i).ok_or(PowerError::NoSuchChannel(channel))?;
        match state.faults.get(i).copied().unwrap_or_default() {
            SenseFault::None => Ok(Some(relay)),
            SenseFault::Stuck(reading) => Ok(Some(reading)),
            SenseFault::Absent => Ok(None),
            SenseFault::Silent => Err(PowerError::NoAnswer(channel)),
        }
    }
}

#[derive(Debug, Default)]
struct Wire {
    bytes: VecDeque<u8>,
    cut: bool,
}

/// One end of an in-memory byte link. Bytes written on one end are read,
/// in order and without loss, on the other, unless the link is cut (then
/// writes fail with [`LinkError::Disconnected`] and the bytes are lost).
#[derive(Debug, Clone)]
pub struct SimLink {
    inbound: Rc<RefCell<Wire>>,
    outbound: Rc<RefCell<Wire>>,
}

/// Two connected ends.
#[must_use]
pub fn link_pair() -> (SimLink, SimLink) {
    let a = Rc::new(RefCell::new(Wire::default()));
    let b = Rc::new(RefCell::new(Wire::default()));
    (SimLink { inbound: a.clone(), outbound: b.clone() }, SimLink { inbound: b, outbound: a })
}

impl SimLink {
    /// Cuts (or mends) the link in both directions; cutting drops what is
    /// in flight.
    pub fn set_cut(&self, cut: bool) {
        for wire in [&self.inbound, &self.outbound] {
            let mut w = wire.borrow_mut();
            w.cut = cut;
            if cut {
                w.bytes.clear();
            }
        }
    }

    /// Bytes waiting to be read on this end.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.inbound.borrow().bytes.len()
    }
}

impl Link for SimLink {
    fn read_available(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
        let mut wire = self.inbound.borrow_mut();
        if wire.cut {
            return Err(LinkError::Disconnected);
        }
        let mut n = 0;
        for slot in buf.iter_mut() {
            let Some(b) = wire.bytes.pop_front() else { break };
            *slot = b;
            n += 1;
        }
        Ok(n)
    }

    fn write_frame(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        let mut wire = self.outbound.borrow_mut();
        if wire.cut {
            return Err(LinkError::Disconnected);
        }
        wire.bytes.extend(frame.iter().copied());
        Ok(())
    }
}

#[derive(Debug, Default)]
struct StoreState {
    fences: Fences,
    corrupt: Option<Corruption>,
    refuse_stores: u32,
    log: Vec<FenceRecord>,
}

/// Fence records in memory that outlive the controller using them (clone
/// the handle before a simulated reboot).
#[derive(Debug, Clone, Default)]
pub struct SimFenceStore(Rc<RefCell<StoreState>>);

impl SimFenceStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the stored content untrustworthy (or trustworthy again).
    pub fn corrupt(&self, corruption: Option<Corruption>) {
        self.0.borrow_mut().corrupt = corruption;
    }

    /// Makes the next `n` stores fail (nothing stored).
    pub fn refuse_stores(&self, n: u32) {
        self.0.borrow_mut().refuse_stores = n;
    }

    /// What is stored now.
    #[must_use]
    pub fn fences(&self) -> Fences {
        self.0.borrow().fences
    }

    /// Every record stored, in order.
    #[must_use]
    pub fn log(&self) -> Vec<FenceRecord> {
        self.0.borrow().log.clone()
    }
}

impl FenceStore for SimFenceStore {
    fn load(&mut self) -> Result<Fences, FenceStoreError> {
        let state = self.0.borrow();
        match state.corrupt {
            Some(c) => Err(FenceStoreError::Corrupt(c)),
            None => Ok(state.fences),
        }
    }

    fn store(&mut self, record: FenceRecord) -> Result<(), FenceStoreError> {
        let mut state = self.0.borrow_mut();
        if let Some(c) = state.corrupt {
            return Err(FenceStoreError::Corrupt(c));
        }
        if usize::from(record.node.0) >= MAX_NODES {
            return Err(FenceStoreError::NoSuchNode(record.node));
        }
        if state.refuse_stores > 0 {
            state.refuse_stores -= 1;
            return Err(FenceStoreError::Device { code: 0 });
        }
        state.fences = apply(state.fences, record)?;
        state.log.push(record);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use warden_core::NodeId;

    use super::*;

    #[test]
    fn watchdog_fires_only_when_not_fed_in_time() {
        let clock = SimClock::new(Instant(0));
        let mut dog = SimWatchdog::new(clock.clone());
        assert_eq!(dog.feed(), Err(WatchdogError::NotStarted));
        dog.start(Duration(100)).unwrap();
        clock.advance(Duration(100));
        assert!(!dog.fired());
        dog.feed().unwrap();
        clock.advance(Duration(101));
        assert!(dog.fired());
        clock.set(Instant(5));
        assert_eq!(clock.now(), Instant(201), "the clock never goes back");
    }

    #[test]
    fn power_switch_faults() {
        let mut power = SimPowerSwitch::new(&[true, true]);
        let handle = power.clone();
        power.set(Channel(0), false).unwrap();
        assert_eq!(power.sense(Channel(0)), Ok(Some(false)));
        handle.set_fault(Channel(1), SenseFault::Stuck(true));
        power.set(Channel(1), false).unwrap();
        assert_eq!(power.sense(Channel(1)), Ok(Some(true)));
        handle.set_fault(Channel(1), SenseFault::Silent);
        assert_eq!(power.sense(Channel(1)), Err(PowerError::NoAnswer(Channel(1))));
        handle.refuse_sets(1);
        assert_eq!(power.set(Channel(0), true), Err(PowerError::Device { channel: Channel(0), code: 0 }));
        assert_eq!(handle.relay(Channel(0)), Some(false));
        assert_eq!(power.set(Channel(2), true), Err(PowerError::NoSuchChannel(Channel(2))));
        assert_eq!(handle.log(), vec![(Channel(0), false), (Channel(1), false)]);
    }

    #[test]
    fn links_carry_bytes_in_order_until_cut() {
        let (mut a, mut b) = link_pair();
        a.write_frame(b"abc").unwrap();
        a.write_frame(b"de").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(b.read_available(&mut buf), Ok(4));
        assert_eq!(&buf, b"abcd");
        assert_eq!(b.read_available(&mut buf), Ok(1));
        assert_eq!(b.read_available(&mut buf), Ok(0));
        b.set_cut(true);
        assert_eq!(a.write_frame(b"x"), Err(LinkError::Disconnected));
        b.set_cut(false);
        assert_eq!(b.read_available(&mut buf), Ok(0), "nothing written while cut arrives");
    }

    #[test]
    fn fence_store_outlives_its_user_and_refuses_when_corrupt() {
        let store = SimFenceStore::new();
        let mut user = store.clone();
        user.store(FenceRecord { node: NodeId(2), fenced: true }).unwrap();
        drop(user);
        let mut rebooted = store.clone();
        assert!(rebooted.load().unwrap()[2]);
        store.corrupt(Some(Corruption::Checksum));
        assert_eq!(rebooted.load(), Err(FenceStoreError::Corrupt(Corruption::Checksum)));
        store.corrupt(None);
        store.refuse_stores(1);
        assert!(rebooted.store(FenceRecord { node: NodeId(2), fenced: false }).is_err());
        assert!(store.fences()[2], "a refused store changes nothing");
        assert_eq!(
            rebooted.store(FenceRecord { node: NodeId(9), fenced: true }),
            Err(FenceStoreError::NoSuchNode(NodeId(9)))
        );
    }
}
