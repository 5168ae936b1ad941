//! `warden-rig soak --minutes M [--stress] [--scrape-load]`: an idle
//! cluster left alone, counting what should not happen: any fence, any
//! group move, any node declared dead (unwanted failovers), and the near
//! misses (a node reported late). With `--stress` every core is kept busy
//! meanwhile by a CPU hog the rig starts and stops (`stress-ng` when
//! installed, busy threads otherwise). With `--scrape-load` every metrics
//! endpoint (the Linux controller's, each agent's) is loaded meanwhile from
//! the client ([`ScrapeLoad`]): nothing a client of the endpoint does may
//! make a beat late.
//!
//! A stall watch runs beside it: a thread of the rig at the rig's real-time
//! priority that sleeps [`STALL_TICK`] at a time and records every wake-up
//! later than [`STALL_MIN`]. A late wake-up of that thread is the machine
//! stalling everything (a virtual machine's CPU taken away, a kernel that
//! cannot schedule), not the agents or the controller falling behind: the
//! report shows such stalls beside the late and dead nodes.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::cluster::Rig;
use super::options::Options;
use crate::controller::console::ConsoleKind;
use crate::host::signals;
use crate::host::tools::{self, STRESS};
use crate::watch::scrape::{self, LoadCounts, ScrapeLoad};
use crate::watch::stats::ms;
use crate::watch::timeline::{Entry, Happening};
use crate::watch::verdict::Verdict;
use crate::RigError;

/// How long stress-ng may take to end on SIGTERM before it is killed.
const HOG_GRACE: Duration = Duration::from_secs(3);

/// What the soak loads the machine with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Load {
    /// Every core busy computing (`stress-ng --cpu`, or busy threads).
    #[default]
    Cpu,
    /// Memory pressure: `stress-ng --vm` on every core, 80 % of memory.
    Memory,
    /// An fsync storm on the disk the rig's files (the fence store) are
    /// on: `stress-ng --hdd` with `fsync` on every core.
    Io,
}

impl Load {
    /// As on the command line.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "vm",
            Self::Io => "io",
        }
    }
}

impl std::str::FromStr for Load {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "vm" => Ok(Self::Memory),
            "io" => Ok(Self::Io),
            other => Err(format!("unknown load `{other}` (known: cpu, vm, io)")),
        }
    }
}

/// What keeps the machine busy.
#[derive(Debug)]
pub enum Hog {
    /// `stress-ng`, and what it was asked for.
    StressNg(Child, String),
    /// Busy threads of the rig.
    Threads(Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>),
}

impl Hog {
    /// Starts one hog of `load` per core for at most `limit`; the I/O hog
    /// writes in `dir`.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when neither can be started;
    /// [`RigError::MissingTool`] for memory or I/O load without `stress-ng`.
    pub fn start(limit: Duration, load: Load, dir: &std::path::Path) -> Result<Self, RigError> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let mut args: Vec<String> = match load {
            Load::Cpu => vec!["--cpu".into(), cores.to_string()],
            Load::Memory => vec!["--vm".into(), cores.to_string(), "--vm-bytes".into(), "80%".into()],
            Load::Io => vec![
                "--hdd".into(),
                cores.to_string(),
                "--hdd-opts".into(),
                "fsync".into(),
                "--hdd-bytes".into(),
                "64m".into(),
                "--temp-path".into(),
                dir.display().to_string(),
            ],
        };
        if load != Load::Cpu && tools::find(STRESS.name).is_none() {
            return Err(RigError::MissingTool { tool: STRESS.name, install: STRESS.install });
        }
        if tools::find(STRESS.name).is_some() {
            let described = format!("stress-ng {}", args.join(" "));
            args.extend(["--timeout".into(), format!("{}s", limit.as_secs() + 1), "--quiet".into()]);
            let child = tools::command(STRESS.name)
                .args(&args)
                // Its own process group, so that its workers are ended with it.
                .process_group(0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(RigError::io("starting stress-ng"))?;
            return Ok(Self::StressNg(child, described));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..cores)
            .map(|i| {
                let stop = Arc::clone(&stop);
                std::thread::Builder::new().name(format!("cpu-hog-{i}")).spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(RigError::io("starting busy threads"))?;
        Ok(Self::Threads(stop, threads))
    }

    /// What it is, for the report.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::StressNg(_, described) => described.clone(),
            Self::Threads(_, t) => format!("{} busy threads", t.len()),
        }
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        match self {
            Self::StressNg(child, _) => {
                use nix::sys::signal::{killpg, Signal};
                // stress-ng and its workers, by their process group (which
                // is stress-ng's pid): asked to end, then made to.
                if let Ok(pid) = i32::try_from(child.id()) {
                    let group = nix::unistd::Pid::from_raw(pid);
                    let _ = killpg(group, Signal::SIGTERM);
                    let deadline = Instant::now() + HOG_GRACE;
                    while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    let _ = killpg(group, Signal::SIGKILL);
                }
                let _ = child.wait();
            }
            Self::Threads(stop, threads) => {
                stop.store(true, Ordering::Relaxed);
                for t in threads.drain(..) {
                    let _ = t.join();
                }
            }
        }
    }
}

/// The stall watch's sleep.
pub const STALL_TICK: Duration = Duration::from_millis(5);
/// The least oversleep the stall watch records.
pub const STALL_MIN: Duration = Duration::from_millis(20);

/// A thread at the rig's real-time priority that records its own late
/// wake-ups (stopped when dropped).
#[derive(Debug)]
pub struct StallWatch {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<(Duration, Duration)>>>,
}

impl StallWatch {
    /// Starts watching; stalls go to `timeline` as they happen.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] when the thread cannot be started.
    pub fn start(timeline: crate::watch::timeline::Timeline) -> Result<Self, RigError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("stall-watch".into())
            .spawn(move || {
                crate::host::realtime::raise_rig_thread();
                let mut stalls = Vec::new();
                while !flag.load(Ordering::Relaxed) {
                    let before = Instant::now();
                    std::thread::sleep(STALL_TICK);
                    let over = before.elapsed().saturating_sub(STALL_TICK);
                    if over >= STALL_MIN {
                        let at = timeline.now();
                        timeline.push_at(
                            at,
                            Happening::Note(format!(
                                "rig: machine stall, a real-time thread woke {} ms late",
                                ms(over)
                            )),
                        );
                        stalls.push((at, over));
                    }
                }
                stalls
            })
            .map_err(RigError::io("starting the stall watch"))?;
        Ok(Self { stop, thread: Some(thread) })
    }

    /// Stops it; every stall seen (when, how long).
    #[must_use]
    pub fn finish(mut self) -> Vec<(Duration, Duration)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

impl Drop for StallWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The host's load over a stretch: what else ran on the machine matters
/// as much as the settings under test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostLoad {
    /// The 1-minute load average at the end.
    pub loadavg: f64,
    /// The share of the time some task waited for a CPU (`/proc/pressure/cpu`).
    pub cpu_pressure: Option<f64>,
}

/// `some ... total=` of `/proc/pressure/cpu`, in microseconds.
fn cpu_stall_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/pressure/cpu").ok()?;
    let some = text.lines().find(|l| l.starts_with("some"))?;
    some.split_whitespace().find_map(|w| w.strip_prefix("total=")).and_then(|t| t.parse().ok())
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|w| w.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// What a soak saw.
#[derive(Debug, Clone)]
pub struct SoakReport {
    /// How long the cluster was left alone.
    pub length: Duration,
    /// The hog, if any.
    pub stress: Option<String>,
    /// Fences, moves and deaths (each a line).
    pub unwanted: Vec<String>,
    /// Nodes reported late.
    pub late: Vec<String>,
    /// Of those, the ones with no machine stall within a deadtime.
    pub late_without_stall: usize,
    /// Client gaps during the soak.
    pub gaps: Vec<Duration>,
    /// The checks (common ones and "no unwanted failover").
    pub verdict: Verdict,
    /// The settings.
    pub settings: Value,
    /// The machine's load meanwhile.
    pub load: HostLoad,
    /// Machine stalls seen by the stall watch: when, and how long.
    pub stalls: Vec<(Duration, Duration)>,
    /// With `--scrape-load`: each endpoint, what the load got from it, and
    /// what the endpoint counted itself (`warden_metrics_requests_total`).
    pub scraped: Vec<Scraped>,
}

/// One metrics endpoint under `--scrape-load`.
#[derive(Debug, Clone)]
pub struct Scraped {
    /// Whose it is.
    pub name: String,
    /// Where it listens.
    pub at: std::net::SocketAddr,
    /// What the load got.
    pub load: LoadCounts,
    /// What the endpoint counted, by result, as its page said afterwards
    /// (empty when it could not be scraped).
    pub counted: Vec<(String, f64)>,
}

/// How long an endpoint may take to answer a good scrape once the load
/// has stopped (its workers let the last idle clients go within 2 s).
const RECOVER: Duration = Duration::from_secs(10);

/// The endpoints of `rig`: the Linux controller's and each agent's.
fn endpoints(rig: &Rig) -> Vec<(String, std::net::SocketAddr)> {
    let mut targets: Vec<(String, std::net::SocketAddr)> =
        rig.controller_metrics().map(|at| ("controller".to_owned(), at)).into_iter().collect();
    targets.extend(rig.nodes().iter().enumerate().map(|(i, n)| (format!("{n} agent"), rig.agent_metrics(i))));
    targets
}

/// A good scrape of `at` once the load has stopped: the page, or why not.
fn scrape_after(rig: &Rig, at: std::net::SocketAddr) -> Result<String, String> {
    let until = Instant::now() + RECOVER;
    loop {
        match scrape::scrape(&rig.client_netns_path(), at) {
            Ok(page) => return Ok(page),
            Err(e) if Instant::now() >= until => return Err(e.to_string()),
            // Refused while the last idle clients are let go: ask again.
            Err(_) => std::thread::yield_now(),
        }
    }
}

fn unwanted(e: &Entry) -> Option<String> {
    let line = || format!("{:.3} s {}", e.at.as_secs_f64(), crate::watch::timeline::describe(&e.what));
    match &e.what {
        Happening::Controller(c) => match &c.kind {
            ConsoleKind::NodeDead(_)
            | ConsoleKind::Fencing(_)
            | ConsoleKind::Fenced(_)
            | ConsoleKind::Placed { .. }
            | ConsoleKind::Releasing { .. } => Some(line()),
            _ => None,
        },
        Happening::Relay { .. } | Happening::PowerLost { .. } | Happening::Violation(_) => Some(line()),
        _ => None,
    }
}

/// Runs the soak.
///
/// # Errors
///
/// [`RigError`] when the rig cannot be set up, or on SIGINT/SIGTERM.
pub fn run(
    length: Duration,
    stress: Option<Load>,
    scrape_load: bool,
    options: Options,
    mut progress: impl FnMut(Duration, usize),
) -> Result<SoakReport, RigError> {
    let settings = json!({
        "keepalive_ms": options.keepalive.as_millis(),
        "deadtime_ms": options.deadtime.as_millis(),
        "warntime_ms": options.warntime().as_millis(),
        "agent_realtime_priority": options.agent_realtime,
        "agent_mlock": options.agent_mlock,
        "controller_realtime_priority": options.controller_realtime,
        "media": if options.udp() { "serial+udp" } else { "serial" },
        "scrape_load": scrape_load,
    });
    let rig = Rig::up(options)?;
    let watch = StallWatch::start(rig.timeline().clone())?;
    let hog = stress.map(|load| Hog::start(length, load, rig.run_dir())).transpose()?;
    let stress = hog.as_ref().map(Hog::describe);
    let load = if scrape_load {
        Some(ScrapeLoad::start(&rig.client_netns_path(), &endpoints(&rig), length + Duration::from_secs(5))?)
    } else {
        None
    };
    let start = rig.timeline().now();
    let stalled_before = cpu_stall_total();
    let end = Instant::now() + length;
    let mut seen = 0;
    while Instant::now() < end {
        signals::check()?;
        // Progress every ten seconds; an unwanted event wakes it at once.
        let step = end.saturating_duration_since(Instant::now()).min(Duration::from_secs(10));
        let looked = rig.timeline().now();
        let _ = rig.timeline().wait_for(
            "",
            looked,
            step,
            |h| unwanted(&Entry { at: Duration::ZERO, what: h.clone() }).is_some(),
            signals::check,
        );
        seen = rig.timeline().since(start).iter().filter_map(unwanted).count();
        progress(rig.timeline().now().saturating_sub(start), seen);
    }
    let _ = seen;
    let loaded = load.map(ScrapeLoad::finish).unwrap_or_default();
    let mut scraped = Vec::new();
    let mut unanswered = Vec::new();
    for (name, at, load) in loaded {
        let counted = match scrape_after(&rig, at) {
            Ok(page) => page
                .lines()
                .filter_map(|l| {
                    let rest = l.strip_prefix("warden_metrics_requests_total{result=\"")?;
                    let (result, value) = rest.split_once("\"} ")?;
                    Some((result.to_owned(), value.parse().ok()?))
                })
                .collect(),
            Err(why) => {
                unanswered.push(format!("{name} ({at}): {why}"));
                Vec::new()
            }
        };
        scraped.push(Scraped { name, at, load, counted });
    }
    drop(hog);
    let stalls = watch.finish();
    let soaked = rig.timeline().now().saturating_sub(start);
    let load = HostLoad {
        loadavg: loadavg(),
        cpu_pressure: stalled_before
            .zip(cpu_stall_total())
            .map(|(a, b)| Duration::from_micros(b.saturating_sub(a)).as_secs_f64() / soaked.as_secs_f64().max(1e-3)),
    };
    let record = rig.finish();
    let during: Vec<&Entry> = record.entries.iter().filter(|e| e.at >= start && e.at <= start + soaked).collect();
    let unwanted: Vec<String> = during.iter().filter_map(|e| unwanted(e)).collect();
    let late: Vec<String> = during
        .iter()
        .filter_map(|e| match &e.what {
            Happening::Controller(c) if matches!(c.kind, ConsoleKind::NodeLate(_)) => {
                Some(format!("{:.3} s {}", e.at.as_secs_f64(), c.text))
            }
            _ => None,
        })
        .collect();
    // A late warning within a deadtime of a machine stall is the machine's:
    // every thread, the stall watch's at the rig's real-time priority too,
    // was held up together.
    let late_times: Vec<Duration> = during
        .iter()
        .filter(|e| matches!(&e.what, Happening::Controller(c) if matches!(c.kind, ConsoleKind::NodeLate(_))))
        .map(|e| e.at)
        .collect();
    let deadtime = settings["deadtime_ms"].as_u64().map_or(Duration::from_millis(100), Duration::from_millis);
    let late_without_stall =
        late_times.iter().filter(|t| !stalls.iter().any(|(at, _)| at.abs_diff(**t) <= deadtime)).count();
    let gaps: Vec<Duration> = record
        .groups
        .iter()
        .flat_map(|g| g.probe.gaps.iter())
        .filter(|g| g.from >= start)
        .map(crate::watch::probe::Gap::length)
        .collect();
    let mut verdict = Verdict::new(match (stress.is_some(), scrape_load) {
        (true, _) => "soak with both cores busy",
        (false, true) => "soak under scrape load",
        (false, false) => "soak idle",
    });
    if scrape_load {
        verdict.check(
            "every metrics endpoint answers again once the scrape load stops",
            unanswered.is_empty(),
            if unanswered.is_empty() { format!("{} endpoints", scraped.len()) } else { unanswered.join("; ") },
        );
        let total = |f: fn(&LoadCounts) -> u64| scraped.iter().map(|s| f(&s.load)).sum::<u64>();
        verdict.counts.push(("scrape_connections", total(|l| l.connections)));
        verdict.counts.push(("scrape_pages", total(|l| l.pages)));
    }
    verdict.check(
        "no unwanted failover",
        unwanted.is_empty(),
        if unwanted.is_empty() { format!("none in {:.0} s", soaked.as_secs_f64()) } else { unwanted.join("; ") },
    );
    let last = record.groups.first().and_then(|g| g.probe.last.as_ref()).map(|(at, node)| (*at, node.clone()));
    verdict.check(
        "the service still answered at the end",
        last.as_ref().is_some_and(|(at, _)| *at + Duration::from_secs(1) >= start + soaked),
        last.map_or_else(
            || "the client never got an answer".to_owned(),
            |(at, node)| {
                format!(
                    "last answer from {node} at {:.3} s, soak ended at {:.3} s",
                    at.as_secs_f64(),
                    (start + soaked).as_secs_f64()
                )
            },
        ),
    );
    verdict.common_checks(&record);
    verdict.counts.push(("late_warnings", late.len() as u64));
    verdict.counts.push(("late_warnings_without_machine_stall", late_without_stall as u64));
    verdict.counts.push(("client_gaps", gaps.len() as u64));
    verdict.counts.push(("machine_stalls", stalls.len() as u64));
    Ok(SoakReport {
        length: soaked,
        stress,
        unwanted,
        late,
        late_without_stall,
        gaps,
        verdict,
        settings,
        load,
        stalls,
        scraped,
    })
}

/// The time a report line starts with (`12.345 s ...`).
fn leading_seconds(line: &str) -> f64 {
    line.split_whitespace().next().and_then(|w| w.parse().ok()).unwrap_or(f64::MAX)
}

impl SoakReport {
    /// For people.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = format!(
            "soak {:.0} s{}{}: {} unwanted failover events, {} late warnings ({} with no machine stall within a \
             deadtime), {} client gaps{}\n",
            self.length.as_secs_f64(),
            self.stress.as_ref().map_or(String::new(), |s| format!(" under {s}")),
            if self.scraped.is_empty() { "" } else { " under scrape load" },
            self.unwanted.len(),
            self.late.len(),
            self.late_without_stall,
            self.gaps.len(),
            self.gaps.iter().max().map_or(String::new(), |m| format!(" (longest {:.1} ms)", ms(*m)))
        );
        out.push_str(&format!("settings: {}\n", self.settings));
        out.push_str(&format!(
            "host: load average {:.2} at the end, some task waiting for a CPU {} of the time\n",
            self.load.loadavg,
            self.load.cpu_pressure.map_or_else(|| "(no /proc/pressure)".to_owned(), |p| format!("{:.0} %", p * 100.0))
        ));
        out.push_str(&format!(
            "machine stalls (the rig's real-time thread woke >= {} ms late): {}{}\n",
            ms(STALL_MIN),
            self.stalls.len(),
            self.stalls.iter().map(|(_, d)| *d).max().map_or(String::new(), |m| format!(" (longest {} ms)", ms(m)))
        ));
        if !self.scraped.is_empty() {
            out.push_str(&format!(
                "scrape load from the client, per endpoint: {} idle connections held open (reopened every second) \
                 every other {} s, malformed, oversized and unfinished requests (one every 50 ms), good scrapes 5 ms \
                 apart (10 ms after a refusal)\n",
                scrape::CROWD,
                scrape::CROWD_PHASE.as_secs()
            ));
            out.push_str(&format!(
                "  {:<14} {:>11} {:>8} {:>9} {:>9} {:>7} {:>7}   endpoint counted\n",
                "endpoint", "connections", "pages", "refused", "bad->4xx", "other", "failed"
            ));
            for s in &self.scraped {
                let counted: Vec<String> = s.counted.iter().map(|(r, n)| format!("{r}={n}")).collect();
                out.push_str(&format!(
                    "  {:<14} {:>11} {:>8} {:>9} {:>9} {:>7} {:>7}   {}\n",
                    s.name,
                    s.load.connections,
                    s.load.pages,
                    s.load.refused,
                    s.load.bad_answered,
                    s.load.other,
                    s.load.failed,
                    if counted.is_empty() { "(no page)".to_owned() } else { counted.join(" ") }
                ));
            }
        }
        let stalls =
            self.stalls.iter().map(|(at, d)| format!("{:.3} s machine stall of {} ms", at.as_secs_f64(), ms(*d)));
        let mut lines: Vec<String> = self.unwanted.iter().chain(&self.late).cloned().chain(stalls).collect();
        lines.sort_by(|a, b| leading_seconds(a).total_cmp(&leading_seconds(b)));
        for l in lines.iter().take(60) {
            out.push_str(&format!("  {l}\n"));
        }
        out.push_str(&self.verdict.render());
        out
    }

    /// As JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "soak_s": self.length.as_secs_f64(),
            "stress": self.stress,
            "settings": self.settings,
            "host": {"loadavg": self.load.loadavg, "cpu_pressure": self.load.cpu_pressure},
            "unwanted": self.unwanted,
            "late": self.late,
            "late_without_machine_stall": self.late_without_stall,
            "client_gaps_ms": self.gaps.iter().map(|g| ms(*g)).collect::<Vec<_>>(),
            "machine_stalls": self.stalls.iter().map(|(at, d)| json!({"at_s": at.as_secs_f64(), "ms": ms(*d)})).collect::<Vec<_>>(),
            "scrape_load": self.scraped.iter().map(|s| json!({
                "endpoint": s.name,
                "at": s.at.to_string(),
                "connections": s.load.connections,
                "pages": s.load.pages,
                "refused": s.load.refused,
                "bad_answered": s.load.bad_answered,
                "other": s.load.other,
                "failed": s.load.failed,
                "counted": s.counted.iter().map(|(r, n)| (r.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
            "verdict": self.verdict.to_json(),
        })
    }
}
