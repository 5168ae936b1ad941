//! The relays on a thread of their own, so that the main loop never waits
//! for them. A serial relay module answers a sense query in a round trip,
//! or not at all within its `answer_timeout` (200 ms by default, per
//! channel): done in the main loop, that wait keeps every link unread, and
//! a slow or unplugged module would make live nodes look late or dead.
//!
//! The main loop hands over jobs in order (switch, sense) and is woken
//! through a socket when one is done. Order is what the safety rules need:
//! a `Power` output becomes a job only after its fence record is durable
//! (the main loop writes it first), and a sense job queued after a switch
//! reads the relay after that switch.
//!
//! Between jobs the thread waits on the relays' own descriptor too: a relay
//! module that reports sense changes unasked (the watch extension) is heard
//! the moment a server loses power, not at the next round of queries.

use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;

use warden_bsp::{Channel, PowerError, PowerSwitch};
use warden_core::NodeId;

/// What the relay thread is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Switch `node`'s relay on `channel`.
    Set {
        /// The node.
        node: NodeId,
        /// Its relay.
        channel: Channel,
        /// On or off.
        on: bool,
    },
    /// Read `node`'s power on `channel`.
    Sense {
        /// The node.
        node: NodeId,
        /// Its relay.
        channel: Channel,
    },
}

/// Relays whose sense may change unasked.
pub trait SenseChanges {
    /// A descriptor that becomes readable when a change may have come
    /// (`None`: changes never come unasked).
    fn change_fd(&self) -> Option<OwnedFd>;
    /// Gives each change that came, without waiting.
    ///
    /// # Errors
    ///
    /// The relays' device failed.
    fn take_changes(&mut self, on_change: &mut dyn FnMut(Channel, bool)) -> Result<(), PowerError>;
}

/// A job carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// A switch, and whether the hardware took it.
    Set {
        /// The node.
        node: NodeId,
        /// On or off.
        on: bool,
        /// What the hardware said.
        result: Result<(), PowerError>,
    },
    /// A sense reading.
    Sense {
        /// The node.
        node: NodeId,
        /// The reading (`None`: the relay has no sense input).
        result: Result<Option<bool>, PowerError>,
    },
    /// A sense reading that came unasked: `channel` changed.
    Changed {
        /// The relay.
        channel: Channel,
        /// Its sense now.
        powered: bool,
    },
}

/// The relay thread, as the main loop sees it.
#[derive(Debug)]
pub struct RelayWorker {
    jobs: Option<Sender<Job>>,
    /// Wakes the thread for a job (and for its end).
    kick: UnixStream,
    done: Receiver<Done>,
    wake: UnixStream,
    thread: Option<JoinHandle<()>>,
    /// Sense jobs handed over and not yet reported done.
    senses: usize,
}

impl RelayWorker {
    /// Moves `relays` onto their own thread.
    ///
    /// # Errors
    ///
    /// The OS error when the wake-up socket or the thread cannot be had.
    pub fn start<R: PowerSwitch + SenseChanges + Send + 'static>(relays: R) -> std::io::Result<Self> {
        let (wake, poke) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        let (kick, kicked) = UnixStream::pair()?;
        kicked.set_nonblocking(true)?;
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (outbox, done) = mpsc::channel::<Done>();
        let thread = std::thread::Builder::new().name("relays".into()).spawn(move || {
            serve(relays, &inbox, &outbox, &kicked, poke);
        })?;
        Ok(Self { jobs: Some(jobs), kick, done, wake, thread: Some(thread), senses: 0 })
    }

    /// Hands `job` over; it is carried out after every job handed over before it.
    pub fn submit(&mut self, job: Job) {
        if self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok()) {
            let _ = (&self.kick).write(&[1]);
            if matches!(job, Job::Sense { .. }) {
                self.senses += 1;
            }
        }
    }

    /// Whether sense readings are still under way.
    #[must_use]
    pub fn sensing(&self) -> bool {
        self.senses > 0
    }

    /// What poll(2) should watch: readable when a job is done.
    #[must_use]
    pub fn poll_fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// The jobs done since the last call, in order.
    pub fn take_done(&mut self) -> Vec<Done> {
        let mut sink = [0u8; 64];
        while matches!((&self.wake).read(&mut sink), Ok(n) if n > 0) {}
        let mut out = Vec::new();
        loop {
            match self.done.try_recv() {
                Ok(d) => {
                    if matches!(d, Done::Sense { .. }) {
                        self.senses = self.senses.saturating_sub(1);
                    }
                    out.push(d);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return out,
            }
        }
    }
}

impl Drop for RelayWorker {
    fn drop(&mut self) {
        // The thread ends when its job queue closes, after the job under way.
        self.jobs = None;
        let _ = (&self.kick).write(&[1]);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The relay thread: jobs in order as they are handed over, and between
/// them whatever sense changes come unasked. Ends when the job queue closes
/// or the main loop is gone.
fn serve<R: PowerSwitch + SenseChanges>(
    mut relays: R,
    inbox: &Receiver<Job>,
    outbox: &Sender<Done>,
    mut kicked: &UnixStream,
    mut poke: UnixStream,
) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let changes = relays.change_fd();
    // Each result goes to the main loop as soon as it is there: a switch is
    // reported before a slow sense round queued behind it.
    let mut report = |done: Done| outbox.send(done).is_ok() && poke.write_all(&[1]).is_ok();
    loop {
        let mut worked = false;
        loop {
            let done = match inbox.try_recv() {
                Ok(Job::Set { node, channel, on }) => Done::Set { node, on, result: relays.set(channel, on) },
                Ok(Job::Sense { node, channel }) => Done::Sense { node, result: relays.sense(channel) },
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            };
            worked = true;
            if !report(done) {
                return;
            }
        }
        if changes.is_some() {
            let mut changed = Vec::new();
            // A device error here shows in the next sense job's answer.
            let _ = relays.take_changes(&mut |channel, powered| changed.push(Done::Changed { channel, powered }));
            worked |= !changed.is_empty();
            if !changed.into_iter().all(&mut report) {
                return;
            }
        }
        if worked {
            continue;
        }
        let mut fds = vec![PollFd::new(kicked.as_fd(), PollFlags::POLLIN)];
        if let Some(fd) = &changes {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(_) => return,
        }
        let mut sink = [0u8; 64];
        while matches!(kicked.read(&mut sink), Ok(n) if n > 0) {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

    use super::*;

    /// Relays that log every call and answer slowly while a gate is held.
    #[derive(Clone)]
    struct Slow {
        log: Arc<Mutex<Vec<String>>>,
        gate: Arc<Mutex<()>>,
    }

    impl PowerSwitch for Slow {
        fn set(&mut self, channel: Channel, on: bool) -> Result<(), PowerError> {
            self.log.lock().unwrap().push(format!("set {} {on}", channel.0));
            if channel.0 == 7 {
                return Err(PowerError::NoAnswer(channel));
            }
            Ok(())
        }

        fn sense(&mut self, channel: Channel) -> Result<Option<bool>, PowerError> {
            let _held = self.gate.lock().unwrap();
            self.log.lock().unwrap().push(format!("sense {}", channel.0));
            Ok(Some(channel.0 == 1))
        }
    }

    impl SenseChanges for Slow {
        fn change_fd(&self) -> Option<OwnedFd> {
            None
        }

        fn take_changes(&mut self, _: &mut dyn FnMut(Channel, bool)) -> Result<(), PowerError> {
            Ok(())
        }
    }

    fn wait_done(worker: &mut RelayWorker, n: usize) -> Vec<Done> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < n {
            assert!(Instant::now() < deadline, "only {got:?} done");
            let mut fds = [PollFd::new(worker.poll_fd(), PollFlags::POLLIN)];
            poll(&mut fds, PollTimeout::from(1000u16)).unwrap();
            got.extend(worker.take_done());
        }
        got
    }

    #[test]
    fn jobs_are_done_in_order_and_a_slow_relay_does_not_hold_the_caller() {
        let relays = Slow { log: Arc::default(), gate: Arc::default() };
        let (log, gate) = (Arc::clone(&relays.log), Arc::clone(&relays.gate));
        let mut worker = RelayWorker::start(relays).unwrap();
        let held = gate.lock().unwrap();
        worker.submit(Job::Sense { node: NodeId(0), channel: Channel(0) });
        worker.submit(Job::Set { node: NodeId(1), channel: Channel(1), on: false });
        worker.submit(Job::Sense { node: NodeId(1), channel: Channel(1) });
        worker.submit(Job::Set { node: NodeId(2), channel: Channel(7), on: true });
        // The relays are stuck in the first sense: the caller goes on.
        assert!(worker.sensing());
        assert!(worker.take_done().is_empty());
        drop(held);
        let done = wait_done(&mut worker, 4);
        assert_eq!(
            done,
            vec![
                Done::Sense { node: NodeId(0), result: Ok(Some(false)) },
                Done::Set { node: NodeId(1), on: false, result: Ok(()) },
                Done::Sense { node: NodeId(1), result: Ok(Some(true)) },
                Done::Set { node: NodeId(2), on: true, result: Err(PowerError::NoAnswer(Channel(7))) },
            ]
        );
        assert!(!worker.sensing());
        assert_eq!(*log.lock().unwrap(), ["sense 0", "set 1 false", "sense 1", "set 7 true"]);
    }

    #[test]
    fn a_switch_is_reported_while_a_sense_queued_behind_it_is_still_under_way() {
        let relays = Slow { log: Arc::default(), gate: Arc::default() };
        let gate = Arc::clone(&relays.gate);
        let mut worker = RelayWorker::start(relays).unwrap();
        let held = gate.lock().unwrap();
        worker.submit(Job::Set { node: NodeId(1), channel: Channel(1), on: false });
        worker.submit(Job::Sense { node: NodeId(0), channel: Channel(0) });
        // The sense waits on the gate; the switch before it is already told.
        assert_eq!(wait_done(&mut worker, 1), vec![Done::Set { node: NodeId(1), on: false, result: Ok(()) }]);
        assert!(worker.sensing());
        drop(held);
        assert_eq!(wait_done(&mut worker, 1), vec![Done::Sense { node: NodeId(0), result: Ok(Some(false)) }]);
    }

    /// Relays whose module reports a change per byte written to `line`.
    struct Reporting {
        line: UnixStream,
    }

    impl PowerSwitch for Reporting {
        fn set(&mut self, _: Channel, _: bool) -> Result<(), PowerError> {
            Ok(())
        }

        fn sense(&mut self, _: Channel) -> Result<Option<bool>, PowerError> {
            Ok(Some(true))
        }
    }

    impl SenseChanges for Reporting {
        fn change_fd(&self) -> Option<OwnedFd> {
            self.line.as_fd().try_clone_to_owned().ok()
        }

        fn take_changes(&mut self, on_change: &mut dyn FnMut(Channel, bool)) -> Result<(), PowerError> {
            let mut buf = [0u8; 8];
            while let Ok(n @ 1..) = (&self.line).read(&mut buf) {
                buf.iter().take(n).for_each(|b| on_change(Channel(*b), false));
            }
            Ok(())
        }
    }

    #[test]
    fn a_change_reported_unasked_reaches_the_main_loop_with_no_job_under_way() {
        let (line, mut board) = UnixStream::pair().unwrap();
        line.set_nonblocking(true).unwrap();
        let mut worker = RelayWorker::start(Reporting { line }).unwrap();
        board.write_all(&[3]).unwrap();
        assert_eq!(wait_done(&mut worker, 1), vec![Done::Changed { channel: Channel(3), powered: false }]);
        assert!(!worker.sensing(), "a change is no answer to a sense job");
        // Jobs still go through, and the thread ends when the worker is dropped.
        worker.submit(Job::Sense { node: NodeId(1), channel: Channel(1) });
        assert_eq!(wait_done(&mut worker, 1), vec![Done::Sense { node: NodeId(1), result: Ok(Some(true)) }]);
        drop(worker);
    }
}
