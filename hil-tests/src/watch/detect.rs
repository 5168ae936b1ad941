//! The safety detectors: one thread samples every server, every interval,
//! for the service address (a route-netlink dump in the server's network
//! namespace) and for the shared disk (the server's mount namespace, read
//! through `/proc/<keeper>/mountinfo`). Both servers' samples are taken
//! back to back in one round: two servers that hold the address, or the
//! mount, in the same round is a violation, recorded with how long it
//! lasted. Changes go to the timeline, so takeovers are timed by what the
//! servers really did.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::unistd::Pid;

use super::timeline::{Happening, Timeline};
use crate::hardware::disk::Disk;
use crate::host::netlink::AddressDump;
use crate::host::netns;
use crate::RigError;

/// A server to watch.
#[derive(Debug, Clone)]
pub struct Watched {
    /// Its name.
    pub node: String,
    /// Its network namespace.
    pub netns: std::path::PathBuf,
    /// Its keeper's pid (0 while off).
    pub anchor: Arc<AtomicI32>,
}

/// Two servers or more holding one thing at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// What: `address` or `mount`.
    pub what: &'static str,
    /// Who held it.
    pub nodes: Vec<String>,
    /// When it was first seen.
    pub at: Duration,
    /// How long it was seen for (zero: one round).
    pub lasted: Duration,
}

/// What the detectors found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Rounds sampled.
    pub rounds: u64,
    /// Overlaps, in order.
    pub overlaps: Vec<Overlap>,
    /// Samples that failed (a dump that could not be read).
    pub errors: Vec<String>,
    /// Whether each server holds the address now.
    pub address: Vec<bool>,
    /// Whether each server has the disk mounted now.
    pub mount: Vec<bool>,
}

/// The detector thread (stopped when dropped).
#[derive(Debug)]
pub struct Detectors {
    findings: Arc<Mutex<Findings>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn lock(f: &Mutex<Findings>) -> MutexGuard<'_, Findings> {
    f.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Detectors {
    /// Starts watching `servers` for `address` and `disk`, every `interval`.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when the thread cannot be started.
    pub fn start(
        servers: Vec<Watched>,
        address: Ipv4Addr,
        disk: Arc<Disk>,
        interval: Duration,
        timeline: Timeline,
    ) -> Result<Self, RigError> {
        let n = servers.len();
        let findings =
            Arc::new(Mutex::new(Findings { address: vec![false; n], mount: vec![false; n], ..Findings::default() }));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, flag) = (Arc::clone(&findings), Arc::clone(&stop));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("detectors".into())
            .spawn(move || {
                let mut dumps = Vec::new();
                for s in &servers {
                    let dump = netns::enter_path(&s.netns).and_then(|()| {
                        AddressDump::open().map_err(RigError::io(format!("netlink in {}", s.netns.display())))
                    });
                    match dump {
                        Ok(d) => dumps.push(d),
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    }
                }
                let _ = ready_tx.send(Ok(()));
                let mut round = Round { servers, dumps, address, disk, timeline, findings: shared, open: [None, None] };
                while !flag.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    round.sample();
                    // The sampling period itself.
                    std::thread::sleep(interval.saturating_sub(started.elapsed()));
                }
            })
            .map_err(RigError::io("starting the detectors"))?;
        ready_rx.recv().map_err(|_| RigError::Broken("the detector thread ended at once".into()))??;
        Ok(Self { findings, stop, thread: Some(thread) })
    }

    /// What they found so far.
    #[must_use]
    pub fn findings(&self) -> Findings {
        lock(&self.findings).clone()
    }
}

impl Drop for Detectors {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Round {
    servers: Vec<Watched>,
    dumps: Vec<AddressDump>,
    address: Ipv4Addr,
    disk: Arc<Disk>,
    timeline: Timeline,
    findings: Arc<Mutex<Findings>>,
    /// Open overlaps: index of the address's, of the mount's, in `overlaps`.
    open: [Option<usize>; 2],
}

impl Round {
    fn sample(&mut self) {
        let at = self.timeline.now();
        let mut address = Vec::with_capacity(self.servers.len());
        let mut mount = Vec::with_capacity(self.servers.len());
        let mut errors = Vec::new();
        for (server, dump) in self.servers.iter().zip(self.dumps.iter_mut()) {
            match dump.ipv4() {
                Ok(list) => address.push(list.contains(&self.address)),
                Err(e) => {
                    errors.push(format!("{}: address dump: {e}", server.node));
                    address.push(false);
                }
            }
            let anchor = server.anchor.load(Ordering::SeqCst);
            mount.push(anchor != 0 && self.disk.mounted_for(Pid::from_raw(anchor)));
        }
        let mut findings = lock(&self.findings);
        findings.rounds += 1;
        findings.errors.extend(errors);
        for (i, server) in self.servers.iter().enumerate() {
            if findings.address.get(i) != address.get(i) {
                let present = address.get(i).copied().unwrap_or(false);
                self.timeline.push_at(at, Happening::Address { node: server.node.clone(), present });
            }
            if findings.mount.get(i) != mount.get(i) {
                let present = mount.get(i).copied().unwrap_or(false);
                self.timeline.push_at(at, Happening::Mount { node: server.node.clone(), present });
            }
        }
        for (k, (what, held)) in [("address", &address), ("mount", &mount)].into_iter().enumerate() {
            let holders: Vec<String> =
                self.servers.iter().zip(held.iter()).filter(|(_, h)| **h).map(|(s, _)| s.node.clone()).collect();
            match (holders.len() >= 2, self.open[k]) {
                (true, None) => {
                    self.open[k] = Some(findings.overlaps.len());
                    let text = format!("{what} held by {} at once", holders.join(" and "));
                    findings.overlaps.push(Overlap { what, nodes: holders, at, lasted: Duration::ZERO });
                    self.timeline.push_at(at, Happening::Violation(text));
                }
                (true, Some(i)) => {
                    if let Some(o) = findings.overlaps.get_mut(i) {
                        o.lasted = at.saturating_sub(o.at);
                    }
                }
                (false, _) => self.open[k] = None,
            }
        }
        findings.address = address;
        findings.mount = mount;
    }
}
