//! The process rig's fault scenarios, each run by `warden-rig scenario
//! NAME --json` (as root) and judged by its verdict: the real agents on
//! simulated servers, a real power cut, agent kill, host hang, serial cut
//! or controller restart, against the Linux controller and against the
//! firmware under QEMU (`--controller qemu`), and the firmware's watchdog
//! reset with a fenced server.
//!
//! A missing tool or binary (QEMU, `defmt-print`, the firmware from `cargo
//! fw`), or a run without root, fails the test with the rig's own message,
//! which says what to install or build. Two rigs run at a time (each
//! builds its own namespaces, disks and lines under a prefix of its own;
//! the machine has two cores).

use std::process::Command;
use std::sync::{Condvar, Mutex, PoisonError};

use serde_json::Value;

/// How many rigs run at once.
const AT_ONCE: usize = 2;

/// Rigs running now, and the signal that one ended.
static RUNNING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

/// A place among the [`AT_ONCE`] rigs, given back when dropped.
struct Slot;

impl Slot {
    fn take() -> Self {
        let (count, ended) = &RUNNING;
        let mut n = count.lock().unwrap_or_else(PoisonError::into_inner);
        while *n >= AT_ONCE {
            n = ended.wait(n).unwrap_or_else(PoisonError::into_inner);
        }
        *n += 1;
        Self
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (count, ended) = &RUNNING;
        *count.lock().unwrap_or_else(PoisonError::into_inner) -= 1;
        ended.notify_one();
    }
}

/// Timing for the tests: looser than the product's 20/100 ms, so that a
/// busy CI machine cannot stall a node past deadtime (100 ms / 1 s is what
/// held a 10-minute soak with both cores busy); the checks do not depend
/// on it (speed is measured by `warden-rig bench`, not asserted).
const TIMING: [&str; 4] = ["--keepalive", "100ms", "--deadtime", "1s"];

/// Runs scenario `name` with `controller` (`linux` or `qemu`), and fails
/// unless its verdict passed with every check in `expected` (by name)
/// among its checks, passed.
fn scenario_passes(name: &str, controller: &str, expected: &[&str]) -> Value {
    let _slot = Slot::take();
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
                "the controller reported alpha's serial link down, then up again",
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

/// What a partitioned holder must show: fenced before the takeover, and
/// the client never served by two.
const PARTITION: &[&str] = &["partitioned alpha served the client until fenced, then never again"];

#[test]
fn a_holder_partitioned_from_the_controller_is_fenced_before_takeover() {
    failover_passes("partition", "linux", PARTITION);
}

/// What a graceful move from alpha to beta must show.
const GRACEFUL: &[&str] = &["alpha released svc before beta acquired it", "the move of svc fenced nothing"];

fn moves(controller: &str) {
    scenario_passes(
        "uplink-loss",
        controller,
        &[
            &["the controller moved svc for beta's better connection", "svc stays on beta once the uplink is back"],
            GRACEFUL,
            SAFETY,
        ]
        .concat(),
    );
}

#[test]
fn a_holder_that_loses_its_uplink_hands_the_group_over_gracefully() {
    moves("linux");
}

#[test]
fn firmware_a_holder_that_loses_its_uplink_hands_the_group_over_gracefully() {
    moves("qemu");
}

fn failing(controller: &str) {
    scenario_passes(
        "failing-service",
        controller,
        &[
            &[
                "alpha restarted the service locally, then gave svc up as failing",
                "alpha was kept off svc for failure_timeout",
                "a failing service fenced no one",
            ],
            GRACEFUL,
            SAFETY,
        ]
        .concat(),
    );
}

#[test]
fn a_failing_service_is_restarted_then_moved_and_kept_off() {
    failing("linux");
}

#[test]
fn firmware_a_failing_service_is_restarted_then_moved_and_kept_off() {
    failing("qemu");
}

fn stuck(name: &str, controller: &str, check: &str) {
    let verdict =
        scenario_passes(name, controller, &[&[check, "fenced alpha stays off until unfenced"][..], SAFETY].concat());
    assert!(verdict["timings_ms"]["release_asked_to_placed"].is_number(), "{verdict}");
}

#[test]
fn a_release_that_cannot_finish_gets_the_holder_fenced() {
    stuck("stuck-release", "linux", "alpha's failed release got it fenced, its power off before beta took svc");
}

#[test]
fn a_release_that_cannot_finish_gets_the_holder_fenced_across_a_controller_restart() {
    stuck(
        "stuck-release-restart",
        "linux",
        "alpha's failed release got it fenced across a controller restart, its power off before beta took svc",
    );
}

#[test]
fn firmware_a_release_that_cannot_finish_gets_the_holder_fenced() {
    stuck("stuck-release", "qemu", "alpha's failed release got it fenced, its power off before beta took svc");
}

#[test]
fn firmware_a_release_that_cannot_finish_gets_the_holder_fenced_across_a_reset() {
    stuck(
        "stuck-release-restart",
        "qemu",
        "alpha's failed release got it fenced across a controller restart, its power off before beta took svc",
    );
}

fn operator(controller: &str) {
    let verdict = scenario_passes(
        "operator-moves",
        controller,
        &[
            &[
                "wardenctl migrate moved svc to beta",
                "wardenctl standby beta drained svc back to alpha",
                "svc stays on alpha after wardenctl online beta",
                "beta released svc before alpha acquired it",
            ],
            GRACEFUL,
            SAFETY,
        ]
        .concat(),
    );
    assert!(verdict["timings_ms"]["migrate_outage"].is_number(), "{verdict}");
}

#[test]
fn operator_migrate_standby_and_online_move_gracefully() {
    operator("linux");
}

#[test]
fn firmware_operator_migrate_standby_and_online_move_gracefully() {
    operator("qemu");
}

fn failback(controller: &str) {
    scenario_passes(
        "auto-failback",
        controller,
        &[
            &[
                "svc (auto_failback) went home to alpha once it was up for failback_delay",
                "beta released svc before alpha acquired it",
                "db stays on beta (no auto_failback)",
            ],
            SAFETY,
        ]
        .concat(),
    );
}

#[test]
fn auto_failback_takes_a_group_home_and_leaves_the_other() {
    failback("linux");
}

#[test]
fn firmware_auto_failback_takes_a_group_home_and_leaves_the_other() {
    failback("qemu");
}

fn damped(controller: &str) {
    scenario_passes(
        "damping",
        controller,
        &[
            &["svc stays on alpha after a third uplink loss", "two moves made, the third damped, nothing fenced"][..],
            SAFETY,
        ]
        .concat(),
    );
}

#[test]
fn damping_holds_the_third_move_back() {
    damped("linux");
}

#[test]
fn firmware_damping_holds_the_third_move_back() {
    damped("qemu");
}

fn families(controller: &str) {
    let verdict = scenario_passes(
        "address-families",
        controller,
        &[
            &[
                "the client's neighbour entry for db's IPv6 address follows beta's advertisement",
                "the client's neighbour entry for web's address never changed",
            ],
            SAFETY,
        ]
        .concat(),
    );
    assert!(verdict["timings_ms"]["db_ipv6_outage"].is_number(), "{verdict}");
}

#[test]
fn an_ipv6_group_and_a_mac_takeover_group_move() {
    families("linux");
}

#[test]
fn firmware_an_ipv6_group_and_a_mac_takeover_group_move() {
    families("qemu");
}

fn three(controller: &str) {
    scenario_passes(
        "three-servers",
        controller,
        &[
            &[
                "each group on its home before the fault",
                "alpha powered off before svc went to beta and db to gamma",
                "web stays on gamma (only the lost groups move)",
                "web's address and disk never left gamma",
                "fenced alpha stays off until unfenced",
            ],
            SAFETY,
        ]
        .concat(),
    );
}

#[test]
fn three_servers_only_the_lost_groups_move_each_to_its_next_server() {
    three("linux");
}

#[test]
fn firmware_three_servers_only_the_lost_groups_move_each_to_its_next_server() {
    three("qemu");
}

/// A short campaign: random faults on fresh clusters, against both
/// controllers in turn; its last line and exit status.
#[test]
fn a_short_campaign_against_both_controllers_finds_nothing() {
    let _slot = Slot::take();
    let out = Command::new(env!("CARGO_BIN_EXE_warden-rig"))
        .args(["campaign", "--runs", "10", "--seed", "1", "--controller", "both"])
        .args(TIMING)
        .output()
        .expect("warden-rig did not start");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_ne!(out.status.code(), Some(2), "the campaign could not run:\n{stderr}");
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(last, "runs=10 violations=0 lost_writes=0 liveness_failures=0", "{stdout}\n{stderr}");
    assert!(stdout.contains("fault") && stdout.contains("outage p50"), "no table:\n{stdout}");
    assert_eq!(stderr.lines().filter(|l| l.starts_with("run ")).count(), 10, "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
}
