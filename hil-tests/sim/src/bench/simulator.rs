//! The simulator's speed: virtual seconds per wall second, one thread.

use std::time::Instant as WallClock;

use warden_core::controller::Timing;
use warden_core::{Duration, NodeId};

use super::{percentile, Effort, Row};
use crate::{Faults, GroupSpec, Plan, RunOptions, Scripted, Sim};

/// A quiet two-node cluster (keepalive 1 s, one group of two resources,
/// monitors every 10 s) for an hour of virtual time per run.
pub(super) fn sim_row(effort: Effort) -> Result<Row, String> {
    let hour = 3_600_000;
    let mut rates = Vec::new();
    let mut steps = 0;
    for seed in 0..effort.sim_seeds {
        let mut sc = Plan::from_seed(seed, Faults::NONE);
        sc.nodes = 2;
        sc.links = 1;
        sc.bytes = false;
        sc.groups = vec![GroupSpec { eligible: vec![NodeId(0), NodeId(1)], auto_failback: false, resources: 2 }];
        sc.timing = Timing::DEFAULT;
        sc.timing.initdead = Duration::from_secs(10);
        sc.fault_until = hour + 1;
        sc.controller_silence = Timing::DEFAULT.deadtime.as_millis();
        sc.monitor_interval = 10_000;
        sc.probe_interval = 60_000;
        let mut sim = Sim::new(sc, RunOptions { keep: 1, ..RunOptions::default() });
        sim.script(&[(hour, Scripted::End)]);
        let t = WallClock::now();
        let outcome = sim.run();
        let wall = t.elapsed().as_secs_f64();
        steps += outcome.steps as usize;
        if outcome.violation.is_some() || outcome.sim_ms < hour {
            return Err(format!(
                "the quiet simulated cluster of seed {seed} did not run an hour cleanly: {:?}",
                outcome.violation
            ));
        }
        rates.push(outcome.sim_ms as f64 / 1000.0 / wall);
    }
    Ok(Row {
        name: "simulator, 2 nodes / 1 group, quiet, one thread".into(),
        unit: "sim-s/wall-s",
        median: percentile(&mut rates, 50.0),
        p99: None,
        samples: steps,
    })
}
