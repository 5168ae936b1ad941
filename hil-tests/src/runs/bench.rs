//! `warden-rig bench failover --runs N`: the server holding the group
//! loses power N times on one rig (each run's victim is unfenced and
//! comes back as the standby for the next run); each failover is timed
//! from the power cut to detection, fence confirmed, takeover and the end
//! of the client-visible outage. Reported as min/p50/p99/max; nothing is
//! asserted on timing.

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
}

/// Runs the failover bench: `runs` power losses of the holder.
///
/// # Errors
///
/// [`RigError`] when the rig cannot be set up or a failover never completes.
pub fn failover(
    runs: usize,
    options: Options,
    mut progress: impl FnMut(usize, &Failover),
) -> Result<BenchReport, RigError> {
    let (keepalive, deadtime) = (options.keepalive, options.deadtime);
    let mut rig = Rig::up(options)?;
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
        rig.set_supply(holder, false);
        let f = follow_failover(&mut rig, &victim, &other, t0)?;
        rig.set_supply(holder, true);
        rig.timeline().push(Happening::Note(format!("bench run {}: {victim} to {other}", run + 1)));
        unfence(&mut rig, &victim)?;
        progress(run + 1, &f);
        measured.push(f);
    }
    let record = rig.finish();
    let mut verdict = Verdict::new("bench failover");
    verdict.common_checks(&record);
    Ok(BenchReport { runs: measured, verdict, keepalive, deadtime })
}

impl BenchReport {
    fn rows(&self) -> Vec<(&'static str, Option<Summary>)> {
        let pick =
            |f: fn(&Failover) -> Option<Duration>| Summary::of(&self.runs.iter().filter_map(f).collect::<Vec<_>>());
        vec![
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
            "failover after power loss, {} runs (keepalive {} ms, deadtime {} ms); ms from the power cut\n",
            self.runs.len(),
            self.keepalive.as_millis(),
            self.deadtime.as_millis()
        );
        out.push_str(&format!("{:<24} {:>5} {:>8} {:>8} {:>8} {:>8}\n", "", "n", "min", "p50", "p99", "max"));
        for (name, s) in self.rows() {
            match s {
                Some(s) => out.push_str(&format!(
                    "{name:<24} {:>5} {:>8.1} {:>8.1} {:>8.1} {:>8.1}\n",
                    s.samples,
                    ms(s.min),
                    ms(s.p50),
                    ms(s.p99),
                    ms(s.max)
                )),
                None => out.push_str(&format!("{name:<24} {:>5}\n", 0)),
            }
        }
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
            "runs": self.runs.len(),
            "keepalive_ms": self.keepalive.as_millis(),
            "deadtime_ms": self.deadtime.as_millis(),
            "summary": rows,
            "each": self.runs.iter().map(|f| f.timings().into_iter().map(|(k, v)| (k.to_owned(), v.map_or(Value::Null, |d| json!(ms(d))))).collect::<serde_json::Map<_, _>>()).collect::<Vec<_>>(),
            "verdict": self.verdict.to_json(),
        })
    }
}
