//! The narrated demo: a two-server cluster on the simulated rig, the active
//! server loses power, the standby takes over, the fenced server stays off
//! until an operator admits it back.

use warden_agent_proto::{Action, AgentEvent};
use warden_core::controller::{Event, Timing};
use warden_core::wire::Op;
use warden_core::{Duration, GroupId, NodeId};

use super::engine::{RunOptions, Scripted, Sim};
use super::plan::{Faults, GroupSpec, Plan};
use super::trace::{line, Entry};

const N0: NodeId = NodeId(0);
const N1: NodeId = NodeId(1);
const GROUP: GroupId = GroupId(0);

fn plan() -> Plan {
    let mut sc = Plan::from_seed(1, Faults::NONE);
    sc.nodes = 2;
    sc.links = 1;
    sc.reorder = false;
    sc.bytes = true;
    sc.hmac = true;
    sc.groups = vec![GroupSpec { eligible: vec![N0, N1], auto_failback: false, resources: 3 }];
    sc.timing = Timing {
        keepalive: Duration(200),
        warntime: Duration(500),
        deadtime: Duration(1000),
        initdead: Duration(2000),
        release_timeout: Duration(5000),
        fence_timeout: Duration(1000),
        failback_delay: Duration(10_000),
        move_window: Duration(60_000),
        max_moves: 3,
        failure_timeout: Duration(30_000),
        auto_unfence_after: None,
    };
    sc.fence_idle_dead = false;
    sc.faults = Faults::NONE;
    sc.fault_until = 3_600_000;
    sc.latency = (2, 5);
    sc.step_time = (40, 120);
    sc.boot_delay = 2_000;
    sc.sense_latency = 20;
    sc.relays_close_on_reset = false;
    sc.ping_nodes = 1;
    sc.controller_silence = 1000;
    sc.monitor_interval = 2000;
    sc.probe_interval = 30_000;
    sc
}

/// Whether an entry is worth telling in the narration.
fn told(entry: &Entry) -> bool {
    match entry {
        Entry::StepBegin(..) | Entry::Message(..) | Entry::Sense(..) => false,
        Entry::StepEnd(_, step, _) => matches!(step.action, Action::Start | Action::Stop),
        Entry::Agent(_, e) => !matches!(e, AgentEvent::Connected),
        _ => true,
    }
}

/// Runs the demo, printing what happens with virtual timings. Returns
/// whether every check passed.
#[must_use]
pub fn narrate() -> bool {
    let sc = plan();
    println!("Warden on the simulated rig: 2 servers (node0, node1), one controller, relays with sense.");
    println!("Group0 = address + shared disk + service; home node0, may fail over to node1.");
    println!("Timing: keepalive 200ms, deadtime 1s. Times below are virtual (the simulator's clock).\n");
    let loss_at = 10_000;
    let back_at = 20_000;
    let unfence_at = 30_000;
    let mut sim = Sim::new(sc, RunOptions { keep: 1_000_000, ..RunOptions::default() });
    sim.script(&[
        (loss_at, Scripted::PowerLoss(N0)),
        (back_at, Scripted::PowerBack(N0)),
        (unfence_at, Scripted::Console(Op::Unfence { node: N0 })),
        (40_000, Scripted::End),
    ]);
    let outcome = sim.run();
    let entries: Vec<&(u64, Entry)> = outcome.trace.entries().collect();
    let headers = [
        (0, "== the cluster comes up"),
        (loss_at, "== node0, holding group0, loses power"),
        (back_at, "== node0's supply comes back: the fenced node stays off"),
        (unfence_at, "== the operator admits node0 back (wardenctl unfence node0)"),
    ];
    let mut next_header = 0;
    for (at, entry) in &entries {
        while next_header < headers.len() && *at >= headers[next_header].0 {
            println!("\n{}", headers[next_header].1);
            next_header += 1;
        }
        if told(entry) {
            println!("{}", line(*at, entry));
        }
    }
    let find = |f: &dyn Fn(&Entry) -> bool| entries.iter().find(|(at, e)| *at >= loss_at && f(e)).map(|(at, _)| *at);
    let dead = find(&|e| matches!(e, Entry::Alarm(Event::NodeDead { node }) if *node == N0));
    let fenced = find(&|e| matches!(e, Entry::Alarm(Event::FenceConfirmed { node }) if *node == N0));
    let placed = find(&|e| matches!(e, Entry::Alarm(Event::Placed { group, to, .. }) if *group == GROUP && *to == N1));
    let held = find(&|e| matches!(e, Entry::Agent(n, AgentEvent::Acquired { group }) if *n == N1 && *group == GROUP));
    let powered_while_fenced = entries
        .iter()
        .any(|(at, e)| *at > loss_at && *at < unfence_at && matches!(e, Entry::Powered(n, true) if *n == N0));
    println!("\n== summary (virtual time)");
    let since = |t: Option<u64>| t.map_or("never".to_string(), |t| format!("{} ms", t - loss_at));
    println!("power loss -> node0 declared dead:       {}", since(dead));
    println!("power loss -> fence confirmed:           {}", since(fenced));
    println!("power loss -> group0 placed on node1:    {}", since(placed));
    println!("power loss -> group0 running on node1:   {}", since(held));
    println!(
        "node0 powered between the fence and the unfence: {}",
        if powered_while_fenced { "YES (wrong)" } else { "no" }
    );
    let ok = outcome.violation.is_none() && held.is_some() && fenced.is_some() && !powered_while_fenced;
    match &outcome.violation {
        Some((at, what)) => println!("safety checks: VIOLATION at {at} ms: {what}"),
        None => println!("safety checks after every event: exclusivity, stay down, persist before power: passed"),
    }
    println!("verdict: {}", if ok { "PASS" } else { "FAIL" });
    ok
}
