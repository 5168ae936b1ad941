//! The safety detectors: one thread samples every server, every interval,
//! for every group's service address (one route-netlink dump in the
//! server's network namespace) and shared disk (the server's mount
//! namespace, read through `/proc/<keeper>/mountinfo`). Every server's
//! samples are taken back to back in one round: two servers that hold a
//! group's address, or its mount, in the same round is a violation,
//! recorded with how long it lasted. Changes go to the timeline, so
//! takeovers are timed by what the servers really did.

use std::net::IpAddr;
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

/// A group to watch: its service address and shared disk.
#[derive(Debug, Clone)]
pub struct WatchedGroup {
    /// Its name.
    pub name: String,
    /// Its service address.
    pub address: IpAddr,
    /// Its disk.
    pub disk: Arc<Disk>,
}

/// Two servers or more holding one thing at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// The group.
    pub group: String,
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
    /// Whether each server holds each group's address now, by group.
    pub address: Vec<Vec<bool>>,
    /// Whether each server has each group's disk mounted now, by group.
    pub mount: Vec<Vec<bool>>,
}

impl Findings {
    /// The one server that holds group `group`'s address now.
    #[must_use]
    pub fn holder(&self, group: usize) -> Option<usize> {
        let held = self.address.get(group)?;
        match held.iter().filter(|h| **h).count() {
            1 => held.iter().position(|h| *h),
            _ => None,
        }
    }
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
    /// Starts watching `servers` for every group's address and disk, every
    /// `interval`.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when the thread cannot be started.
    pub fn start(
        servers: Vec<Watched>,
        groups: Vec<WatchedGroup>,
        interval: Duration,
        timeline: Timeline,
    ) -> Result<Self, RigError> {
        let (n, g) = (servers.len(), groups.len());
        let findings = Arc::new(Mutex::new(Findings {
            address: vec![vec![false; n]; g],
            mount: vec![vec![false; n]; g],
            ..Findings::default()
        }));
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
                let open = vec![[None, None]; groups.len()];
                let mut round = Round { servers, dumps, groups, timeline, findings: shared, open };
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
    groups: Vec<WatchedGroup>,
    timeline: Timeline,
    findings: Arc<Mutex<Findings>>,
    /// Open overlaps per group: index of the address's, of the mount's, in
    /// `overlaps`.
    open: Vec<[Option<usize>; 2]>,
}

impl Round {
    fn sample(&mut self) {
        let at = self.timeline.now();
        let (n, g) = (self.servers.len(), self.groups.len());
        let mut address = vec![vec![false; n]; g];
        let mut mount = vec![vec![false; n]; g];
        let mut errors = Vec::new();
        for (i, (server, dump)) in self.servers.iter().zip(self.dumps.iter_mut()).enumerate() {
            match dump.addresses() {
                Ok(list) => {
                    for (k, group) in self.groups.iter().enumerate() {
                        address[k][i] = list.contains(&group.address);
                    }
                }
                Err(e) => errors.push(format!("{}: address dump: {e}", server.node)),
            }
            let anchor = server.anchor.load(Ordering::SeqCst);
            for (k, group) in self.groups.iter().enumerate() {
                mount[k][i] = anchor != 0 && group.disk.mounted_for(Pid::from_raw(anchor));
            }
        }
        let mut findings = lock(&self.findings);
        findings.rounds += 1;
        findings.errors.extend(errors);
        for (k, group) in self.groups.iter().enumerate() {
            for (i, server) in self.servers.iter().enumerate() {
                let (node, name) = (server.node.clone(), group.name.clone());
                if findings.address[k][i] != address[k][i] {
                    self.timeline.push_at(
                        at,
                        Happening::Address { group: name.clone(), node: node.clone(), present: address[k][i] },
                    );
                }
                if findings.mount[k][i] != mount[k][i] {
                    self.timeline.push_at(at, Happening::Mount { group: name, node, present: mount[k][i] });
                }
            }
            for (j, (what, held)) in [("address", &address[k]), ("mount", &mount[k])].into_iter().enumerate() {
                let holders: Vec<String> =
                    self.servers.iter().zip(held.iter()).filter(|(_, h)| **h).map(|(s, _)| s.node.clone()).collect();
                match (holders.len() >= 2, self.open[k][j]) {
                    (true, None) => {
                        self.open[k][j] = Some(findings.overlaps.len());
                        let text = format!("{}'s {what} held by {} at once", group.name, holders.join(" and "));
                        findings.overlaps.push(Overlap {
                            group: group.name.clone(),
                            what,
                            nodes: holders,
                            at,
                            lasted: Duration::ZERO,
                        });
                        self.timeline.push_at(at, Happening::Violation(text));
                    }
                    (true, Some(o)) => {
                        if let Some(o) = findings.overlaps.get_mut(o) {
                            o.lasted = at.saturating_sub(o.at);
                        }
                    }
                    (false, _) => self.open[k][j] = None,
                }
            }
        }
        findings.address = address;
        findings.mount = mount;
    }
}
