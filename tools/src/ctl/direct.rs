//! `wardenctl --controller ADDR`: status and operator requests sent to the
//! controller's operator endpoint directly, with no agent on this host
//! (names and key from the cluster file, `--config`).

use std::path::Path;
use std::time::{Duration, Instant};

use warden_cluster::ClusterFile;
use warden_control::{ClusterStatus, FenceEntry, FenceHistory, OperatorOp};
use warden_core::wire::Op;

use super::command::{Exit, Outcome};
use super::render;
use crate::operator::{resolve, Client, ClientError};

/// How long a request may wait for its answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The cluster file `wardenctl --controller` reads when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "/etc/warden/cluster.toml";

fn config_error(message: String) -> Outcome {
    Outcome { stdout: String::new(), stderr: message, exit: Exit::Agent }
}

fn unreachable(e: &ClientError) -> Outcome {
    Outcome { stdout: String::new(), stderr: e.to_string(), exit: Exit::Controller }
}

/// Opens a session with the controller at `address` under the key of the
/// cluster file at `config`.
fn open(address: &str, config: &Path) -> Result<(ClusterFile, Client), Outcome> {
    let file = warden_cluster::load(config).map_err(|e| config_error(e.to_string()))?;
    let auth = warden_cluster::frame_auth(&file.cluster)
        .map_err(|e| config_error(format!("{}: cluster key: {e}", config.display())))?;
    let peer = resolve(address).map_err(|e| config_error(e.to_string()))?;
    let client = Client::connect(peer, auth, Instant::now() + TIMEOUT).map_err(|e| unreachable(&e))?;
    Ok((file, client))
}

/// `wardenctl status --controller ADDR`.
#[must_use]
pub fn run_status(address: &str, config: &Path, json: bool) -> Outcome {
    let (file, mut client) = match open(address, config) {
        Ok(pair) => pair,
        Err(outcome) => return outcome,
    };
    let summary = match client.describe() {
        Ok(s) => s,
        Err(e) => return unreachable(&e),
    };
    let cluster = ClusterStatus::from_summary(&summary, &file);
    let history = match gather_history(&mut client, &file) {
        Ok(h) => h,
        Err(e) => return unreachable(&e),
    };
    let peer = client.peer().to_string();
    let stdout = if json {
        format!("{}\n", serde_json::json!({"controller": peer, "cluster": cluster, "history": history}))
    } else {
        let mut text = render::cluster(&file.cluster.name, &peer, &cluster);
        if !history.entries.is_empty() {
            text.push('\n');
            text.push_str(&render::recent_fences(&history));
        }
        text
    };
    Outcome { stdout, stderr: String::new(), exit: Exit::Ok }
}

/// Every entry of the controller's fence history, one request each.
fn gather_history(client: &mut Client, file: &ClusterFile) -> Result<FenceHistory, ClientError> {
    let mut entries = Vec::new();
    let mut total = 0;
    for back in 0..u8::MAX {
        let answer = client.history(back)?;
        total = answer.total;
        let Some(op) = answer.entry else { break };
        entries.push(FenceEntry::from_wire(&op, file, std::time::SystemTime::now()));
        if back.saturating_add(1) >= answer.held {
            break;
        }
    }
    Ok(FenceHistory { total, entries })
}

/// `wardenctl history --controller ADDR`: one request per entry.
#[must_use]
pub fn run_history(address: &str, config: &Path, json: bool) -> Outcome {
    let (file, mut client) = match open(address, config) {
        Ok(pair) => pair,
        Err(outcome) => return outcome,
    };
    let history = match gather_history(&mut client, &file) {
        Ok(h) => h,
        Err(e) => return unreachable(&e),
    };
    let stdout = if json {
        format!("{}\n", serde_json::json!({"controller": client.peer().to_string(), "history": history}))
    } else {
        render::history(&history)
    };
    Outcome { stdout, stderr: String::new(), exit: Exit::Ok }
}

/// `wardenctl fence NODE --controller ADDR` and the other requests.
#[must_use]
pub fn run_request(address: &str, config: &Path, op: &OperatorOp, json: bool) -> Outcome {
    let (verb, words) = op.words();
    let what = format!("{verb} {}", words.join(" "));
    // Names are checked against the cluster file before anything is sent
    // (exit 1, as through the agent).
    let file = match warden_cluster::load(config) {
        Ok(f) => f,
        Err(e) => return config_error(e.to_string()),
    };
    let parsed = match Op::parse(verb, words.iter().copied(), &file) {
        Ok(Some(op)) => op,
        Ok(None) => return config_error(format!("{what}: not an operator command")),
        Err(e) => return config_error(format!("{what}: {e}")),
    };
    let (_, mut client) = match open(address, config) {
        Ok(pair) => pair,
        Err(outcome) => return outcome,
    };
    let (text, exit, refusal) = match client.request(parsed) {
        Ok(Ok(())) => (format!("{what}: accepted by the controller"), Exit::Ok, None),
        Ok(Err(r)) => (format!("{what}: refused by the controller: {r}"), Exit::Refused, Some(r.name())),
        Err(e) => (format!("{what}: not delivered: {e}"), Exit::Controller, None),
    };
    if json {
        let value = serde_json::json!({
            "request": what,
            "controller": client.peer().to_string(),
            "accepted": exit == Exit::Ok,
            "refusal": refusal,
            "message": text,
        });
        Outcome { stdout: format!("{value}\n"), stderr: String::new(), exit }
    } else if exit == Exit::Ok {
        Outcome { stdout: format!("{text}\n"), stderr: String::new(), exit }
    } else {
        Outcome { stdout: String::new(), stderr: text, exit }
    }
}
