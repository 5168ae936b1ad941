//! `warden-rig demo`: a failover told step by step. Two servers come up,
//! the service runs on the first, the first loses power, the controller
//! fences it and the second takes over; the fenced server stays off until
//! `wardenctl unfence` (run on the second server, through its agent to the
//! controller) admits it, and it comes back as a standby holding nothing.

use super::cluster::Rig;
use super::failover::{follow_failover, unfence};
use super::options::Options;
use crate::watch::stats::ms;
use crate::watch::timeline::{Happening, Narration};
use crate::watch::verdict::Verdict;
use crate::RigError;

fn step(text: &str) {
    println!("\n== {text}");
}

/// Runs the demo; the story goes to stdout as it happens.
///
/// # Errors
///
/// [`RigError`] when the rig cannot be set up or a step never happens.
pub fn run(mut options: Options) -> Result<Verdict, RigError> {
    options.narration = Narration::Story;
    step(&format!(
        "1. Two servers, a controller, a client (keepalive {} ms, deadtime {} ms)",
        options.keepalive.as_millis(),
        options.deadtime.as_millis()
    ));
    let mut rig = Rig::up(options)?;
    let holder = rig.holder().ok_or_else(|| RigError::Broken("no single server holds the service address".into()))?;
    let (victim, other) = (rig.name(holder).to_owned(), rig.name(1 - holder).to_owned());
    rig.wait_records(50)?;
    let log = rig.probe_log();
    println!(
        "   the service runs on {victim}; the client has {} answers, the writer {} records on the shared disk",
        log.answered,
        rig.writer_log().acked.len()
    );

    step(&format!("2. {victim} loses power"));
    let t0 = rig.timeline().now();
    rig.set_supply(holder, false);
    let f = follow_failover(&mut rig, &victim, &other, t0)?;
    rig.wait_records(50)?;
    let show = |d: Option<std::time::Duration>| d.map_or_else(|| "-".to_owned(), |d| format!("{:>6.1} ms", ms(d)));
    println!("\n   from the power cut:");
    println!("   {:<40} {}", format!("{victim} declared dead"), show(f.detected));
    println!("   {:<40} {}", format!("{victim} fenced (power sensed off)"), show(f.fenced));
    println!("   {:<40} {}", format!("group placed on {other}"), show(f.placed));
    println!("   {:<40} {}", format!("service address up on {other}"), show(f.address_up));
    println!("   {:<40} {}", format!("client answered by {other}"), show(f.answered));
    println!("   {:<40} {}", "client-visible outage", show(f.outage));

    step(&format!("3. {victim}'s supply is back, but it stays fenced"));
    rig.set_supply(holder, true);
    rig.wait_records(50)?;
    println!(
        "   relay {}, power {}: {victim} stays off until an operator admits it",
        if rig.relay(holder) { "on" } else { "off" },
        if rig.powered(holder) { "on" } else { "off" }
    );

    step(&format!("4. `wardenctl unfence {victim}` on {other}"));
    unfence(&mut rig, &victim)?;
    rig.wait_records(50)?;
    let other_index = 1 - holder;
    println!("\n   `wardenctl status` on {other}:");
    let (code, text) = rig.wardenctl(other_index, &["status"])?;
    for line in text.lines() {
        println!("   | {line}");
    }
    if code != 0 {
        println!("   (wardenctl status exited {code})");
    }
    println!("\n   `wardenctl history --json` on {other}:");
    let (code, text) = rig.wardenctl(other_index, &["history", "--json"])?;
    println!("   | {}", text.trim());
    let history: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_default();
    let entries = history["history"]["entries"].as_array().cloned().unwrap_or_default();
    let fence = entries.iter().find(|e| e["action"] == "fence" && e["node"] == victim.as_str());
    let unfenced = entries.iter().find(|e| e["action"] == "unfence" && e["node"] == victim.as_str());

    step("5. Verdict");
    rig.timeline().set_narration(Narration::Quiet);
    rig.timeline().push(Happening::Note("demo over".into()));
    let record = rig.finish();
    let mut verdict = Verdict::new("demo");
    verdict.timings = f.timings();
    verdict.check(
        &format!("wardenctl history lists the fence of {victim} with its times, and the unfence"),
        code == 0
            && fence.is_some_and(|e| {
                e["reason"] == "dead"
                    && e["requested_by"] == "controller"
                    && e["result"] == "confirmed"
                    && e["confirm_ms"].is_u64()
                    && e["started"].as_str().is_some_and(|s| s.ends_with('Z'))
            })
            && unfenced.is_some_and(|e| e["requested_by"] == "agent" && e["via"] == other.as_str()),
        format!(
            "exit {code}; fence: {}; unfence: {}",
            fence.map_or("none".to_owned(), ToString::to_string),
            unfenced.map_or("none".to_owned(), ToString::to_string)
        ),
    );
    verdict.common_checks(&record);
    print!("{}", verdict.render());
    Ok(verdict)
}
