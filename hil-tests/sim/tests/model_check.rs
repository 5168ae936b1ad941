//! Bounded model check of the controller with two real agents (DESIGN §3,
//! safety rules 1–4), using `stateright` over the model in `model/`.
//!
//! Every test explores the whole space within its bound and prints the
//! bound and the number of states; run with
//! `cargo test --release -p warden-sim --test model_check -- --nocapture`
//! to see them. Properties checked in every reachable state:
//! * exclusivity: no group is active on two powered servers;
//! * stay down: a server fenced off never has power again, and no relay is
//!   switched on while its fence record says fenced;
//! * persist before power: no relay is switched off before the fence record
//!   is durable (the store may answer late, or fail a write);
//! * feed only on progress: the watchdog is never fed while a link driver
//!   is stalled.
//!
//! The flaw tests plant one deliberate controller bug each and require the
//! checker to find a counterexample, so a checker that cannot fail would be
//! noticed.

mod model;

use std::time::Instant as WallClock;

use stateright::{Checker, HasDiscoveries, Model};
use warden_core::controller::Flaw;

use model::{Bounds, ClusterModel, Start, Transition};

const SAFETY: [&str; 4] = ["exclusivity", "stay down", "persist before power", "feed only on progress"];

/// No faults, steady start; each test turns on what it needs.
const QUIET: Bounds = Bounds {
    start: Start::Steady,
    groups: 1,
    ticks: 6,
    capacity: 2,
    losses: 0,
    delays: 0,
    migrations: 0,
    cuts: 0,
    crashes: 0,
    power_losses: 0,
    resets: 0,
    step_failures: 0,
    relay_faults: 0,
    store_failures: 0,
    stalls: 0,
};

/// `WARDEN_MODEL_DEEP=1` explores the larger bounds (several minutes more);
/// CI runs the default ones.
fn deep() -> bool {
    std::env::var("WARDEN_MODEL_DEEP").is_ok_and(|v| v == "1")
}

/// `default` ticks, or `deeper` ones in a deep run.
fn ticks(default: u64, deeper: u64) -> u64 {
    if deep() {
        deeper
    } else {
        default
    }
}

/// Explores the whole bounded space (depth-first, two threads) and checks
/// every safety property; with `failover`, also that a failover is reached.
fn check_all(bounds: Bounds, failover: bool) {
    let started = WallClock::now();
    let checker = ClusterModel::new(bounds).checker().threads(2).spawn_dfs().join();
    println!(
        "model: {bounds}: states={} unique={} max_depth={} time={:.1}s",
        checker.state_count(),
        checker.unique_state_count(),
        checker.max_depth(),
        started.elapsed().as_secs_f64()
    );
    assert!(checker.is_done(), "the checker stopped before exploring the whole bounded space");
    for property in SAFETY {
        if let Some(path) = checker.discovery(property) {
            panic!("`{property}` violated within {bounds}; trace:\n{:#?}", path.into_actions());
        }
    }
    if failover {
        assert!(checker.discovery("failover").is_some(), "no failover is reachable within {bounds}");
    }
    println!("model: {bounds}: {} hold in every state", SAFETY.join(", "));
}

#[test]
fn cold_boot_places_once() {
    check_all(Bounds { start: Start::Cold, ticks: ticks(3, 4), ..QUIET }, false);
}

#[test]
fn lossy_links() {
    check_all(Bounds { losses: 2, ..QUIET }, false);
}

#[test]
fn migration_over_lossy_links() {
    check_all(Bounds { ticks: ticks(3, 4), losses: 1, migrations: 1, ..QUIET }, false);
}

#[test]
fn migration_with_step_failures() {
    check_all(Bounds { ticks: ticks(3, 4), migrations: 1, step_failures: 1, ..QUIET }, false);
}

#[test]
fn link_cut_with_relay_and_step_faults() {
    check_all(Bounds { ticks: 8, cuts: 1, step_failures: 1, relay_faults: 1, ..QUIET }, true);
}

#[test]
fn power_loss_with_relay_and_step_faults() {
    check_all(Bounds { ticks: ticks(6, 7), power_losses: 1, step_failures: 1, relay_faults: 1, ..QUIET }, true);
}

#[test]
fn agent_crash() {
    check_all(Bounds { ticks: ticks(5, 6), crashes: 1, ..QUIET }, false);
}

#[test]
fn controller_reset() {
    check_all(Bounds { resets: 1, ..QUIET }, false);
}

#[test]
fn controller_reset_during_a_fence() {
    check_all(Bounds { ticks: 5, cuts: 1, resets: 1, ..QUIET }, false);
}

#[test]
fn link_cut_with_a_failing_store() {
    check_all(Bounds { ticks: 8, cuts: 1, store_failures: 1, ..QUIET }, true);
}

#[test]
fn controller_reset_during_a_fence_the_store_fails() {
    check_all(Bounds { ticks: 5, cuts: 1, resets: 1, store_failures: 1, ..QUIET }, false);
}

#[test]
fn stalled_link_driver() {
    check_all(Bounds { stalls: 1, ..QUIET }, false);
}

#[test]
fn two_groups_link_cut_and_step_failure() {
    check_all(Bounds { groups: 2, ticks: ticks(6, 7), cuts: 1, step_failures: 1, ..QUIET }, true);
}

/// Runs the model with `flaw` planted, breadth-first, until `property`
/// fails, and returns the counterexample's transitions.
fn counterexample(flaw: Flaw, property: &'static str, bounds: Bounds) -> Vec<Transition> {
    let started = WallClock::now();
    let checker = ClusterModel::new(bounds)
        .with_flaw(flaw)
        .checker()
        .finish_when(HasDiscoveries::AnyOf([property].into_iter().collect()))
        .spawn_bfs()
        .join();
    let path = checker
        .discovery(property)
        .unwrap_or_else(|| panic!("{flaw:?} went unnoticed: no counterexample to {property} within {bounds}"));
    let transitions = path.into_actions();
    println!(
        "model: flaw {flaw:?} breaks {property}: trace of {} transitions, found after {} states ({} unique) in {:.1}s",
        transitions.len(),
        checker.state_count(),
        checker.unique_state_count(),
        started.elapsed().as_secs_f64()
    );
    for (i, t) in transitions.iter().enumerate() {
        println!("  {i:>3}: {t:?}");
    }
    transitions
}

#[test]
fn acquire_before_fence_breaks_exclusivity() {
    let trace = counterexample(Flaw::AcquireBeforeFence, "exclusivity", Bounds { ticks: 8, cuts: 1, ..QUIET });
    assert!(trace.iter().any(|t| matches!(t, Transition::Cut(_))), "the trace cuts no link: {trace:?}");
}

#[test]
fn skip_fence_confirm_breaks_exclusivity() {
    let bounds = Bounds { ticks: 8, cuts: 1, relay_faults: 1, ..QUIET };
    let trace = counterexample(Flaw::SkipFenceConfirm, "exclusivity", bounds);
    assert!(trace.iter().any(|t| matches!(t, Transition::Carry { ignored: true })), "no relay fault: {trace:?}");
}

#[test]
fn ignore_release_report_breaks_exclusivity() {
    let bounds = Bounds { migrations: 1, ..QUIET };
    let trace = counterexample(Flaw::IgnoreReleaseReport, "exclusivity", bounds);
    assert!(trace.iter().any(|t| matches!(t, Transition::Migrate { .. })), "no migration: {trace:?}");
}

#[test]
fn power_before_persist_is_caught() {
    let trace = counterexample(Flaw::PowerBeforePersist, "persist before power", Bounds { ticks: 8, cuts: 1, ..QUIET });
    assert!(trace.iter().any(|t| matches!(t, Transition::Carry { .. })), "no relay was switched: {trace:?}");
}

#[test]
fn power_before_a_durable_record_is_caught_with_a_failing_store() {
    let bounds = Bounds { ticks: 8, cuts: 1, store_failures: 1, ..QUIET };
    let trace = counterexample(Flaw::PowerBeforePersist, "persist before power", bounds);
    assert!(trace.iter().any(|t| matches!(t, Transition::Carry { .. })), "no relay was switched: {trace:?}");
}

#[test]
fn feed_while_stalled_is_caught() {
    let trace = counterexample(Flaw::FeedWhileStalled, "feed only on progress", Bounds { stalls: 1, ..QUIET });
    assert!(trace.iter().any(|t| matches!(t, Transition::Stall(_))), "no link driver stalled: {trace:?}");
}
