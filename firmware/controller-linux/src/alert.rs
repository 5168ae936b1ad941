//! The alert command (`cluster.alert`), off the main loop: the loop only
//! queues an alert; one thread starts the commands, in order, each with a
//! deadline. Starting a process (fork and exec) takes milliseconds and
//! nothing optional may stand between a decision and the relay or the next
//! beat; a full queue drops the alert (counted, and a console line says so).
//!
//! Each command gets the event in its environment: `WARDEN_EVENT` (the
//! core's machine name of the event), `WARDEN_NODE`, `WARDEN_GROUP` (names,
//! empty when the event is about none), `WARDEN_CLUSTER`, `WARDEN_MESSAGE`
//! (the console line).

use std::process::{Command, Stdio};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread;
use std::time::{Duration, Instant};

/// Alerts waiting at most; more are dropped.
pub const QUEUE: usize = 64;

/// How long one alert command may run before it is killed.
pub const ALERT_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a running alert command is looked at.
const POLL: Duration = Duration::from_millis(20);

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The event's machine name (`node_dead`, ...).
    pub event: &'static str,
    /// The node's name, or empty.
    pub node: String,
    /// The group's name, or empty.
    pub group: String,
    /// The console line.
    pub message: String,
}

/// The queue in front of the alert thread.
#[derive(Debug)]
pub struct Alerts {
    queue: SyncSender<Alert>,
    dropped: u64,
}

impl Alerts {
    /// Starts the alert thread for `argv` (program and arguments) in
    /// cluster `cluster`; `report` gets a line for every alert command that
    /// could not run or failed.
    ///
    /// # Errors
    ///
    /// The thread could not be started.
    pub fn spawn(argv: Vec<String>, cluster: String, report: impl Fn(&str) + Send + 'static) -> std::io::Result<Self> {
        let (queue, inbox) = mpsc::sync_channel::<Alert>(QUEUE);
        thread::Builder::new().name("alert".into()).spawn(move || {
            let Some((program, args)) = argv.split_first() else { return };
            while let Ok(alert) = inbox.recv() {
                if let Err(why) = run(program, args, &cluster, &alert) {
                    report(&format!("alert command {program} for `{}` {why}", alert.event));
                }
            }
        })?;
        Ok(Self { queue, dropped: 0 })
    }

    /// Queues `alert`; false when it had to be dropped.
    pub fn raise(&mut self, alert: Alert) -> bool {
        match self.queue.try_send(alert) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped = self.dropped.saturating_add(1);
                false
            }
        }
    }

    /// Alerts dropped so far.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Runs one alert command to its end or its deadline.
fn run(program: &str, args: &[String], cluster: &str, alert: &Alert) -> Result<(), String> {
    let mut child = Command::new(program)
        .args(args)
        .env("WARDEN_CLUSTER", cluster)
        .env("WARDEN_EVENT", alert.event)
        .env("WARDEN_MESSAGE", &alert.message)
        .env("WARDEN_NODE", &alert.node)
        .env("WARDEN_GROUP", &alert.group)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("could not start: {e}"))?;
    let deadline = Instant::now() + ALERT_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("failed: {status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("killed after {} s", ALERT_TIMEOUT.as_secs()));
            }
            Ok(None) => thread::sleep(POLL),
            Err(e) => return Err(format!("could not be waited for: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;

    use super::*;

    fn alert(event: &'static str) -> Alert {
        Alert { event, node: "alpha".into(), group: String::new(), message: "node alpha is dead".into() }
    }

    #[test]
    fn the_event_is_in_the_environment_and_a_failure_is_reported() {
        let (lines, reported) = channel();
        let script = "echo \"$WARDEN_EVENT $WARDEN_NODE [$WARDEN_GROUP] $WARDEN_CLUSTER: $WARDEN_MESSAGE\" >&2; exit 3";
        let argv = vec!["/bin/sh".into(), "-c".into(), script.into()];
        let mut alerts = Alerts::spawn(argv, "prod".into(), move |l| lines.send(l.to_owned()).unwrap()).unwrap();
        assert!(alerts.raise(alert("node_dead")));
        let line = reported.recv_timeout(Duration::from_secs(10)).expect("the failure is reported");
        assert_eq!(line, "alert command /bin/sh for `node_dead` failed: exit status: 3");
        assert_eq!(alerts.dropped(), 0);
    }

    #[test]
    fn a_full_queue_drops_alerts_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let gate = dir.path().join("gate");
        // Each command waits for the gate, or for the directory to go.
        let script =
            format!("while [ ! -e {} ] && [ -d {} ]; do sleep 0.05; done", gate.display(), dir.path().display());
        let mut alerts = Alerts::spawn(vec!["/bin/sh".into(), "-c".into(), script], "c".into(), |_| {}).unwrap();
        let taken = (0..QUEUE + 2).filter(|_| alerts.raise(alert("node_up"))).count();
        assert!(taken <= QUEUE + 1 && alerts.dropped() >= 1, "taken {taken}, dropped {}", alerts.dropped());
        std::fs::write(&gate, "").unwrap();
    }
}
