//! `warden-sim`: deterministic whole-cluster simulation.
//!
//! ```text
//! warden-sim [--seeds N] [--first-seed S] [--faults LIST] [--threads T] [--json]
//! warden-sim --narrate
//! WARDEN_SEED=<seed> warden-sim [--faults LIST] [--wire]   # replay one seed, narrating every event
//! ```
//!
//! Ends with `seeds=N steps=S sim_hours=H violations=V liveness_failures=L`
//! and exits non-zero when V or L is not zero.

use std::process::ExitCode;

use clap::Parser;
use warden_sim::{line, narrate, Campaign, Faults, Outcome, RunOptions, Summary};

/// Deterministic simulation of a Warden cluster under seeded faults.
#[derive(Debug, Parser)]
#[command(name = "warden-sim", version)]
struct Cli {
    /// Number of seeded schedules to run.
    #[arg(long, default_value_t = 1000)]
    seeds: u64,
    /// The first seed (seeds are consecutive).
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    /// Faults the seeds may switch on: `all`, `none`, or a comma-separated
    /// list (loss, delay, duplicate, corrupt, cut, power-loss, hang, crash,
    /// step-failure, stuck-release, service-death, relay-ignore, sense-stuck,
    /// controller-reset, ping-loss, operator, store-failure, slow-store,
    /// link-stall).
    #[arg(long, default_value = "all", value_parser = Faults::parse)]
    faults: Faults,
    /// Worker threads (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Run the narrated demo (a failover told step by step) instead.
    #[arg(long)]
    narrate: bool,
    /// With WARDEN_SEED: also show every message on the wire.
    #[arg(long)]
    wire: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.narrate {
        return if narrate() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    }
    if let Ok(text) = std::env::var("WARDEN_SEED") {
        let Ok(seed) = text.trim().parse::<u64>() else {
            eprintln!("warden-sim: WARDEN_SEED must be a number, got `{text}`");
            return ExitCode::from(2);
        };
        return replay(seed, &cli);
    }
    if cli.seeds == 0 {
        eprintln!("warden-sim: --seeds must be at least 1");
        return ExitCode::from(2);
    }
    let threads = cli.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let campaign = Campaign {
        first_seed: cli.first_seed,
        seeds: cli.seeds,
        faults: cli.faults,
        threads,
        options: RunOptions::default(),
        progress: !cli.json && cli.seeds >= 1000,
        stop_on_failure: false,
    };
    let summary = campaign.run();
    if cli.json {
        print_json(&summary);
    } else {
        for failure in &summary.failures {
            report(failure, 40);
        }
        print_stats(&summary, cli.faults);
        println!("{}", summary.line());
    }
    if summary.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn replay(seed: u64, cli: &Cli) -> ExitCode {
    let options = RunOptions { keep: 0, echo: true, wire: cli.wire, hook: None };
    let outcome = warden_sim::Sim::new(warden_sim::Plan::from_seed(seed, cli.faults), options);
    println!("{}", warden_sim::Plan::from_seed(seed, cli.faults));
    let outcome = outcome.run();
    let summary = verdict(&outcome);
    println!("{summary}");
    if outcome.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn verdict(o: &Outcome) -> String {
    match (&o.violation, &o.liveness) {
        (Some((at, what)), _) => format!("seed {}: VIOLATION at {at} ms: {what}", o.plan.seed),
        (None, Some(what)) => format!("seed {}: LIVENESS FAILURE: {what}", o.plan.seed),
        (None, None) => format!(
            "seed {}: passed ({} steps, {:.1} virtual s, every group held {} ms after the faults stopped)",
            o.plan.seed,
            o.steps,
            o.sim_ms as f64 / 1000.0,
            o.recovered_after.unwrap_or(0)
        ),
    }
}

/// A failing seed: what it was, what broke, the last events, how to replay.
fn report(o: &Outcome, last: usize) {
    println!("---- {}", verdict(o));
    println!("{}", o.plan);
    let entries: Vec<_> = o.trace.entries().collect();
    let skip = entries.len().saturating_sub(last);
    println!("  last {} events:", entries.len() - skip);
    for (at, entry) in entries.into_iter().skip(skip) {
        println!("  {}", line(*at, entry));
    }
    println!("  replay: WARDEN_SEED={} cargo run --release -p warden-sim --bin warden-sim", o.plan.seed);
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn print_stats(s: &Summary, faults: Faults) {
    let mut r = s.recovered.clone();
    r.sort_unstable();
    let wall = s.wall.as_secs_f64().max(1e-9);
    println!("faults allowed: {faults}");
    println!(
        "wall {:.1}s: {:.0} seeds/s, {:.0} simulated s per wall s, {:.0} steps/s",
        wall,
        s.seeds as f64 / wall,
        s.sim_ms as f64 / 1000.0 / wall,
        s.steps as f64 / wall
    );
    println!(
        "recovery after the faults stop (virtual ms): p50 {} p99 {} max {} ({} seeds)",
        percentile(&r, 50.0),
        percentile(&r, 99.0),
        r.last().copied().unwrap_or(0),
        r.len()
    );
}

fn print_json(s: &Summary) {
    let failures: Vec<String> = s
        .failures
        .iter()
        .map(|o| {
            let (kind, what) = match (&o.violation, &o.liveness) {
                (Some((_, w)), _) => ("violation", w.clone()),
                (None, Some(w)) => ("liveness", w.clone()),
                (None, None) => ("none", String::new()),
            };
            serde_json::json!({"seed": o.plan.seed, "kind": kind, "what": what}).to_string()
        })
        .collect();
    println!(
        "{{\"seeds\":{},\"steps\":{},\"sim_hours\":{:.3},\"violations\":{},\"liveness_failures\":{},\"wall_s\":{:.3},\"failures\":[{}]}}",
        s.seeds,
        s.steps,
        s.sim_ms as f64 / 3_600_000.0,
        s.violations,
        s.liveness_failures,
        s.wall.as_secs_f64(),
        failures.join(",")
    );
}
