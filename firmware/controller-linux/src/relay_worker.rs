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

use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd, BorrowedFd};
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
}

/// The relay thread, as the main loop sees it.
#[derive(Debug)]
pub struct RelayWorker {
    jobs: Option<Sender<Job>>,
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
    pub fn start<R: PowerSwitch + Send + 'static>(mut relays: R) -> std::io::Result<Self> {
        let (wake, mut poke) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (outbox, done) = mpsc::channel::<Done>();
        let thread = std::thread::Builder::new().name("relays".into()).spawn(move || {
            while let Ok(job) = inbox.recv() {
                let finished = match job {
                    Job::Set { node, channel, on } => Done::Set { node, on, result: relays.set(channel, on) },
                    Job::Sense { node, channel } => Done::Sense { node, result: relays.sense(channel) },
                };
                if outbox.send(finished).is_err() || poke.write_all(&[1]).is_err() {
                    return;
                }
            }
        })?;
        Ok(Self { jobs: Some(jobs), done, wake, thread: Some(thread), senses: 0 })
    }

    /// Hands `job` over; it is carried out after every job handed over before it.
    pub fn submit(&mut self, job: Job) {
        if self.jobs.as_ref().is_some_and(|j| j.send(job).is_ok()) && matches!(job, Job::Sense { .. }) {
            self.senses += 1;
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
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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
}
