//! The process rig's fault scenarios, each run by `warden-rig scenario
//! NAME --json` (as root) and judged by its verdict: the real agents on
//! simulated servers, a real power cut, agent kill, host hang, serial cut
//! or controller restart, against the Linux controller and against the
//! firmware under QEMU (`--controller qemu`), and the firmware's watchdog
//! reset with a fenced server.
//!
//! A missing tool or binary (QEMU, `defmt-print`, the firmware from `cargo
//! fw`), or a run without root, fails the test with the rig's own message,
//! which says what to install or build. The scenarios run one at a time:
//! each builds a whole rig.

use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

/// One rig at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Timing for the tests: looser than the product's 20/100 ms, so that a
/// busy CI machine cannot stall a node past deadtime (100 ms / 1 s is what
/// held a 10-minute soak with both cores busy); the checks do not depend
/// on it (speed is measured by `warden-rig bench`, not asserted).
const TIMING: [&str; 4] = ["--keepalive", "100ms", "--deadtime", "1s"];

/// Runs scenario `name` with `controller` (`linux` or `qemu`), and fails
/// unless its verdict passed with every check in `expected` (by name)
/// among its checks, passed.
fn scenario_passes(name: &str, controller: &str, expected: &[&str]) -> Value {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let out = Command::new(env!("CARGO_BIN_EXE_warden-rig"))
        .args(["scenario", name, "--json", "--controller", controller])
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

/// How a power loss is found: on the sense line, at once.
const ON_THE_SENSE_LINE: &[&str] = &["the power loss of alpha was seen on the sense line, not waited out"];
/// How a hang is found: by silence, the power still on.
const BY_SILENCE: &[&str] = &["the hang of alpha was found by its silence, power still on"];

fn failover_passes(name: &str, controller: &str, found: &[&str]) {
    let verdict = scenario_passes(name, controller, &[FAILOVER, SAFETY, found].concat());
    for milestone in ["detection", "fence_confirmed", "group_placed", "address_on_new_holder", "client_visible_outage"]
    {
        assert!(verdict["timings_ms"][milestone].is_number(), "{milestone} not measured: {verdict}");
    }
    assert!(verdict["counts"]["records_acknowledged"].as_u64() > Some(0), "{verdict}");
}

/// What the metrics show after a power loss: the controller's page and the
/// new holder's, scraped from the client, clean for `promtool check
/// metrics` and telling what the status does.
const METRICS: &[&str] = &["the metrics pages pass promtool and agree with the status"];

#[test]
fn power_loss_of_the_holder_fences_it_and_moves_the_group() {
    failover_passes("power-loss", "linux", &[ON_THE_SENSE_LINE, METRICS].concat());
}

#[test]
fn a_killed_agent_gets_its_server_fenced() {
    failover_passes("agent-kill", "linux", &[]);
}

#[test]
fn a_hung_host_is_fenced() {
    failover_passes("host-hang", "linux", BY_SILENCE);
}

#[test]
fn a_cut_serial_line_gets_its_server_fenced_before_takeover() {
    failover_passes("serial-cut", "linux", &[]);
}

#[test]
fn a_cut_serial_line_with_the_udp_link_up_moves_nothing() {
    scenario_passes(
        "serial-cut-udp-up",
        "linux",
        &[
            &[
                "the cluster was steady before the fault",
                "alpha's cut serial line moved nothing while its UDP link was up",
            ],
            &["alpha still holds the group"][..],
            SAFETY,
        ]
        .concat(),
    );
}

#[test]
fn a_noisy_serial_line_with_the_udp_link_up_is_refused_and_counted_and_moves_nothing() {
    scenario_passes(
        "noisy-line",
        "linux",
        &[
            &[
                "the cluster was steady before the fault",
                "alpha's corrupted frames were refused and counted by the controller",
                "alpha's noisy serial line moved nothing while its UDP link was up",
                "alpha still holds the group",
            ],
            SAFETY,
        ]
        .concat(),
    );
}

#[test]
fn a_controller_restart_moves_nothing_and_toggles_no_relay() {
    scenario_passes("controller-restart", "linux", &[RESTART, SAFETY].concat());
}

#[test]
fn pacemaker_fences_through_fence_warden_and_its_failure_paths_fence_nothing() {
    let safety: Vec<&str> = SAFETY.iter().copied().filter(|c| *c != "no controller alarm").collect();
    let verdict = scenario_passes(
        "pacemaker-fence",
        "linux",
        &[
            &[
                "fence_warden's metadata is valid against fence-agents' schema, and stonith_admin reads it",
                "stonith_admin --validate accepts the device and refuses a missing cluster file",
                "a device registered for the controller lists its servers",
                "succeeds only with alpha fenced and its power sensed off",
                "the group moved to beta",
                "wardenctl --controller, from a host with no agent, sees alpha fenced, the fence in the history, and refuses an unknown node",
                "the device answers its monitor and says alpha is off",
                "stonith_admin --unfence brings alpha back as a standby holding nothing",
                "the fencer's history lists the fence and the unfence as successes",
                "an unreachable controller: the fence fails within the timeout, nothing fenced",
                "a wrong key: refused and counted by the controller, a clear error, nothing fenced",
                "an unknown plug: a clear error, nothing fenced",
                "a relay that never confirms: the fence fails while the sense reads power",
                "no controller alarm but the provoked one",
            ],
            &safety[..],
        ]
        .concat(),
    );
    assert!(verdict["timings_ms"]["stonith_admin_fence"].is_number(), "{verdict}");
}

/// What a controller that comes back must show.
const RESTART: &[&str] = &["no relay toggled", "nothing moved", "the new controller adopted the group where it was"];

#[test]
fn firmware_power_loss_of_the_holder_fences_it_and_moves_the_group() {
    failover_passes("power-loss", "qemu", ON_THE_SENSE_LINE);
}

#[test]
fn firmware_a_killed_agent_gets_its_server_fenced() {
    failover_passes("agent-kill", "qemu", &[]);
}

#[test]
fn firmware_a_hung_host_is_fenced() {
    failover_passes("host-hang", "qemu", BY_SILENCE);
}

#[test]
fn firmware_a_cut_serial_line_gets_its_server_fenced_before_takeover() {
    failover_passes("serial-cut", "qemu", &[]);
}

#[test]
fn firmware_halted_and_reset_moves_nothing_and_toggles_no_relay() {
    scenario_passes("controller-restart", "qemu", &[RESTART, SAFETY].concat());
}

#[test]
fn firmware_watchdog_reset_moves_nothing_and_the_fenced_server_stays_off() {
    let safety: Vec<&str> = SAFETY.iter().copied().filter(|c| *c != "no controller alarm").collect();
    let verdict = scenario_passes(
        "firmware-watchdog",
        "qemu",
        &[
            &["alpha fenced and the group on beta before the reset", "the watchdog reset the board"],
            RESTART,
            &["fenced alpha still off after the reset", "no controller alarm but the provoked one"],
            &safety[..],
        ]
        .concat(),
    );
    assert!(verdict["timings_ms"]["wedge_to_watchdog"].is_number(), "{verdict}");
}
