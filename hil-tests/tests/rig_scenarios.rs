//! The process rig's fault scenarios against the Linux controller, each
//! run by `warden-rig scenario NAME --json` (as root) and judged by its
//! verdict: the real agents and controller on simulated servers, a real
//! power cut, agent kill, host hang, serial cut or controller restart.
//!
//! A missing tool or binary, or a run without root, fails the test with
//! the rig's own message, which says what to install or build. The
//! scenarios run one at a time: each builds a whole rig.

use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

/// One rig at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Timing for the tests: looser than the product's 20/100 ms, so that a
/// busy CI machine cannot stall a node past deadtime; the checks do not
/// depend on it (speed is measured by `warden-rig bench`, not asserted).
const TIMING: [&str; 4] = ["--keepalive", "50ms", "--deadtime", "400ms"];

/// Runs scenario `name`, and fails unless its verdict passed with every
/// check in `expected` (by name) among its checks, passed.
fn scenario_passes(name: &str, expected: &[&str]) -> Value {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let out = Command::new(env!("CARGO_BIN_EXE_warden-rig"))
        .args(["scenario", name, "--json"])
        .args(TIMING)
        .output()
        .expect("warden-rig did not start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(2), "warden-rig scenario {name} could not run:\n{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("warden-rig scenario {name} printed no JSON verdict ({e}):\n{stdout}\n{stderr}"));
    let pretty = serde_json::to_string_pretty(&verdict).unwrap_or_default();
    assert_eq!(verdict["scenario"], name, "{pretty}");
    let checks = verdict["checks"].as_array().cloned().unwrap_or_default();
    for want in expected {
        let found = checks
            .iter()
            .find(|c| c["check"].as_str().is_some_and(|n| n.contains(want)))
            .unwrap_or_else(|| panic!("scenario {name} has no check `{want}`:\n{pretty}"));
        assert_eq!(found["passed"], true, "scenario {name}: check `{want}` failed:\n{pretty}\n{stderr}");
    }
    assert_eq!(verdict["passed"], true, "scenario {name} failed:\n{pretty}\n{stderr}");
    assert_eq!(out.status.code(), Some(0), "a passed verdict exits 0:\n{stderr}");
    verdict
}

/// What every run must show.
const SAFETY: &[&str] = &[
    "service address on one server at a time",
    "shared disk mounted on one server at a time",
    "no acknowledged record lost",
    "the rig carried out every power change",
    "no controller alarm",
];

/// What a failover of the holder (alpha) to beta must show.
const FAILOVER: &[&str] = &[
    "the cluster was steady before the fault",
    "alpha powered off before beta took the group",
    "the client is answered by beta",
    "fenced alpha stays off until unfenced",
    "alpha comes back as a standby holding nothing",
];

fn failover_passes(name: &str) {
    let verdict = scenario_passes(name, &[FAILOVER, SAFETY].concat());
    for milestone in ["detection", "fence_confirmed", "group_placed", "address_on_new_holder", "client_visible_outage"]
    {
        assert!(verdict["timings_ms"][milestone].is_number(), "{milestone} not measured: {verdict}");
    }
    assert!(verdict["counts"]["records_acknowledged"].as_u64() > Some(0), "{verdict}");
}

#[test]
fn power_loss_of_the_holder_fences_it_and_moves_the_group() {
    failover_passes("power-loss");
}

#[test]
fn a_killed_agent_gets_its_server_fenced() {
    failover_passes("agent-kill");
}

#[test]
fn a_hung_host_is_fenced() {
    failover_passes("host-hang");
}

#[test]
fn a_cut_serial_line_gets_its_server_fenced_before_takeover() {
    failover_passes("serial-cut");
}

#[test]
fn a_controller_restart_moves_nothing_and_toggles_no_relay() {
    scenario_passes(
        "controller-restart",
        &[&["no relay toggled", "nothing moved", "the new controller adopted the group where it was"], SAFETY].concat(),
    );
}
