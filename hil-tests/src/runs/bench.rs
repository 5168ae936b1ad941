//! `warden-rig bench failover --runs N [--fault power-loss|hang]`: the
//! server holding the group loses power (or hangs: every process stopped)
//! N times on one rig (each run's victim is unfenced and comes back as the
//! standby for the next run); each failover is timed from the fault to
//! detection, fence confirmed, placement, takeover and the end of the
//! client-visible outage. Reported as min/p50/p99/max; nothing is asserted
//! on timing.

use std::time::Duration;

use serde_json::{json, Value};

use super::cluster::Rig;
use super::config::{MAX_MOVES, MOVE_WINDOW};
use super::failover::{follow_failover, unfence, Failover};
use super::options::Options;
use crate::watch::stats::{ms, Summary};
use crate::watch::timeline::Happening;
use crate::watch::verdict::Verdict;
use crate::RigError;

/// Acknowledged records between runs: the new standby has settled.
const SETTLE_RECORDS: usize = 30;

/// The fault each run of the bench injects on the holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Its own supply is cut: its relay board's sense sees it at once.
    #[default]
    PowerLoss,
    /// Every process stopped (`SIGSTOP`), power still on: found at deadtime.
    Hang,
}

impl Fault {
    /// As on the command line.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::PowerLoss => "power-loss",
            Self::Hang => "hang",
        }
    }

    const fn described(self) -> &'static str {
        match self {
            Self::PowerLoss => "power loss",
            Self::Hang => "a hang (SIGSTOP of every process)",
        }
    }
}

impl std::str::FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "power-loss" => Ok(Self::PowerLoss),
            "hang" => Ok(Self::Hang),
            other => Err(format!("unknown fault `{other}` (known: power-loss, hang)")),
        }
    }
}

/// What a bench measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Each run's milestones.
    pub runs: Vec<Failover>,
    /// The checks over the whole bench (one address holder, one mount, no
    /// acknowledged record lost).
    pub verdict: Verdict,
    /// The options' timing, for the table's title.
    pub keepalive: Duration,
    /// Deadtime.
    pub deadtime: Duration,
    /// The fault injected.
    pub fault: Fault,
    /// The controller that ran (`linux` or `qemu`).
    pub controller: &'static str,
}

/// Runs the failover bench: `runs` faults of the holder.
///
/// # Errors
///
/// [`RigError`] when the rig cannot be set up or a failover never completes.
pub fn failover(
    runs: usize,
    fault: Fault,
    options: Options,
    mut progress: impl FnMut(usize, &Failover),
) -> Result<BenchReport, RigError> {
    let (keepalive, deadtime) = (options.keepalive, options.deadtime);
    let mut rig = Rig::up(options)?;
    let controller = rig.controller_kind();
    let mut measured = Vec::with_capacity(runs);
    // One failover per MOVE_WINDOW / MAX_MOVES at most, so that damping
    // (DESIGN §3 rule 6) never holds a run back: the bench measures failover.
    let pace = MOVE_WINDOW / MAX_MOVES;
    let mut last: Option<Duration> = None;
    for run in 0..runs {
        let holder =
            rig.holder().ok_or_else(|| RigError::Broken("no single server holds the service address".into()))?;
        let (victim, other) = (rig.name(holder).to_owned(), rig.name(1 - holder).to_owned());
        rig.wait_records(SETTLE_RECORDS)?;
        while last.is_some_and(|at| rig.timeline().now() < at + pace) {
            rig.wait_records(1)?;
        }
        let t0 = rig.timeline().now();
        last = Some(t0);
        match fault {
            Fault::PowerLoss => rig.set_supply(holder, false),
            Fault::Hang => rig.hang(holder, true),
        }
        let f = follow_failover(&mut rig, &victim, &other, t0)?;
        // A hung server went with the power its relay cut: nothing to resume.
        if fault == Fault::PowerLoss {
            rig.set_supply(holder, true);
        }
        rig.timeline().push(Happening::Note(format!("bench run {}: {victim} to {other}", run + 1)));
        unfence(&mut rig, &victim)?;
        progress(run + 1, &f);
        measured.push(f);
    }
    let record = rig.finish();
    let mut verdict = Verdict::new("bench failover");
    verdict.common_checks(&record);
    Ok(BenchReport { runs: measured, verdict, keepalive, deadtime, fault, controller })
}

impl BenchReport {
    fn rows(&self) -> Vec<(&'static str, Option<Summary>)> {
        let pick =
            |f: fn(&Failover) -> Option<Duration>| Summary::of(&self.runs.iter().filter_map(f).collect::<Vec<_>>());
        vec![
            ("power gone", pick(|f| f.power_gone)),
            ("detection", pick(|f| f.detected)),
            ("fence confirmed", pick(|f| f.fenced)),
            ("group placed", pick(|f| f.placed)),
            ("takeover (address up)", pick(|f| f.address_up)),
            ("first answer", pick(|f| f.answered)),
            ("client-visible outage", pick(|f| f.outage)),
        ]
    }

    /// The table.
    #[must_use]
    pub fn table(&self) -> String {
        let mut out = format!(
            "failover after {}, {} runs, {} controller (keepalive {} ms, deadtime {} ms); ms from the fault\n\
             (power gone: the rig has stopped, cut off and killed everything of the server)\n",
            self.fault.described(),
            self.runs.len(),
            self.controller,
            self.keepalive.as_millis(),
            self.deadtime.as_millis()
        );
        out.push_str(&crate::watch::stats::table(&self.rows()));
        out.push_str(&self.verdict.render());
        out
    }

    /// As JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let rows: serde_json::Map<String, Value> = self
            .rows()
            .into_iter()
            .map(|(name, s)| {
                (
                    name.replace([' ', '(', ')'], "_").trim_end_matches('_').to_owned(),
                    s.map_or(Value::Null, |s| s.to_json()),
                )
            })
            .collect();
        json!({
            "bench": "failover",
            "fault": self.fault.name(),
            "controller": self.controller,
            "runs": self.runs.len(),
            "keepalive_ms": self.keepalive.as_millis(),
            "deadtime_ms": self.deadtime.as_millis(),
            "summary": rows,
            "each": self.runs.iter().map(|f| f.timings().into_iter().map(|(k, v)| (k.to_owned(), v.map_or(Value::Null, |d| json!(ms(d))))).collect::<serde_json::Map<_, _>>()).collect::<Vec<_>>(),
            "verdict": self.verdict.to_json(),
        })
    }
}
