//! Log lines that never hold up the writer: a daemon's heartbeat loop
//! hands each line to a thread of its own through a bounded queue, and
//! that thread writes them to stdout or stderr. When the reader does not
//! keep up (journald stalled by I/O, a full pipe nobody reads), the queue
//! fills, further lines are dropped and counted, and the thread writes how
//! many were lost once it can write again. A beat is never late because
//! of a log line.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Lines the queue holds before it drops.
pub const QUEUE_LINES: usize = 1024;

/// Where lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A queue of lines and the thread that writes them.
#[derive(Debug)]
pub struct LogLines {
    queue: SyncSender<String>,
    dropped: Arc<AtomicU64>,
    written: Arc<(Mutex<u64>, std::sync::Condvar)>,
    sent: AtomicU64,
}

impl LogLines {
    /// A writer thread for `out`, its queue [`QUEUE_LINES`] long.
    ///
    /// # Errors
    ///
    /// The OS error when the thread cannot be started.
    pub fn start<W: Write + Send + 'static>(out: W) -> std::io::Result<Self> {
        Self::with_capacity(out, QUEUE_LINES)
    }

    fn with_capacity<W: Write + Send + 'static>(mut out: W, capacity: usize) -> std::io::Result<Self> {
        let (tx, rx): (SyncSender<String>, Receiver<String>) = mpsc::sync_channel(capacity);
        let dropped = Arc::new(AtomicU64::new(0));
        let written = Arc::new((Mutex::new(0u64), std::sync::Condvar::new()));
        let (lost, done) = (Arc::clone(&dropped), Arc::clone(&written));
        std::thread::Builder::new().name("log".into()).spawn(move || {
            let mut reported = 0;
            while let Ok(text) = rx.recv() {
                let lost = lost.load(Ordering::Relaxed);
                if lost > reported {
                    let _ = writeln!(out, "{} log lines dropped: the log's reader did not keep up", lost - reported);
                    reported = lost;
                }
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
                let (count, wake) = &*done;
                *count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                wake.notify_all();
            }
        })?;
        Ok(Self { queue: tx, dropped, written, sent: AtomicU64::new(0) })
    }

    /// Queues `text` (whole lines, newline included) without waiting; when
    /// the queue is full it is dropped and counted.
    pub fn write(&self, text: String) {
        match self.queue.try_send(text) {
            Ok(()) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Lines dropped so far.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits up to `bound` for every line queued so far to be written
    /// (before the process exits); returns whether they were.
    pub fn flush(&self, bound: Duration) -> bool {
        let target = self.sent.load(Ordering::Relaxed);
        let deadline = Instant::now() + bound;
        let (count, wake) = &*self.written;
        let mut done = count.lock().unwrap_or_else(PoisonError::into_inner);
        while *done < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            done = wake.wait_timeout(done, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        true
    }
}

static STDOUT: OnceLock<Option<LogLines>> = OnceLock::new();
static STDERR: OnceLock<Option<LogLines>> = OnceLock::new();

/// The process's writer for `stream`, started on first use; `None` when its
/// thread could not be started (the caller then writes itself).
pub fn to(stream: Stream) -> Option<&'static LogLines> {
    match stream {
        Stream::Stdout => STDOUT.get_or_init(|| LogLines::start(std::io::stdout()).ok()).as_ref(),
        Stream::Stderr => STDERR.get_or_init(|| LogLines::start(std::io::stderr()).ok()).as_ref(),
    }
}

/// Queues `text` for `stream`; written directly when there is no writer thread.
pub fn write(stream: Stream, text: String) {
    match (to(stream), stream) {
        (Some(lines), _) => lines.write(text),
        (None, Stream::Stdout) => {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
        (None, Stream::Stderr) => {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
    }
}

/// Waits up to `bound` for both streams' queued lines (at exit).
pub fn flush_all(bound: Duration) {
    for lines in [STDOUT.get(), STDERR.get()].into_iter().flatten().flatten() {
        let _ = lines.flush(bound);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn a_reader_that_does_not_read_never_holds_the_writer_and_the_loss_is_told() {
        let (mut reader, writer) = std::os::unix::net::UnixStream::pair().unwrap();
        let lines = LogLines::with_capacity(writer, 8).unwrap();
        // Far more than the queue and the socket buffer hold: none of these
        // calls may wait (a wait would hang the test here).
        for i in 0..200_000 {
            lines.write(format!("line {i} {}\n", "x".repeat(64)));
        }
        assert!(lines.dropped() > 0, "nothing dropped");
        let dropped = lines.dropped();
        // The reader catches up: what was queued comes out, then the count
        // of what was lost, before the next line.
        reader.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let reading = std::thread::spawn(move || {
            let mut seen = String::new();
            let mut buf = [0u8; 65536];
            while !seen.contains("after\n") {
                let n = reader.read(&mut buf).unwrap();
                assert!(n > 0, "the writer ended");
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            seen
        });
        assert!(lines.flush(Duration::from_secs(10)), "the queue did not drain");
        lines.write("after\n".to_owned());
        let seen = reading.join().unwrap();
        assert!(seen.contains("line 0 "), "the first line is lost");
        let told: u64 = seen
            .lines()
            .filter_map(|l| l.strip_suffix(" log lines dropped: the log's reader did not keep up"))
            .map(|n| n.parse::<u64>().unwrap())
            .sum();
        assert_eq!(told, dropped, "every dropped line is counted in the output");
        assert!(lines.flush(Duration::from_secs(10)));
    }
}
