//! The client probe: from the client's namespace, a fresh TCP request
//! (`ping`) to the service address every interval, many in flight at once
//! so that a request lost to a dead server never delays the next. Every
//! answer is timed; a stretch without answers longer than [`Probe::gap_min`]
//! is a gap: the outage as the client sees it, from the last answer before
//! to the first answer after.

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrStorage};

use super::timeline::{Happening, Timeline};
use crate::host::netns;
use crate::RigError;

/// How long one request may take before it counts as failed.
const ATTEMPT_DEADLINE: Duration = Duration::from_millis(1000);

/// A stretch without answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The last answer before it.
    pub from: Duration,
    /// The first answer after it.
    pub to: Duration,
    /// Who answered before.
    pub before: String,
    /// Who answered after.
    pub after: String,
}

impl Gap {
    /// How long the client went without answers.
    #[must_use]
    pub fn length(&self) -> Duration {
        self.to.saturating_sub(self.from)
    }
}

/// What the probe has seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeLog {
    /// Requests answered.
    pub answered: u64,
    /// Requests that failed or timed out.
    pub failed: u64,
    /// The last answer: when, and from which server.
    pub last: Option<(Duration, String)>,
    /// Gaps, in order.
    pub gaps: Vec<Gap>,
}

impl ProbeLog {
    /// The first gap after `at` that ends with an answer from `server`: the
    /// client's view of a failover to it.
    #[must_use]
    pub fn handover(&self, at: Duration, server: &str) -> Option<&Gap> {
        self.gaps.iter().find(|g| g.to >= at && g.after == server && g.before != server)
    }
}

/// The probe's thread (stopped when dropped).
#[derive(Debug)]
pub struct Probe {
    log: Arc<Mutex<ProbeLog>>,
    gap_min: Duration,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Probe {
    /// Starts probing group `group`'s service at `target` from the
    /// namespace at `netns` every `interval`.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when the thread cannot be started.
    pub fn start(
        netns: PathBuf,
        group: String,
        target: SocketAddr,
        interval: Duration,
        timeline: Timeline,
    ) -> Result<Self, RigError> {
        let log = Arc::new(Mutex::new(ProbeLog::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let gap_min = Self::gap_min_for(interval);
        let (shared, flag) = (Arc::clone(&log), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name(format!("probe-{group}"))
            .spawn(move || {
                if let Err(e) = netns::enter_path(&netns) {
                    timeline.push(Happening::Violation(format!("rig: the client probe cannot run: {e}")));
                    return;
                }
                Prober { group, target, interval, gap_min, timeline, log: shared, attempts: Vec::new() }.run(&flag);
            })
            .map_err(RigError::io("starting the client probe"))?;
        Ok(Self { log, gap_min, stop, thread: Some(thread) })
    }

    /// The shortest stretch without answers that counts as a gap.
    #[must_use]
    pub fn gap_min_for(interval: Duration) -> Duration {
        (interval * 4).max(Duration::from_millis(20))
    }

    /// The shortest stretch without answers that counts as a gap.
    #[must_use]
    pub fn gap_min(&self) -> Duration {
        self.gap_min
    }

    /// What it has seen so far.
    #[must_use]
    pub fn log(&self) -> ProbeLog {
        lock(&self.log).clone()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock(log: &Mutex<ProbeLog>) -> MutexGuard<'_, ProbeLog> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One request in flight.
struct Attempt {
    fd: OwnedFd,
    deadline: Instant,
    connected: bool,
    answer: Vec<u8>,
}

enum Outcome {
    Pending,
    Answered(String),
    Failed,
}

struct Prober {
    group: String,
    target: SocketAddr,
    interval: Duration,
    gap_min: Duration,
    timeline: Timeline,
    log: Arc<Mutex<ProbeLog>>,
    attempts: Vec<Attempt>,
}

impl Prober {
    fn run(&mut self, stop: &AtomicBool) {
        let mut next = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= next {
                match self.connect(now) {
                    Some(a) => self.attempts.push(a),
                    None => lock(&self.log).failed += 1,
                }
                next += self.interval;
                if next < now {
                    next = now + self.interval;
                }
            }
            let until = self.attempts.iter().map(|a| a.deadline).min().map_or(next, |d| d.min(next));
            let wait = until.saturating_duration_since(Instant::now());
            let outcomes = self.wait(wait);
            let now = Instant::now();
            let mut kept = Vec::with_capacity(self.attempts.len());
            for (attempt, outcome) in std::mem::take(&mut self.attempts).into_iter().zip(outcomes) {
                match outcome {
                    Outcome::Answered(server) => self.answered(server),
                    Outcome::Failed => lock(&self.log).failed += 1,
                    Outcome::Pending if now >= attempt.deadline => lock(&self.log).failed += 1,
                    Outcome::Pending => kept.push(attempt),
                }
            }
            self.attempts = kept;
        }
    }

    /// Starts a non-blocking connect (closed with a reset, so no
    /// TIME_WAIT piles up over a long soak).
    fn connect(&self, now: Instant) -> Option<Attempt> {
        let family = if self.target.is_ipv6() { AddressFamily::Inet6 } else { AddressFamily::Inet };
        let fd =
            socket::socket(family, SockType::Stream, SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC, None).ok()?;
        let linger = nix::libc::linger { l_onoff: 1, l_linger: 0 };
        socket::setsockopt(&fd, sockopt::Linger, &linger).ok()?;
        match socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(self.target)) {
            Ok(()) | Err(Errno::EINPROGRESS) => {
                Some(Attempt { fd, deadline: now + ATTEMPT_DEADLINE, connected: false, answer: Vec::new() })
            }
            Err(_) => None,
        }
    }

    /// Waits up to `wait` for any attempt to move; returns each one's outcome.
    fn wait(&mut self, wait: Duration) -> Vec<Outcome> {
        let revents: Vec<PollFlags> = {
            let mut fds: Vec<PollFd<'_>> = self
                .attempts
                .iter()
                .map(|a| PollFd::new(a.fd.as_fd(), if a.connected { PollFlags::POLLIN } else { PollFlags::POLLOUT }))
                .collect();
            let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
            if fds.is_empty() {
                std::thread::sleep(wait);
            } else if poll(&mut fds, PollTimeout::from(ms)).is_err() {
                return self.attempts.iter().map(|_| Outcome::Pending).collect();
            }
            fds.iter().map(|f| f.revents().unwrap_or(PollFlags::empty())).collect()
        };
        self.attempts.iter_mut().zip(revents).map(|(a, r)| step(a, r)).collect()
    }

    fn answered(&mut self, server: String) {
        let at = self.timeline.now();
        let mut log = lock(&self.log);
        log.answered += 1;
        let changed = match log.last.clone() {
            Some((last, before)) => {
                if at.saturating_sub(last) > self.gap_min || before != server {
                    let gap = Gap { from: last, to: at, before: before.clone(), after: server.clone() };
                    log.gaps.push(gap);
                }
                before != server
            }
            None => true,
        };
        log.last = Some((at, server.clone()));
        drop(log);
        if changed {
            self.timeline.push_at(at, Happening::Answering { group: self.group.clone(), node: server });
        }
    }
}

/// Moves one attempt on after poll said `revents`.
fn step(a: &mut Attempt, revents: PollFlags) -> Outcome {
    if revents.is_empty() {
        return Outcome::Pending;
    }
    if !a.connected {
        if !matches!(socket::getsockopt(&a.fd, sockopt::SocketError), Ok(0)) {
            return Outcome::Failed;
        }
        a.connected = true;
        return match nix::unistd::write(&a.fd, b"ping\n") {
            Ok(5) => Outcome::Pending,
            _ => Outcome::Failed,
        };
    }
    let mut buf = [0u8; 128];
    match nix::unistd::read(a.fd.as_raw_fd(), &mut buf) {
        Ok(0) | Err(_) => Outcome::Failed,
        Ok(n) => {
            a.answer.extend_from_slice(&buf[..n]);
            if a.answer.len() > 128 {
                return Outcome::Failed;
            }
            let text = String::from_utf8_lossy(&a.answer);
            match text.split_once('\n') {
                None => Outcome::Pending,
                Some((line, _)) => match line.strip_prefix("pong ") {
                    Some(server) => Outcome::Answered(server.trim().to_owned()),
                    None => Outcome::Failed,
                },
            }
        }
    }
}
