//! `warden-rig`: the process rig (DESIGN §6.2). Real `warden-agent` and
//! `warden-controller` processes on simulated servers, as root.
//!
//! ```text
//! warden-rig demo                          a failover, step by step
//! warden-rig scenario NAME [--json]        power-loss, agent-kill, host-hang, serial-cut, serial-cut-udp-up,
//!                                          partition, uplink-loss, failing-service, stuck-release,
//!                                          stuck-release-restart, operator-moves, auto-failback, damping,
//!                                          address-families, three-servers, noisy-line,
//!                                          controller-restart, firmware-watchdog (--controller qemu),
//!                                          pacemaker-fence (Pacemaker's fencer through fence_warden)
//! warden-rig campaign --runs N --seed S [--controller linux|qemu|both]
//!                                          random faults on fresh clusters, a table per fault kind
//! warden-rig bench failover --runs N       failover timings, min/p50/p99/max, per
//!     [--fault power-loss|hang]            profile (--profile 20/100,10/40) and
//!     [--profile K/D,...]                  controller (--controllers linux,qemu)
//!     [--controllers linux,qemu]
//! warden-rig bench fence --runs N         Pacemaker's stonith_admin --fence through fence_warden
//! warden-rig soak --minutes M [--stress [cpu|vm|io]] [--scrape-load]
//!                                          unwanted failovers of an idle cluster
//! warden-rig cleanup                       remove what a crashed run left
//! ```
//!
//! Timing and scheduling options go after the command: `--keepalive 20ms
//! --deadtime 100ms` (the defaults), agents and the Linux controller under
//! `SCHED_FIFO` 50 with the agents' memory locked by default
//! (`--agent-realtime 0 --agent-mlock false --controller-realtime 0` for
//! normal scheduling), and more. Exit status: 0 passed, 1 a check failed, 2 the rig
//! could not run. `serve` (the service) and `keeper` (a server's first
//! process) are run by the rig itself.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use warden_rig::host::{keeper, leftovers, signals};
use warden_rig::runs::options::{GroupSpec, Media};
use warden_rig::runs::scenario::{self, Scenario};
use warden_rig::runs::{bench, campaign, demo, soak};
use warden_rig::watch::service;
use warden_rig::watch::timeline::Narration;
use warden_rig::{ControllerKind, Options, RigError};

/// The Warden process rig.
#[derive(Debug, Parser)]
#[command(name = "warden-rig", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A two-server failover after a power loss, told step by step.
    Demo(RunArgs),
    /// One fault scenario, ending with a verdict (docs/rig.md has each).
    Scenario {
        /// power-loss, agent-kill, host-hang, serial-cut, serial-cut-udp-up (linux), partition (linux),
        /// uplink-loss, failing-service, stuck-release, stuck-release-restart, operator-moves,
        /// auto-failback, damping, address-families, three-servers, noisy-line (linux),
        /// controller-restart, firmware-watchdog (qemu), pacemaker-fence (linux).
        name: Scenario,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Failover timings.
    Bench {
        /// What to measure: `failover`.
        what: BenchKind,
        /// Failovers to measure (per profile and controller).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        runs: u32,
        /// The fault on the holder: power-loss (seen on the sense line) or
        /// hang (every process stopped, found at deadtime).
        #[arg(long, default_value = "power-loss")]
        fault: bench::Fault,
        /// Timing profiles to measure in turn, keepalive/deadtime in ms
        /// (e.g. `20/100,10/40`); default: --keepalive and --deadtime.
        #[arg(long, value_delimiter = ',', value_parser = profile)]
        profile: Vec<(Duration, Duration)>,
        /// Controllers to measure in turn (default: --controller).
        #[arg(long, value_delimiter = ',')]
        controllers: Vec<ControllerKind>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// An idle cluster, counting unwanted failovers.
    Soak {
        /// How long.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Load the machine meanwhile, on every core: cpu (the default),
        /// vm (memory pressure) or io (an fsync storm on the rig's disk).
        #[arg(long, num_args = 0..=1, default_missing_value = "cpu", value_name = "LOAD")]
        stress: Option<soak::Load>,
        /// Load every metrics endpoint meanwhile (the controller's and each
        /// agent's), from the client: a crowd of idle connections every other
        /// 10 s, malformed, oversized and unfinished requests, and good
        /// scrapes 5 ms apart.
        #[arg(long)]
        scrape_load: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Random faults on fresh clusters, with a table per fault kind.
    ///
    /// Each run builds a cluster (two or three servers, as many groups, an
    /// uplink), lets it settle, injects one or two overlapping faults of
    /// random kind, server, time and length (power-loss, agent-kill,
    /// host-hang, serial-cut, noisy-line, slow-line, udp-cut, partition,
    /// uplink-cut, sick-service, stuck-release, controller-restart,
    /// migrate, standby), heals them, unfences what was fenced, and checks
    /// that every group is served again. Safety is checked all along. Run i
    /// has seed S+i (`--seed S`), against `--controller linux`, `qemu` or
    /// `both` (in turn, linux first): `--runs 1 --seed S+i --controller K`
    /// replays it. The last line is `runs=N violations=V lost_writes=W
    /// liveness_failures=L`; the exit status is 1 when any is not 0 (or a
    /// rig error happened).
    Campaign {
        /// How many runs.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        runs: u64,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Remove what runs that crashed left behind (namespaces, loop devices,
    /// directories, processes).
    Cleanup,
    /// The service the group runs (started by the agent).
    Serve {
        /// The shared disk's mount point.
        #[arg(long)]
        dir: PathBuf,
        /// Where to listen.
        #[arg(long)]
        listen: SocketAddr,
        /// The rig's fault flags (`SERVER.sick`: answer `ping` with `sick`).
        #[arg(long)]
        faults: Option<PathBuf>,
    },
    /// A server's first process (started by the rig).
    #[command(hide = true)]
    Keeper {
        /// The server's network namespace.
        #[arg(long)]
        netns: PathBuf,
        /// The server's name.
        #[arg(long)]
        server: String,
        /// The program and its arguments.
        #[arg(last = true, required = true)]
        program: Vec<OsString>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BenchKind {
    /// Power loss of the server holding the group.
    Failover,
    /// Pacemaker's `stonith_admin --fence` through fence_warden (the Linux
    /// controller), split into the fencer's share and Warden's.
    Fence,
}

/// A duration: milliseconds (`20`) or with a unit (`20ms`, `1.5s`).
fn duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 0.001)
    };
    let value: f64 = number.trim().parse().map_err(|_| format!("`{s}` is not a duration (20, 20ms, 1.5s)"))?;
    if !(0.0..=86_400.0).contains(&(value * scale)) {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

/// A timing profile: `KEEPALIVE/DEADTIME` in milliseconds.
fn profile(s: &str) -> Result<(Duration, Duration), String> {
    let (k, d) = s.split_once('/').ok_or_else(|| format!("`{s}`: a profile is KEEPALIVE/DEADTIME (20/100)"))?;
    Ok((duration(k)?, duration(d)?))
}

/// Options of every command that runs a rig.
#[derive(Debug, Args)]
struct RunArgs {
    /// Beats and statuses this often.
    #[arg(long, default_value = "20ms", value_parser = duration)]
    keepalive: Duration,
    /// Silence after which a node is dead.
    #[arg(long, default_value = "100ms", value_parser = duration)]
    deadtime: Duration,
    /// Silence after which a node is late (default 60 % of deadtime).
    #[arg(long, value_parser = duration)]
    warntime: Option<Duration>,
    /// Silence tolerated after a boot (default: more than the boot delay).
    #[arg(long, value_parser = duration)]
    initdead: Option<Duration>,
    /// Power on to agent start.
    #[arg(long, default_value = "200ms", value_parser = duration)]
    boot_delay: Duration,
    /// How often the controller reads the relays' sense.
    #[arg(long, default_value = "500ms", value_parser = duration)]
    sense_interval: Duration,
    /// The disk resource's fsck policy: never, if-dirty, always.
    #[arg(long, default_value = "if-dirty")]
    fsck: String,
    /// linux or qemu (`both`, in turn: the campaign only).
    #[arg(long, default_value = "linux")]
    controller: campaign::Controllers,
    /// The servers' links to the controller: both (a serial line and a UDP
    /// link each; the default with the Linux controller) or serial (the
    /// only choice with QEMU's firmware).
    #[arg(long)]
    media: Option<Media>,
    /// Where warden-agent and warden-controller are (default: next to warden-rig).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// The firmware ELF for --controller qemu (default: where `cargo fw` puts it).
    #[arg(long)]
    firmware: Option<PathBuf>,
    /// `[agent] realtime_priority` (1 to 99; 0: normal scheduling). The
    /// default is what docs/configuration.md recommends for the fast profile.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=99))]
    agent_realtime: u8,
    /// `[agent] mlock` (true or false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    agent_mlock: bool,
    /// Run the Linux controller under SCHED_FIFO at this priority (1 to 99;
    /// 0: normal scheduling). QEMU always runs at normal scheduling.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(0..=99))]
    controller_realtime: u8,
    /// Seed of the serial lines' faults.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many servers: alpha, beta, gamma, delta (2 to 4).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=4))]
    servers: u8,
    /// How many groups (1 to 4): svc, db, web, mail, group k homed on
    /// server k (modulo the servers), every server eligible in turn after it.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4), conflicts_with = "group")]
    groups: Option<u8>,
    /// A group, given whole: NAME=NODE,NODE[+ipv6][+mac][+failback], home
    /// first (e.g. `db=beta,alpha+ipv6`); repeat for more.
    #[arg(long, value_name = "SPEC")]
    group: Vec<String>,
    /// Give each server a second NIC on an uplink with a ping node
    /// (ipfail's), which faults can cut per server.
    #[arg(long)]
    uplink: bool,
    /// Plant a deliberate bug, to see a scenario's checks catch it: one of
    /// the Linux controller's (skip-fence-confirm, ignore-release-report,
    /// power-before-persist, forget-fences-on-boot, no-damping,
    /// acquire-before-fence, feed-while-stalled; only in a controller built
    /// with its `flaws` feature) or the rig's own (no-announce: addresses
    /// added without gratuitous ARP or neighbour advertisements;
    /// udp-misrouted: the controller's UDP links carry nothing).
    #[arg(long, value_name = "FLAW")]
    plant: Vec<String>,
    /// Copy the run's logs, configuration and timeline to this directory at the end.
    #[arg(long, value_name = "DIR")]
    keep_logs: Option<PathBuf>,
    /// Print the result as JSON on stdout (progress goes to stderr).
    #[arg(long)]
    json: bool,
    /// Print every event as it happens.
    #[arg(long, short)]
    verbose: bool,
}

impl RunArgs {
    /// The options of a run, for `--controller linux` or `qemu`.
    fn options(&self) -> Result<Options, RigError> {
        match self.controller {
            campaign::Controllers::One(kind) => self.options_with(kind),
            campaign::Controllers::Both => {
                Err(RigError::Options("--controller both: only a campaign runs both controllers in turn".into()))
            }
        }
    }

    /// The options of a run against `controller`.
    fn options_with(&self, controller: ControllerKind) -> Result<Options, RigError> {
        let servers = usize::from(self.servers);
        let groups = if self.group.is_empty() {
            GroupSpec::layout(usize::from(self.groups.unwrap_or(1)), servers)
        } else {
            self.group
                .iter()
                .map(|g| GroupSpec::parse(g, servers).map_err(|e| RigError::Options(format!("--group {e}"))))
                .collect::<Result<_, _>>()?
        };
        Ok(Options {
            servers,
            groups,
            uplink: self.uplink,
            plant: self.plant.clone(),
            keepalive: self.keepalive,
            deadtime: self.deadtime,
            warntime: self.warntime,
            initdead: self.initdead,
            boot_delay: self.boot_delay,
            sense_interval: self.sense_interval,
            fsck: self.fsck.clone(),
            bin_dir: self.bin_dir.clone(),
            controller,
            media: self.media.unwrap_or(Media::default_for(controller)),
            agent_realtime: Some(self.agent_realtime).filter(|p| *p > 0),
            agent_mlock: self.agent_mlock,
            controller_realtime: Some(self.controller_realtime)
                .filter(|p| *p > 0 && controller == ControllerKind::Linux),
            seed: self.seed,
            keep_logs: self.keep_logs.clone(),
            firmware: self.firmware.clone(),
            narration: match (self.verbose, self.json) {
                (false, _) => Narration::Quiet,
                (true, false) => Narration::Story,
                (true, true) => Narration::StoryOnStderr,
            },
            ..Options::default()
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { dir, listen, faults } => {
            finish(service::serve(&dir, listen, faults.as_deref()).map(|()| true))
        }
        Command::Keeper { netns, server, program } => {
            let Some((program, args)) = program.split_first() else { return ExitCode::from(2) };
            finish(keeper::run(&netns, &server, program, args).map(|()| true))
        }
        command => {
            if let Err(e) = signals::install() {
                return finish(Err(e));
            }
            finish(run(command))
        }
    }
}

fn finish(result: Result<bool, RigError>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("warden-rig: {:#}", anyhow::Error::new(e));
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<bool, RigError> {
    match command {
        Command::Demo(args) => Ok(demo::run(args.options()?)?.passed()),
        Command::Scenario { name, run } => {
            if !run.json {
                eprintln!("warden-rig: scenario {} ...", name.name());
            }
            let verdict = scenario::run(name, run.options()?)?;
            if run.json {
                println!("{}", verdict.to_json());
            } else {
                print!("{}", verdict.render());
            }
            Ok(verdict.passed())
        }
        Command::Bench { what: BenchKind::Fence, runs, run, .. } => {
            let options = run.options()?;
            options.check()?;
            if options.controller != ControllerKind::Linux {
                return Err(RigError::Options("bench fence needs the Linux controller (its operator endpoint)".into()));
            }
            let report = warden_rig::runs::pacemaker::bench(usize::try_from(runs).unwrap_or(1), options, |i, t| {
                eprintln!(
                    "warden-rig: fence {i}/{runs}: stonith_admin {:.1} ms, fence_warden {}",
                    t.total.as_secs_f64() * 1000.0,
                    t.agent.map_or("-".to_owned(), |d| format!("{} ms", d.as_millis()))
                );
            })?;
            if run.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.table());
            }
            Ok(report.verdict.passed())
        }
        Command::Bench { what: BenchKind::Failover, runs, fault, profile, controllers, run } => {
            let base = run.options()?;
            let profiles = if profile.is_empty() { vec![(base.keepalive, base.deadtime)] } else { profile };
            let controllers = if controllers.is_empty() { vec![base.controller] } else { controllers };
            let mut passed = true;
            let mut reports = Vec::new();
            for controller in &controllers {
                for (keepalive, deadtime) in &profiles {
                    let options = Options {
                        keepalive: *keepalive,
                        deadtime: *deadtime,
                        controller: *controller,
                        media: run.media.unwrap_or(Media::default_for(*controller)),
                        controller_realtime: Some(run.controller_realtime)
                            .filter(|p| *p > 0 && *controller == ControllerKind::Linux),
                        ..base.clone()
                    };
                    options.check()?;
                    let label = format!(
                        "{} controller, {}/{} ms, {}",
                        options.controller.name(),
                        keepalive.as_millis(),
                        deadtime.as_millis(),
                        fault.name()
                    );
                    let report = bench::failover(usize::try_from(runs).unwrap_or(1), fault, options, |i, f| {
                        eprintln!(
                            "warden-rig: {label}: run {i}/{runs}: outage {}",
                            f.outage.map_or("not seen".to_owned(), |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
                        );
                    })?;
                    passed &= report.verdict.passed();
                    if !run.json {
                        print!("{}", report.table());
                        println!();
                    }
                    reports.push(report.to_json());
                }
            }
            if run.json {
                println!("{}", serde_json::Value::Array(reports));
            }
            Ok(passed)
        }
        Command::Soak { minutes, stress, scrape_load, run } => {
            if !(minutes > 0.0 && minutes <= 24.0 * 60.0) {
                return Err(RigError::Options(format!("--minutes {minutes}: from above 0 to 1440")));
            }
            let length = Duration::from_secs_f64(minutes * 60.0);
            let report = soak::run(length, stress, scrape_load, run.options()?, |done, unwanted| {
                eprintln!(
                    "warden-rig: soak {:.0}/{:.0} s, {unwanted} unwanted events",
                    done.as_secs_f64(),
                    length.as_secs_f64()
                );
            })?;
            if run.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.render());
            }
            Ok(report.verdict.passed())
        }
        Command::Campaign { runs, run } => {
            // Each run draws its own cluster: options that would set one
            // are refused rather than ignored.
            for (given, name) in [
                (run.servers != 2, "--servers"),
                (run.groups.is_some(), "--groups"),
                (!run.group.is_empty(), "--group"),
                (run.uplink, "--uplink"),
                (run.media.is_some(), "--media"),
            ] {
                if given {
                    return Err(RigError::Options(format!(
                        "{name}: a campaign draws each run's cluster itself (two or three servers, as many groups, an uplink)"
                    )));
                }
            }
            let base = run.options_with(ControllerKind::Linux)?;
            let controllers = run.controller;
            if controllers != campaign::Controllers::One(ControllerKind::Linux) {
                if let Some(flaw) = base.controller_flaws().first() {
                    return Err(RigError::Options(format!(
                        "--plant {flaw}: the controller's flaws are planted in the Linux controller (--controller linux)"
                    )));
                }
            }
            let started = std::time::Instant::now();
            let tally = campaign::run(runs, run.seed, controllers, &base, |i, o| {
                let verdict = if o.passed() { "pass".to_owned() } else { "FAIL".to_owned() };
                eprintln!(
                    "run {}/{runs} seed {} {} {} servers: {}: {verdict}{}{} ({:.0} s)",
                    i + 1,
                    o.plan.seed,
                    o.plan.controller.name(),
                    o.plan.servers,
                    o.plan.describe(),
                    o.outage.map_or(String::new(), |d| format!(", outage {:.1} ms", d.as_secs_f64() * 1000.0)),
                    if o.passed() {
                        String::new()
                    } else {
                        format!(
                            "\n    {}\n    replay: warden-rig campaign --runs 1 --seed {} --controller {} (with the same timing options)",
                            [o.violations.join("; "), o.liveness.clone().unwrap_or_default(), o.rig_errors.join("; "),
                             if o.lost_writes > 0 { format!("{} acknowledged records lost", o.lost_writes) } else { String::new() }]
                                .into_iter()
                                .filter(|s| !s.is_empty())
                                .collect::<Vec<_>>()
                                .join("; "),
                            o.plan.seed,
                            o.plan.controller.name()
                        )
                    },
                    started.elapsed().as_secs_f64()
                );
            })?;
            if run.json {
                let outcomes: Vec<serde_json::Value> =
                    tally.outcomes.iter().map(campaign::RunOutcome::to_json).collect();
                let (runs, violations, lost, liveness, rig_errors) = tally.totals();
                println!(
                    "{}",
                    serde_json::json!({"runs": runs, "violations": violations, "lost_writes": lost,
                        "liveness_failures": liveness, "rig_errors": rig_errors, "passed": tally.passed(),
                        "outcomes": outcomes})
                );
            } else {
                print!("{}", tally.table());
                let (.., rig_errors) = tally.totals();
                if rig_errors > 0 {
                    println!("rig errors (the rig could not do what it had to) in {rig_errors} runs");
                }
                println!("{}", tally.last_line());
            }
            Ok(tally.passed())
        }
        Command::Cleanup => {
            let (removed, failed) = leftovers::clean();
            for r in &removed {
                println!("removed {r}");
            }
            for (f, why) in &failed {
                eprintln!("could not remove {f}: {why}");
            }
            if removed.is_empty() && failed.is_empty() {
                println!("nothing left behind");
            }
            Ok(failed.is_empty())
        }
        Command::Serve { .. } | Command::Keeper { .. } => Ok(true),
    }
}
