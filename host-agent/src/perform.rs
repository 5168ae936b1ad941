//! Carrying out one step on one resource: the call, its duration, the typed
//! result the protocol half takes, and the driver's words for the log.
//!
//! A driver that panics is contained here: the step fails (and says so)
//! instead of taking the daemon's worker, and the group with it, down.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crate::resource::{ErrorKind, Health, Resource};
use warden_agent_proto::{Action, StepResult};

/// How a step went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Performed {
    /// What the protocol half is told.
    pub result: StepResult,
    /// What the driver said about a failure or an unhealthy check (names
    /// the resource); `None` when all went well.
    pub detail: Option<String>,
    /// How long the call took.
    pub took: Duration,
}

impl Performed {
    /// The step did what was asked (a start or stop finished, a probe
    /// answered, a check passed).
    #[must_use]
    pub fn ok(&self) -> bool {
        matches!(self.result, StepResult::Done | StepResult::Present(_) | StepResult::Healthy)
    }

    /// A short word for the result: `done`, `active`, `inactive`,
    /// `unknown`, `healthy`, `unhealthy`, `failed (busy)`...
    #[must_use]
    pub fn word(&self) -> String {
        match self.result {
            StepResult::Done => "done".to_owned(),
            StepResult::Present(p) => format!("{p:?}").to_lowercase(),
            StepResult::Healthy => "healthy".to_owned(),
            StepResult::Unhealthy => "unhealthy".to_owned(),
            StepResult::Failed(ErrorKind::Failed) => "failed".to_owned(),
            StepResult::Failed(kind) => format!("failed ({})", kind_word(kind)),
        }
    }
}

/// The kind of a failure in one word, for logs and JSON.
#[must_use]
pub fn kind_word(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Failed => "failed",
        ErrorKind::Timeout => "timeout",
        ErrorKind::NotInstalled => "not-installed",
        ErrorKind::Config => "config",
        ErrorKind::Busy => "busy",
        ErrorKind::Permission => "permission",
    }
}

/// Runs `action` on `resource`.
pub fn perform(resource: &mut dyn Resource, action: Action) -> Performed {
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| match action {
        Action::Start => resource.start().map(|()| (StepResult::Done, None)),
        Action::Stop => resource.stop().map(|()| (StepResult::Done, None)),
        Action::Probe => resource.probe().map(|p| (StepResult::Present(p), None)),
        Action::Monitor => resource.monitor().map(|h| match h {
            Health::Healthy => (StepResult::Healthy, None),
            Health::Unhealthy(why) => (StepResult::Unhealthy, Some(why)),
        }),
    }));
    let took = started.elapsed();
    let (result, detail) = match outcome {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => (StepResult::Failed(e.kind), Some(e.message)),
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            (
                StepResult::Failed(ErrorKind::Failed),
                Some(format!("{action} {}: the driver panicked: {why}", resource.describe())),
            )
        }
    };
    Performed { result, detail, took }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{Presence, ResourceError};

    struct Flaky;

    impl Resource for Flaky {
        fn describe(&self) -> String {
            "flaky thing".to_owned()
        }
        fn start(&mut self) -> Result<(), ResourceError> {
            Err(ResourceError::new(ErrorKind::Busy, "flaky thing: held by pid 7"))
        }
        fn stop(&mut self) -> Result<(), ResourceError> {
            panic!("driver bug")
        }
        fn probe(&mut self) -> Result<Presence, ResourceError> {
            Ok(Presence::Unknown)
        }
        fn monitor(&mut self) -> Result<Health, ResourceError> {
            Ok(Health::Unhealthy("flaky thing: no answer".to_owned()))
        }
    }

    #[test]
    fn results_details_and_contained_panics() {
        let mut r = Flaky;
        let start = perform(&mut r, Action::Start);
        assert_eq!(start.result, StepResult::Failed(ErrorKind::Busy));
        assert_eq!(start.detail.as_deref(), Some("flaky thing: held by pid 7"));
        assert_eq!(start.word(), "failed (busy)");
        assert!(!start.ok());

        let stop = perform(&mut r, Action::Stop);
        assert_eq!(stop.result, StepResult::Failed(ErrorKind::Failed));
        assert_eq!(stop.detail.as_deref(), Some("stop flaky thing: the driver panicked: driver bug"));

        let probe = perform(&mut r, Action::Probe);
        assert_eq!(
            (probe.result, probe.word().as_str(), probe.ok()),
            (StepResult::Present(Presence::Unknown), "unknown", true)
        );

        let check = perform(&mut r, Action::Monitor);
        assert_eq!(check.result, StepResult::Unhealthy);
        assert_eq!(check.detail.as_deref(), Some("flaky thing: no answer"));
    }
}
