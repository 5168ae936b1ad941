//! The daemons' metrics endpoints seen from a host on the rig's network:
//! one scrape ([`scrape`]), what a page says ([`sample`]), Prometheus's own
//! check of it ([`promtool_check`]), and a load of bad and good scrapes
//! kept up for a while ([`ScrapeLoad`], `warden-rig soak --scrape-load`).
//!
//! Every connection is made from a thread that has entered the client's
//! network namespace, so the traffic crosses the rig's switch like a
//! monitoring server's would. The load's threads run under `SCHED_IDLE`:
//! on one machine with the cluster it stands for a load from another
//! machine, taking no CPU time from the daemons or from the rig's lines.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::host::netns;
use crate::host::tools::{self, PROMTOOL};
use crate::RigError;

/// Longest a connection or an answer may take before a scrape gives up.
const PATIENCE: Duration = Duration::from_secs(5);

/// Sends `request` to `target` and reads the answer to its end (empty when
/// the endpoint closed the connection unanswered). From the calling
/// thread's namespace.
fn exchange(target: SocketAddr, request: &[u8]) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&target, PATIENCE)?;
    s.set_read_timeout(Some(PATIENCE))?;
    s.set_write_timeout(Some(PATIENCE))?;
    // The endpoint may answer and close before taking all of a bad request.
    let _ = s.write_all(request);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// A good request.
const GET: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: warden\r\nAccept: text/plain\r\n\r\n";

/// `GET /metrics` of `target` from the namespace at `netns`: the page.
///
/// # Errors
///
/// [`RigError::Broken`] naming the endpoint and what it answered.
pub fn scrape(netns: &Path, target: SocketAddr) -> Result<String, RigError> {
    let netns = netns.to_owned();
    let answer = std::thread::scope(|s| {
        s.spawn(|| {
            netns::enter_path(&netns)?;
            exchange(target, GET).map_err(|e| RigError::Broken(format!("metrics of {target}: {e}")))
        })
        .join()
        .unwrap_or_else(|_| Err(RigError::Broken(format!("metrics of {target}: the scraping thread panicked"))))
    })?;
    match answer.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200 ") => Ok(body.to_owned()),
        _ => Err(RigError::Broken(format!(
            "metrics of {target}: answered {:?}",
            answer.lines().next().unwrap_or("nothing")
        ))),
    }
}

/// The value of `series` (its name and labels as the page writes them).
#[must_use]
pub fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// `promtool check metrics` on `page`: `Ok` when it says nothing,
/// `Err(what it said)` otherwise.
///
/// # Errors
///
/// [`RigError::MissingTool`] without promtool; the outer `Ok(Err(..))`
/// carries promtool's complaints.
pub fn promtool_check(page: &str) -> Result<Result<(), String>, RigError> {
    if tools::find(PROMTOOL.name).is_none() {
        return Err(RigError::MissingTool { tool: PROMTOOL.name, install: PROMTOOL.install });
    }
    let mut c = tools::command(PROMTOOL.name);
    c.args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let described = tools::describe(&c);
    let mut child = c.spawn().map_err(|e| RigError::Command { command: described.clone(), detail: e.to_string() })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(page.as_bytes())
            .map_err(|e| RigError::Command { command: described.clone(), detail: e.to_string() })?;
    }
    let out = child.wait_with_output().map_err(|e| RigError::Command { command: described, detail: e.to_string() })?;
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok(if out.status.success() && said.trim().is_empty() { Ok(()) } else { Err(said.trim().to_owned()) })
}

/// What one endpoint answered under load.
#[derive(Debug, Default)]
struct Answers {
    pages: AtomicU64,
    refused: AtomicU64,
    bad_answered: AtomicU64,
    other: AtomicU64,
    failed: AtomicU64,
    connections: AtomicU64,
}

/// What one endpoint answered under load, counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoadCounts {
    /// Good scrapes answered with the page (`200`).
    pub pages: u64,
    /// Requests refused at once, every worker busy (`503`).
    pub refused: u64,
    /// Bad requests answered with their status (`400`, `408`, `431`).
    pub bad_answered: u64,
    /// Any other answer, or none (the endpoint closed a bad request's
    /// connection while it was still being sent).
    pub other: u64,
    /// Connections that could not be made.
    pub failed: u64,
    /// Connections opened, of every kind.
    pub connections: u64,
}

/// Load on metrics endpoints from the client's namespace: for each
/// endpoint, a crowd of [`CROWD`] connections held open and opened again
/// every second as the endpoint closes them (each one an idle client that
/// sends nothing), standing every other [`CROWD_PHASE`]; a stream of
/// malformed, oversized and unfinished requests (one every 50 ms); and good
/// scrapes in a loop (5 ms apart, 10 ms after a refusal), answered while
/// the crowd is away. It stops when dropped or at its deadline.
///
/// The pauses keep the load to a few hundred connections a second per
/// endpoint: enough to hold every worker and the whole waiting line while
/// the crowd stands, and to have a page written every 5 ms while it does
/// not. A flood of thousands of new connections a second on this two-CPU
/// machine measures the kernel's network processing instead (softirq
/// time, which no thread priority outranks, the same for any port).
#[derive(Debug)]
pub struct ScrapeLoad {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    answers: Vec<(String, SocketAddr, Arc<Answers>)>,
}

/// Idle connections held open at each endpoint.
pub const CROWD: usize = 50;
/// An oversized request's size.
const OVERSIZED: usize = 64 * 1024;
/// How often the crowd opens again the connections the endpoint closed.
const CROWD_ROUND: Duration = Duration::from_secs(1);
/// The crowd stands this long, then stays away as long, and so on: in the
/// quiet stretches the good scrapes are answered as fast as the endpoint
/// writes pages.
pub const CROWD_PHASE: Duration = Duration::from_secs(10);
/// Pause between bad requests.
const BAD_PACE: Duration = Duration::from_millis(50);
/// Pause after a good scrape refused at once (`503`).
const REFUSED_PAUSE: Duration = Duration::from_millis(10);
/// Pause after a good scrape answered: 200 pages a second at most per
/// endpoint, 2,000 times Prometheus's usual pace.
const ANSWERED_PAUSE: Duration = Duration::from_millis(5);

fn count(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl ScrapeLoad {
    /// Starts the load on `targets` (a name and an address each) from the
    /// namespace at `netns`, for at most `limit`.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when a thread cannot be started.
    pub fn start(netns: &Path, targets: &[(String, SocketAddr)], limit: Duration) -> Result<Self, RigError> {
        let stop = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + limit;
        let mut threads = Vec::new();
        let mut answers = Vec::new();
        for (name, target) in targets {
            let a = Arc::new(Answers::default());
            answers.push((name.clone(), *target, Arc::clone(&a)));
            for kind in [Kind::Crowd, Kind::Bad, Kind::Good] {
                let (stop, a, netns, target) = (Arc::clone(&stop), Arc::clone(&a), netns.to_owned(), *target);
                let thread = std::thread::Builder::new()
                    .name(format!("scrape-{name}-{kind:?}"))
                    .spawn(move || load(&netns, target, kind, &stop, deadline, &a))
                    .map_err(RigError::io("starting a scrape load thread"))?;
                threads.push(thread);
            }
        }
        Ok(Self { stop, threads, answers })
    }

    /// Stops it; what each endpoint answered, by name and address.
    #[must_use]
    pub fn finish(mut self) -> Vec<(String, SocketAddr, LoadCounts)> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.answers
            .iter()
            .map(|(name, target, a)| {
                let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
                let counts = LoadCounts {
                    pages: get(&a.pages),
                    refused: get(&a.refused),
                    bad_answered: get(&a.bad_answered),
                    other: get(&a.other),
                    failed: get(&a.failed),
                    connections: get(&a.connections),
                };
                (name.clone(), *target, counts)
            })
            .collect()
    }
}

impl Drop for ScrapeLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Crowd,
    Bad,
    Good,
}

/// One load thread: enters the namespace, then loads `target` until told
/// to stop or the deadline.
fn load(netns: &Path, target: SocketAddr, kind: Kind, stop: &AtomicBool, deadline: Instant, a: &Answers) {
    if netns::enter_path(netns).is_err() {
        count(&a.failed);
        return;
    }
    // The load competes for no CPU time but its own (see `idle_scheduling`).
    let _ = crate::host::realtime::idle_scheduling();
    let going = || !stop.load(Ordering::Relaxed) && Instant::now() < deadline;
    let connect = || {
        count(&a.connections);
        let s = TcpStream::connect_timeout(&target, PATIENCE);
        if s.is_err() {
            count(&a.failed);
        }
        s.ok()
    };
    let tell = |answer: &str| {
        let status = answer.get(9..12).unwrap_or_default();
        match status {
            "200" => count(&a.pages),
            "503" => count(&a.refused),
            "400" | "408" | "431" => count(&a.bad_answered),
            _ => count(&a.other),
        }
    };
    match kind {
        Kind::Crowd => {
            let mut held: Vec<TcpStream> = Vec::with_capacity(CROWD);
            let started = Instant::now();
            while going() {
                let phase = started.elapsed().as_secs() / CROWD_PHASE.as_secs().max(1);
                if phase % 2 == 1 {
                    held.clear();
                    std::thread::sleep(CROWD_ROUND);
                    continue;
                }
                // Drop those the endpoint has answered or closed; open new ones.
                held.retain(|s| {
                    let mut byte = [0u8; 1];
                    let _ = s.set_nonblocking(true);
                    match s.peek(&mut byte) {
                        Ok(_) => false,
                        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                    }
                });
                while held.len() < CROWD && going() {
                    match connect() {
                        Some(s) => held.push(s),
                        None => break,
                    }
                }
                std::thread::sleep(CROWD_ROUND);
            }
        }
        Kind::Bad => {
            let oversized = format!("GET /metrics HTTP/1.1\r\nX-Padding: {}\r\n\r\n", "a".repeat(OVERSIZED));
            let requests: [&[u8]; 3] = [
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n",
                oversized.as_bytes(),
                b"GET /metrics",
            ];
            let mut i = 0usize;
            while going() {
                let request = requests.get(i % requests.len()).copied().unwrap_or_default();
                i += 1;
                count(&a.connections);
                match exchange(target, request) {
                    Ok(answer) => tell(&answer),
                    Err(_) => count(&a.failed),
                }
                std::thread::sleep(BAD_PACE);
            }
        }
        Kind::Good => {
            while going() {
                count(&a.connections);
                match exchange(target, GET) {
                    Ok(answer) if answer.starts_with("HTTP/1.1 200 ") => {
                        count(&a.pages);
                        std::thread::sleep(ANSWERED_PAUSE);
                    }
                    Ok(answer) => {
                        tell(&answer);
                        std::thread::sleep(REFUSED_PAUSE);
                    }
                    Err(_) => {
                        count(&a.failed);
                        std::thread::sleep(REFUSED_PAUSE);
                    }
                }
            }
        }
    }
}
