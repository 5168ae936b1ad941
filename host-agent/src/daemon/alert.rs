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
