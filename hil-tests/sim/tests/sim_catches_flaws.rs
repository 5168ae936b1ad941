//! The simulator must be able to fail: each test plants one deliberate bug
//! in every controller the simulation boots and requires the campaign to
//! find a seed that breaks the rule that bug breaks, with a readable trace.

use warden_core::controller::{Controller, Flaw};
use warden_sim::{line, Campaign, Faults, RunOptions};

/// Runs up to `seeds` seeds with `hook` planted; returns the first violation
/// found (seed, text) after printing its report.
fn first_violation(hook: fn(&mut Controller), seeds: u64, faults: &str) -> Option<(u64, String)> {
    let campaign = Campaign {
        first_seed: 1,
        seeds,
        faults: Faults::parse(faults).expect("a valid fault list"),
        threads: 2,
        options: RunOptions { hook: Some(hook), ..RunOptions::default() },
        progress: false,
        stop_on_failure: true,
    };
    let summary = campaign.run();
    println!("{}", summary.line());
    let failure = summary.failures.iter().find(|o| o.violation.is_some())?;
    let (at, what) = failure.violation.clone()?;
    println!("seed {} broke a rule at {at} ms: {what}", failure.plan.seed);
    for (t, entry) in failure.trace.entries() {
        println!("  {}", line(*t, entry));
    }
    Some((failure.plan.seed, what))
}

fn assert_caught(name: &str, found: Option<(u64, String)>, rule: &str) {
    let (seed, what) = found.unwrap_or_else(|| panic!("the planted flaw {name} went unnoticed"));
    assert!(what.contains(rule), "{name}: seed {seed} broke `{what}`, expected a break of `{rule}`");
}

#[test]
fn skipping_fence_confirmation_is_caught() {
    let found = first_violation(|c| c.plant(Flaw::SkipFenceConfirm), 4000, "relay-ignore,hang,cut,power-loss");
    assert_caught("SkipFenceConfirm", found, "exclusivity");
}

#[test]
fn ignoring_the_release_report_is_caught() {
    let found = first_violation(|c| c.plant(Flaw::IgnoreReleaseReport), 4000, "operator,ping-loss,service-death");
    assert_caught("IgnoreReleaseReport", found, "exclusivity");
}

#[test]
fn acquiring_before_the_fence_is_caught() {
    let found = first_violation(|c| c.plant(Flaw::AcquireBeforeFence), 4000, "hang,cut");
    assert_caught("AcquireBeforeFence", found, "exclusivity");
}

#[test]
fn switching_power_before_persisting_is_caught() {
    let faults = "hang,cut,power-loss,store-failure,slow-store";
    let found = first_violation(|c| c.plant(Flaw::PowerBeforePersist), 4000, faults);
    assert_caught("PowerBeforePersist", found, "before its fence record was durable (rule 3)");
}

#[test]
fn feeding_the_watchdog_with_a_link_stalled_is_caught() {
    let found = first_violation(|c| c.plant(Flaw::FeedWhileStalled), 4000, "link-stall");
    assert_caught("FeedWhileStalled", found, "the watchdog rule");
}

#[test]
fn forgetting_fences_at_boot_is_caught() {
    let found = first_violation(|c| c.plant(Flaw::ForgetFencesOnBoot), 8000, "controller-reset,hang,cut,power-loss");
    assert_caught("ForgetFencesOnBoot", found, "rule 3");
}

#[test]
fn ignoring_damping_is_caught() {
    let found = first_violation(|c| c.plant(Flaw::NoDamping), 8000, "service-death,step-failure,ping-loss");
    assert_caught("NoDamping", found, "no ping-pong");
}
