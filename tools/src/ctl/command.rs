//! Running `wardenctl status` and the operator requests: what to print and
//! with which exit status.

use std::path::Path;
use std::time::Duration;

use warden_control::{Client, ControlReply, ErrorKind, OperatorOp, REQUEST_TIMEOUT};

use super::render;

/// How `wardenctl` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done (0).
    Ok,
    /// The agent could not be reached, or answered nonsense (1).
    Agent,
    /// The agent has no session with the controller, or the controller did
    /// not answer in time (3).
    Controller,
    /// The controller refused the request (4).
    Refused,
}

impl Exit {
    /// The process exit status.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Agent => 1,
            Self::Controller => 3,
            Self::Refused => 4,
        }
    }
}

/// What a command prints and how it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// For standard output.
    pub stdout: String,
    /// For standard error.
    pub stderr: String,
    /// The exit status.
    pub exit: Exit,
}

impl Outcome {
    fn agent_error(message: String) -> Self {
        Self { stdout: String::new(), stderr: message, exit: Exit::Agent }
    }
}

/// Generous enough for a relayed request (the agent waits up to
/// [`REQUEST_TIMEOUT`] for the controller).
fn client_timeout() -> Duration {
    REQUEST_TIMEOUT + Duration::from_secs(2)
}

/// `wardenctl status`: the agent's status and, through it, the controller's
/// view of the cluster.
#[must_use]
pub fn run_status(socket: &Path, json: bool) -> Outcome {
    let mut client = match Client::connect(socket, client_timeout()) {
        Ok(c) => c,
        Err(e) => return Outcome::agent_error(e.to_string()),
    };
    let agent = match client.status() {
        Ok(ControlReply::Status { status }) => status,
        Ok(other) => return Outcome::agent_error(format!("unexpected answer to status: {other:?}")),
        Err(e) => return Outcome::agent_error(e.to_string()),
    };
    let cluster = match client.cluster() {
        Ok(ControlReply::Cluster { cluster }) => Ok(cluster),
        Ok(ControlReply::Error { message, .. }) => Err(message),
        Ok(other) => Err(format!("unexpected answer to cluster: {other:?}")),
        Err(e) => Err(e.to_string()),
    };
    let exit = if cluster.is_ok() { Exit::Ok } else { Exit::Controller };
    // The history only when the controller answered: a silent one is told once.
    let history = match cluster.as_ref().map(|_| client.history()) {
        Ok(Ok(ControlReply::History { history })) => Some(history),
        _ => None,
    };
    let stdout = if json {
        let value = match &cluster {
            Ok(c) => serde_json::json!({"agent": agent, "cluster": c, "cluster_error": null, "history": history}),
            Err(why) => serde_json::json!({"agent": agent, "cluster": null, "cluster_error": why, "history": null}),
        };
        format!("{value}\n")
    } else {
        let mut text = render::status(&agent, cluster.as_ref().map_err(String::as_str));
        if let Some(h) = history.as_ref().filter(|h| !h.entries.is_empty()) {
            text.push('\n');
            text.push_str(&render::recent_fences(h));
        }
        text
    };
    Outcome { stdout, stderr: String::new(), exit }
}

/// `wardenctl history`: the controller's last fences and unfences,
/// through the local agent.
#[must_use]
pub fn run_history(socket: &Path, json: bool) -> Outcome {
    let mut client = match Client::connect(socket, client_timeout()) {
        Ok(c) => c,
        Err(e) => return Outcome::agent_error(e.to_string()),
    };
    match client.history() {
        Ok(ControlReply::History { history }) => {
            let stdout = if json {
                format!("{}\n", serde_json::json!({ "history": history }))
            } else {
                render::history(&history)
            };
            Outcome { stdout, stderr: String::new(), exit: Exit::Ok }
        }
        Ok(ControlReply::Error { kind: ErrorKind::NotConnected | ErrorKind::Timeout, message }) => {
            Outcome { stdout: String::new(), stderr: format!("history: {message}"), exit: Exit::Controller }
        }
        Ok(other) => Outcome::agent_error(format!("unexpected answer to history: {other:?}")),
        Err(e) => Outcome::agent_error(e.to_string()),
    }
}

/// An operator request (`migrate`, `standby`, `online`, `fence`, `unfence`).
#[must_use]
pub fn run_request(socket: &Path, op: OperatorOp, json: bool) -> Outcome {
    let what = describe(&op);
    let mut client = match Client::connect(socket, client_timeout()) {
        Ok(c) => c,
        Err(e) => return Outcome::agent_error(e.to_string()),
    };
    let reply = match client.request(op) {
        Ok(r) => r,
        Err(e) => return Outcome::agent_error(e.to_string()),
    };
    let (text, exit) = match &reply {
        ControlReply::Accepted { .. } => (format!("{what}: accepted by the controller"), Exit::Ok),
        ControlReply::Refused { message, .. } => {
            (format!("{what}: refused by the controller: {message}"), Exit::Refused)
        }
        ControlReply::Error { kind: ErrorKind::NotConnected | ErrorKind::Timeout, message } => {
            (format!("{what}: not delivered: {message}"), Exit::Controller)
        }
        ControlReply::Error { message, .. } => (format!("{what}: {message}"), Exit::Agent),
        other => (format!("{what}: unexpected answer: {other:?}"), Exit::Agent),
    };
    if json {
        Outcome {
            stdout: format!("{}\n", serde_json::json!({"request": what, "reply": reply})),
            stderr: String::new(),
            exit,
        }
    } else if exit == Exit::Ok {
        Outcome { stdout: format!("{text}\n"), stderr: String::new(), exit }
    } else {
        Outcome { stdout: String::new(), stderr: text, exit }
    }
}

/// The request in words.
fn describe(op: &OperatorOp) -> String {
    match op {
        OperatorOp::Migrate { group, node } => format!("migrate {group} to {node}"),
        OperatorOp::Standby { node } => format!("standby {node}"),
        OperatorOp::Online { node } => format!("online {node}"),
        OperatorOp::Fence { node } => format!("fence {node}"),
        OperatorOp::Unfence { node } => format!("unfence {node}"),
    }
}
