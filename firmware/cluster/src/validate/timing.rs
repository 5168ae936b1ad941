//! `[timing]`: the controller's timers, each checked against the others by
//! the core's own rules and named as the file wrote it (or as a default).

use warden_core::controller::{Timing, TimingProblem};

use super::value::int_in;
use super::Checked;
use crate::duration::{format_millis, Millis};
use crate::error::Problem;
use crate::raw::{RawTiming, S};

pub(super) fn check(raw: Option<&S<RawTiming>>) -> Checked<Timing> {
    let mut t = Timing::DEFAULT;
    let Some(raw) = raw else {
        return Ok(t);
    };
    let r = raw.get_ref();
    let set = |slot: &mut warden_core::Duration, v: &Option<S<Millis>>| {
        if let Some(v) = v {
            *slot = v.get_ref().core();
        }
    };
    set(&mut t.keepalive, &r.keepalive);
    set(&mut t.warntime, &r.warntime);
    set(&mut t.deadtime, &r.deadtime);
    set(&mut t.initdead, &r.initdead);
    set(&mut t.release_timeout, &r.release_timeout);
    set(&mut t.fence_timeout, &r.fence_timeout);
    set(&mut t.failback_delay, &r.failback_delay);
    set(&mut t.move_window, &r.move_window);
    set(&mut t.failure_timeout, &r.failure_timeout);
    if let Some(m) = &r.max_moves {
        t.max_moves = u8::try_from(int_in(m, 1, 255)?).unwrap_or(u8::MAX);
    }
    if let Some(a) = &r.auto_unfence_after {
        if a.get_ref().0 == 0 {
            return Err(Problem::at(
                a.span(),
                "must be greater than zero (leave it out to power fenced nodes on only by hand)",
            ));
        }
        t.auto_unfence_after = Some(a.get_ref().core());
    }
    let Err(e) = t.validate() else {
        return Ok(t);
    };
    let spans: [(&str, &Option<S<Millis>>); 10] = [
        ("keepalive", &r.keepalive),
        ("warntime", &r.warntime),
        ("deadtime", &r.deadtime),
        ("initdead", &r.initdead),
        ("release_timeout", &r.release_timeout),
        ("fence_timeout", &r.fence_timeout),
        ("failback_delay", &r.failback_delay),
        ("move_window", &r.move_window),
        ("failure_timeout", &r.failure_timeout),
        ("auto_unfence_after", &r.auto_unfence_after),
    ];
    let given = |key: &str| spans.iter().find(|(k, _)| *k == key).and_then(|(_, v)| v.as_ref()).map(S::span);
    let show = |key: &str, ms: warden_core::Duration| {
        let v = format_millis(ms.as_millis());
        if given(key).is_some() {
            v
        } else {
            format!("{v} (default)")
        }
    };
    let message = match e.problem {
        TimingProblem::Zero => "must be greater than zero".to_owned(),
        TimingProblem::DeadtimeTooShort => format!(
            "{} must be more than twice keepalive ({})",
            show("deadtime", t.deadtime),
            show("keepalive", t.keepalive)
        ),
        TimingProblem::WarntimeOutside => format!(
            "{} must be greater than keepalive ({}) and less than deadtime ({})",
            show("warntime", t.warntime),
            show("keepalive", t.keepalive),
            show("deadtime", t.deadtime)
        ),
        TimingProblem::InitdeadShort => {
            format!("{} must be at least deadtime ({})", show("initdead", t.initdead), show("deadtime", t.deadtime))
        }
        _ => e.to_string(),
    };
    Err(match given(e.key) {
        Some(span) => Problem::at(span, message),
        None => Problem::below(raw.span(), e.key, message),
    })
}
