//! The benchmarks: what a controller step, an agent step and a frame cost,
//! and how fast the simulator runs, gathered in a [`Report`] that prints as
//! a table or serialises to JSON.
//!
//! Method: steady-state traffic is recorded once from a small in-process
//! cluster ([`Recording`]); then the recorded inputs are replayed into
//! clones of the recorded starting state. A batch replays the whole trace
//! under one timer; the figure is the median of the batch means. A
//! separate pass times every event alone for the p99 (that pass includes
//! the timer's own cost, tens of nanoseconds). Frames are timed the same
//! way, a round trip for an event. Nothing here asserts on timing.

mod frames;
mod simulator;
mod steps;
mod table;

use std::hint::black_box;
use std::time::Instant as WallClock;

use serde::{Serialize, Serializer};
use warden_core::wire::Auth;

use crate::{Plan, Recording};

/// Every benchmark's figures, and where they were taken.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Cores of the machine (the benchmarks themselves use one).
    pub cores: usize,
    /// Taken with the quick effort.
    pub quick: bool,
    /// One row per measurement.
    pub rows: Vec<Row>,
}

/// One measurement: a line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What was measured.
    pub name: String,
    /// The unit of `median` and `p99`.
    pub unit: &'static str,
    /// The median of the batch means (NaN: nothing to measure).
    #[serde(serialize_with = "one_decimal")]
    pub median: f64,
    /// The 99th percentile of single events, where it means something.
    #[serde(serialize_with = "one_decimal_or_null")]
    pub p99: Option<f64>,
    /// Events, frames or simulator steps behind the figures.
    pub samples: usize,
}

/// How long each measurement runs.
#[derive(Debug, Clone, Copy)]
struct Effort {
    /// Timed batches per measurement (the median is taken over them).
    batches: usize,
    /// Passes that time each event alone (for the p99).
    single_passes: usize,
    /// Simulated seconds of steady state recorded for replay.
    record_secs: u64,
    /// Frames per batch.
    frames_per_batch: usize,
    /// Simulator seeds run.
    sim_seeds: u64,
}

impl Effort {
    const FULL: Self = Self { batches: 41, single_passes: 5, record_secs: 600, frames_per_batch: 2000, sim_seeds: 20 };
    const QUICK: Self = Self { batches: 9, single_passes: 1, record_secs: 60, frames_per_batch: 300, sim_seeds: 3 };
}

impl Report {
    /// Runs every benchmark, with the quick effort when `quick`: controller
    /// and agent steps of a 2-node / 1-group and an 8-node / 32-group
    /// cluster, a Status frame with HMAC and with CRC, and the simulator.
    ///
    /// # Errors
    ///
    /// A benchmark could not set itself up: a cluster did not reach steady
    /// state, a frame did not decode to itself, or the simulated cluster
    /// did not run cleanly.
    pub fn measure(quick: bool) -> Result<Self, String> {
        let effort = if quick { Effort::QUICK } else { Effort::FULL };
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let mut rows = Vec::new();
        for (nodes, groups) in [(2u8, 1u8), (8, 32)] {
            let recording = Recording::record(&Plan::steady(nodes, groups), effort.record_secs)?;
            rows.push(steps::controller_row(&recording, nodes, groups, effort));
            rows.push(steps::agent_row(&recording, groups, effort));
        }
        for (name, auth) in [("HMAC-SHA256/16", frames::hmac_auth()), ("CRC-32C", Auth::Crc)] {
            rows.push(frames::frame_row(name, &auth, effort)?);
        }
        rows.push(simulator::sim_row(effort)?);
        Ok(Self { cores, quick, rows })
    }
}

/// Replays `events` inputs into fresh copies of a starting state: returns
/// (median of batch means, p99 of single events), in nanoseconds.
fn measure<S>(effort: Effort, events: usize, start: impl Fn() -> S, mut step: impl FnMut(&mut S, usize)) -> (f64, f64) {
    if events == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut means = Vec::with_capacity(effort.batches);
    for _ in 0..effort.batches {
        let mut state = start();
        let t = WallClock::now();
        for i in 0..events {
            step(&mut state, i);
        }
        means.push(t.elapsed().as_nanos() as f64 / events as f64);
        black_box(&state);
    }
    let mut singles = Vec::with_capacity(events * effort.single_passes);
    for _ in 0..effort.single_passes {
        let mut state = start();
        for i in 0..events {
            let t = WallClock::now();
            step(&mut state, i);
            singles.push(t.elapsed().as_nanos() as f64);
        }
        black_box(&state);
    }
    (percentile(&mut means, 50.0), percentile(&mut singles, 99.0))
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (values.len() - 1) as f64).round() as usize;
    values[rank.min(values.len() - 1)]
}

/// A figure in JSON: one decimal is all a timing carries; no figure is null.
fn one_decimal<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64((v * 10.0).round() / 10.0)
    } else {
        s.serialize_none()
    }
}

fn one_decimal_or_null<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => one_decimal(v, s),
        None => s.serialize_none(),
    }
}
