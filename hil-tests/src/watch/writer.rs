//! The writer: from the client's namespace, numbered records written
//! through the service one at a time (`write N`), each acknowledged only
//! once it is fsync'd on the shared disk. It keeps every acknowledged
//! number; after the run each must be on the disk ([`check`]). A request
//! whose answer never came is not counted either way: it may or may not
//! have reached the disk.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::timeline::{Happening, Timeline};
use crate::host::netns;
use crate::RigError;

/// How long a connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
/// How long an answer may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);

/// What the writer has done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterLog {
    /// Records acknowledged (fsync'd), in order.
    pub acked: Vec<u64>,
    /// Records the service answered with an error.
    pub refused: u64,
    /// Records whose answer never came.
    pub unanswered: u64,
}

/// The writer's thread (stopped when dropped).
#[derive(Debug)]
pub struct Writer {
    log: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The log and the signal that it grew.
#[derive(Debug, Default)]
struct Shared {
    log: Mutex<WriterLog>,
    acked: Condvar,
}

fn lock(shared: &Shared) -> MutexGuard<'_, WriterLog> {
    shared.log.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Writer {
    /// Starts writing to `target` from the namespace at `netns`, a record
    /// every `interval`.
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
        let log = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, flag) = (Arc::clone(&log), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name(format!("writer-{group}"))
            .spawn(move || {
                if let Err(e) = netns::enter_path(&netns) {
                    timeline.push(Happening::Violation(format!("rig: the writer cannot run: {e}")));
                    return;
                }
                write_records(target, interval, &shared, &flag);
            })
            .map_err(RigError::io("starting the writer"))?;
        Ok(Self { log, stop, thread: Some(thread) })
    }

    /// Stops writing and returns what was done.
    #[must_use]
    pub fn finish(mut self) -> WriterLog {
        self.halt();
        lock(&self.log).clone()
    }

    /// What it has done so far.
    #[must_use]
    pub fn log(&self) -> WriterLog {
        lock(&self.log).clone()
    }

    /// Waits until `count` records in all are acknowledged, up to `bound`;
    /// `check` runs while waiting and ends the wait with its error. Returns
    /// whether the count was reached.
    ///
    /// # Errors
    ///
    /// `check`'s error.
    pub fn wait_acked(
        &self,
        count: usize,
        bound: Duration,
        mut check: impl FnMut() -> Result<(), RigError>,
    ) -> Result<bool, RigError> {
        let deadline = Instant::now() + bound;
        let mut log = lock(&self.log);
        while log.acked.len() < count {
            drop(log);
            check()?;
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            // Woken by the next acknowledgement; the short bound only lets `check` run.
            let guard = lock(&self.log);
            log = self
                .log
                .acked
                .wait_timeout(guard, (deadline - now).min(Duration::from_millis(100)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        Ok(true)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.halt();
    }
}

fn write_records(target: SocketAddr, interval: Duration, log: &Shared, stop: &AtomicBool) {
    let mut next = 1u64;
    let mut connection: Option<(TcpStream, BufReader<TcpStream>)> = None;
    while !stop.load(Ordering::Relaxed) {
        // The writer's own pace (a load it offers), not a wait for an event.
        std::thread::sleep(interval);
        if connection.is_none() {
            connection = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT).ok().and_then(|s| {
                s.set_read_timeout(Some(ANSWER_TIMEOUT)).ok()?;
                s.set_nodelay(true).ok()?;
                let reader = BufReader::new(s.try_clone().ok()?);
                Some((s, reader))
            });
        }
        let Some((stream, reader)) = connection.as_mut() else { continue };
        let n = next;
        next += 1;
        let mut answer = String::new();
        let outcome = stream.write_all(format!("write {n}\n").as_bytes()).and_then(|()| reader.read_line(&mut answer));
        match outcome {
            Ok(len) if len > 0 && answer.trim_end() == format!("ok {n}") => {
                lock(log).acked.push(n);
                log.acked.notify_all();
            }
            Ok(len) if len > 0 => lock(log).refused += 1,
            _ => {
                lock(log).unanswered += 1;
                connection = None;
            }
        }
    }
}

/// Acknowledged records missing from `contents` (the records file as the
/// next holder finds it).
#[must_use]
pub fn lost(acked: &[u64], contents: &str) -> Vec<u64> {
    let on_disk: BTreeSet<u64> = contents.lines().filter_map(|l| l.trim().parse().ok()).collect();
    acked.iter().copied().filter(|n| !on_disk.contains(n)).collect()
}

/// The outcome of the check after a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCheck {
    /// Records acknowledged.
    pub acked: usize,
    /// Acknowledged records not on the disk.
    pub lost: Vec<u64>,
    /// Records on the disk.
    pub on_disk: usize,
}

/// Checks the writer's acknowledged records against the disk's file.
#[must_use]
pub fn check(log: &WriterLog, contents: Option<&str>) -> RecordCheck {
    let contents = contents.unwrap_or_default();
    RecordCheck {
        acked: log.acked.len(),
        lost: lost(&log.acked, contents),
        on_disk: contents.lines().filter(|l| l.trim().parse::<u64>().is_ok()).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_acknowledged_record_must_be_on_the_disk() {
        assert_eq!(lost(&[1, 2, 3], "1\n2\n3\n4\n"), Vec::<u64>::new());
        assert_eq!(lost(&[1, 2, 5], "1\n3\n"), vec![2, 5]);
        // A torn last line (power lost mid-write of an unacknowledged record).
        assert_eq!(lost(&[1], "1\n2"), Vec::<u64>::new());
        let log = WriterLog { acked: vec![1, 2], refused: 0, unanswered: 1 };
        assert_eq!(check(&log, None), RecordCheck { acked: 2, lost: vec![1, 2], on_disk: 0 });
    }
}
