//! The alert command (`cluster.alert`, heartbeat's "scream for help"): run
//! on every event of the agent with the event in its environment:
//! `WARDEN_EVENT`, `WARDEN_NODE`, `WARDEN_GROUP` (empty when the event is
//! about no group), `WARDEN_CLUSTER`, `WARDEN_MESSAGE`.
//!
//! The main loop only queues alerts; one thread runs them in order, each
//! with a deadline. A full queue drops the alert (counted and logged):
//! alerting must never hold up the agent.

use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread;
use std::time::Duration;

use super::mailbox::Post;
use crate::drivers::process::Invocation;

/// Alerts waiting at most; more are dropped.
const QUEUE: usize = 64;

/// How long one alert command may run before its process group is killed.
pub(crate) const ALERT_TIMEOUT: Duration = Duration::from_secs(30);

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alert {
    /// `acquired`, `controller-silent`, ...
    pub(crate) event: String,
    /// The group's name, or empty.
    pub(crate) group: String,
    /// What happened, in words.
    pub(crate) message: String,
}

/// An alert command that failed (for the log and a counter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AlertFailed(pub(crate) String);

/// The queue in front of the alert thread.
#[derive(Debug)]
pub(crate) struct Alerts {
    queue: SyncSender<Alert>,
    dropped: u64,
}

impl Alerts {
    /// Starts the alert thread for `argv`, with the node's and cluster's
    /// names fixed in its environment.
    pub(crate) fn spawn<T: From<AlertFailed> + Send + 'static>(
        argv: Vec<String>,
        node: String,
        cluster: String,
        post: Post<T>,
    ) -> std::io::Result<Self> {
        let (queue, inbox) = mpsc::sync_channel::<Alert>(QUEUE);
        thread::Builder::new().name("alert".into()).spawn(move || {
            let Some(base) = Invocation::from_argv(&argv) else { return };
            let what = format!("alert command `{}`", argv.join(" "));
            while let Ok(alert) = inbox.recv() {
                let invocation = base
                    .clone()
                    .env("WARDEN_EVENT", &alert.event)
                    .env("WARDEN_NODE", &node)
                    .env("WARDEN_GROUP", &alert.group)
                    .env("WARDEN_CLUSTER", &cluster)
                    .env("WARDEN_MESSAGE", &alert.message)
                    .timeout(ALERT_TIMEOUT);
                let failure = match invocation.run(&what) {
                    Ok(exit) if exit.success() => None,
                    Ok(exit) => Some(format!(
                        "{what} for `{}` failed: {}{}",
                        alert.event,
                        exit.describe(),
                        exit.output_suffix()
                    )),
                    Err(e) => Some(format!("{} (event `{}`)", e.message, alert.event)),
                };
                if let Some(why) = failure {
                    if !post.send(T::from(AlertFailed(why))) {
                        return;
                    }
                }
            }
        })?;
        Ok(Self { queue, dropped: 0 })
    }

    /// Queues `alert`; false when it had to be dropped.
    pub(crate) fn raise(&mut self, alert: Alert) -> bool {
        match self.queue.try_send(alert) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped = self.dropped.saturating_add(1);
                false
            }
        }
    }

    /// Alerts dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

    use super::super::mailbox::Mailbox;
    use super::*;

    fn alert(event: &str) -> Alert {
        Alert { event: event.into(), group: "web".into(), message: "group `web` failing here".into() }
    }

    #[test]
    fn the_event_is_in_the_environment_and_a_failure_comes_back_named() {
        let (mailbox, post) = Mailbox::<AlertFailed>::new().unwrap();
        let script = "echo \"$WARDEN_EVENT $WARDEN_GROUP $WARDEN_NODE $WARDEN_CLUSTER: $WARDEN_MESSAGE\"; exit 3";
        let argv = vec!["/bin/sh".into(), "-c".into(), script.into()];
        let mut alerts = Alerts::spawn(argv, "n1".into(), "prod".into(), post).unwrap();
        assert!(alerts.raise(alert("failing")));
        let mut fds = [PollFd::new(mailbox.fd(), PollFlags::POLLIN)];
        assert_eq!(poll(&mut fds, PollTimeout::from(10_000u16)).unwrap(), 1, "the failure is posted");
        let failed = mailbox.take();
        assert_eq!(
            failed,
            [AlertFailed(
                "alert command `/bin/sh -c ".to_owned()
                    + script
                    + "` for `failing` failed: exit 3 (output: failing web n1 prod: group `web` failing here)"
            )]
        );
        assert_eq!(alerts.dropped(), 0);
    }

    #[test]
    fn a_full_queue_drops_alerts_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let gate = dir.path().join("gate");
        let (_mailbox, post) = Mailbox::<AlertFailed>::new().unwrap();
        // Waits for the gate, or for the directory to go (the test is over).
        let script =
            format!("while [ ! -e {} ] && [ -d {} ]; do sleep 0.05; done", gate.display(), dir.path().display());
        let mut alerts =
            Alerts::spawn(vec!["/bin/sh".into(), "-c".into(), script], "n1".into(), "c".into(), post).unwrap();
        // One is running (or about to), QUEUE wait: the next cannot be taken.
        let taken = (0..QUEUE + 2).filter(|_| alerts.raise(alert("connected"))).count();
        assert!(taken <= QUEUE + 1 && alerts.dropped() >= 1, "taken {taken}, dropped {}", alerts.dropped());
        std::fs::write(&gate, "").unwrap();
    }
}
