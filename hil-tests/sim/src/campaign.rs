//! Many seeds, on every core, and what they add up to.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration as WallDuration, Instant as WallClock};

use super::engine::{Outcome, RunOptions, Sim};
use super::plan::{Faults, Plan};

/// Runs one seed.
#[must_use]
pub fn run_seed(seed: u64, faults: Faults, options: RunOptions) -> Outcome {
    Sim::new(Plan::from_seed(seed, faults), options).run()
}

/// A run of many seeds.
#[derive(Debug, Clone, Copy)]
pub struct Campaign {
    /// The first seed; seeds are consecutive.
    pub first_seed: u64,
    /// How many seeds.
    pub seeds: u64,
    /// Faults each seed may switch on.
    pub faults: Faults,
    /// Worker threads.
    pub threads: usize,
    /// How each seed runs (hooks, trace size).
    pub options: RunOptions,
    /// Print progress to standard error.
    pub progress: bool,
    /// Stop starting seeds once one has failed.
    pub stop_on_failure: bool,
}

/// What a campaign found.
#[derive(Debug)]
pub struct Summary {
    /// Seeds run.
    pub seeds: u64,
    /// Events and timers handled, in all.
    pub steps: u64,
    /// Virtual time simulated, in all (ms).
    pub sim_ms: u64,
    /// Seeds that broke a safety rule.
    pub violations: u64,
    /// Seeds where some group was not held again within the bound.
    pub liveness_failures: u64,
    /// The failing seeds' outcomes, lowest seed first (at most 5 kept).
    pub failures: Vec<Outcome>,
    /// Recovery times after repair (ms), for the seeds that recovered.
    pub recovered: Vec<u64>,
    /// Wall-clock time taken.
    pub wall: WallDuration,
}

impl Summary {
    /// The one-line verdict.
    #[must_use]
    pub fn line(&self) -> String {
        format!(
            "seeds={} steps={} sim_hours={:.1} violations={} liveness_failures={}",
            self.seeds,
            self.steps,
            self.sim_ms as f64 / 3_600_000.0,
            self.violations,
            self.liveness_failures
        )
    }

    /// Neither violations nor liveness failures.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.violations == 0 && self.liveness_failures == 0
    }
}

impl Campaign {
    /// Runs every seed and adds up the outcomes.
    #[must_use]
    pub fn run(&self) -> Summary {
        let started = WallClock::now();
        let next = AtomicU64::new(0);
        let failed = std::sync::atomic::AtomicBool::new(false);
        let done = AtomicU64::new(0);
        let total = Mutex::new(Summary {
            seeds: 0,
            steps: 0,
            sim_ms: 0,
            violations: 0,
            liveness_failures: 0,
            failures: Vec::new(),
            recovered: Vec::new(),
            wall: WallDuration::ZERO,
        });
        let threads = self.threads.max(1);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    let mut local = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= self.seeds || (self.stop_on_failure && failed.load(Ordering::Relaxed)) {
                            break;
                        }
                        let outcome = run_seed(self.first_seed.wrapping_add(i), self.faults, self.options);
                        if !outcome.passed() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        local.push(outcome);
                        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if self.progress && finished.is_multiple_of((self.seeds / 10).max(1)) {
                            eprintln!("warden-sim: {finished}/{} seeds", self.seeds);
                        }
                        if local.len() >= 64 {
                            merge(&total, &mut local);
                        }
                    }
                    merge(&total, &mut local);
                });
            }
        });
        let mut summary = total.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        summary.failures.sort_by_key(|o| o.plan.seed);
        summary.failures.truncate(5);
        summary.wall = started.elapsed();
        summary
    }
}

fn merge(total: &Mutex<Summary>, local: &mut Vec<Outcome>) {
    let mut t = total.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for o in local.drain(..) {
        t.seeds += 1;
        t.steps += o.steps;
        t.sim_ms += o.sim_ms;
        if let Some(r) = o.recovered_after {
            t.recovered.push(r);
        }
        if !o.passed() {
            if o.violation.is_some() {
                t.violations += 1;
            } else {
                t.liveness_failures += 1;
            }
            if t.failures.len() < 64 {
                t.failures.push(o);
            }
        }
    }
}
