//! The agent's local control socket: a Unix stream socket (mode 0600) that
//! speaks JSON lines. Each line a client writes is one [`ControlRequest`];
//! the agent answers each with one line holding a [`ControlReply`], in
//! order. `wardenctl` and `warden-agent` use these types and [`Client`].
//!
//! ```text
//! → {"cmd":"status"}
//! ← {"reply":"status","status":{"node":"linuxha1","connected":true,...}}
//! → {"cmd":"cluster"}
//! ← {"reply":"cluster","cluster":{"controller_uptime_s":812,"nodes":[...],"groups":[...]}}
//! → {"cmd":"request","op":{"op":"migrate","group":"web","node":"linuxha2"}}
//! ← {"reply":"accepted","id":3}
//! ← {"reply":"refused","id":4,"reason":"node_unavailable","message":"..."}
//! ← {"reply":"error","kind":"not_connected","message":"..."}
//! ```
//!
//! Operator requests name nodes and groups by name; the agent maps them to
//! ids with its configuration and relays them to the controller, which
//! answers. `cluster` asks the controller how it sees the whole cluster
//! (through any agent), answered with names too. A request line that is not valid is answered with an error that
//! says what is wrong, and changes nothing.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Longest request line the agent reads; a longer one is refused.
pub const MAX_LINE: usize = 16 * 1024;

/// How long the agent waits for the controller's answer to a relayed
/// request before it answers the client with [`ErrorKind::Timeout`].
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum ControlRequest {
    /// The agent at a glance.
    Status {},
    /// The cluster as the controller sees it (relayed as `Op::Describe`).
    Cluster {},
    /// The controller's last fences and unfences (relayed as
    /// `Op::History`, one entry a request).
    History {},
    /// An operator command for the controller.
    Request {
        /// The command.
        op: OperatorOp,
    },
}

/// An operator command, by names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum OperatorOp {
    /// Move `group` to `node` gracefully (release, then acquire).
    Migrate {
        /// The group's name.
        group: String,
        /// The node's name.
        node: String,
    },
    /// Drain `node` (maintenance).
    Standby {
        /// The node's name.
        node: String,
    },
    /// End maintenance of `node`.
    Online {
        /// The node's name.
        node: String,
    },
    /// Power `node` off and keep it off.
    Fence {
        /// The node's name.
        node: String,
    },
    /// Admit a fenced `node` back.
    Unfence {
        /// The node's name.
        node: String,
    },
}

impl OperatorOp {
    /// The command in words, verb first, as the controller's grammar of
    /// operator commands takes them (the verb is the JSON `op` tag).
    #[must_use]
    pub fn words(&self) -> (&'static str, Vec<&str>) {
        match self {
            Self::Migrate { group, node } => ("migrate", vec![group.as_str(), node.as_str()]),
            Self::Standby { node } => ("standby", vec![node.as_str()]),
            Self::Online { node } => ("online", vec![node.as_str()]),
            Self::Fence { node } => ("fence", vec![node.as_str()]),
            Self::Unfence { node } => ("unfence", vec![node.as_str()]),
        }
    }
}

/// One answer line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum ControlReply {
    /// The answer to [`ControlRequest::Status`].
    Status {
        /// The agent at a glance.
        status: Box<AgentStatus>,
    },
    /// The answer to [`ControlRequest::Cluster`].
    Cluster {
        /// The cluster as the controller sees it.
        cluster: ClusterStatus,
    },
    /// The answer to [`ControlRequest::History`].
    History {
        /// The controller's last fences and unfences, newest first.
        history: FenceHistory,
    },
    /// The controller accepted the request; it takes effect through beats.
    Accepted {
        /// The request's id on the wire.
        id: u32,
    },
    /// The controller refused the request.
    Refused {
        /// The request's id on the wire.
        id: u32,
        /// Why, as a word (`unknown_node`, `node_unavailable`, ...).
        reason: String,
        /// Why, in words.
        message: String,
    },
    /// The request could not be carried out.
    Error {
        /// What kind of problem.
        kind: ErrorKind,
        /// What was wrong, naming the thing.
        message: String,
    },
}

/// Why a control request could not be carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The line is not a request (bad JSON, unknown command, too long).
    BadRequest,
    /// A node or group name is not in the configuration.
    UnknownName,
    /// No session with the controller.
    NotConnected,
    /// The controller did not answer in time.
    Timeout,
    /// The agent is shutting down.
    ShuttingDown,
}

/// The agent at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// The cluster's name.
    pub cluster: String,
    /// This node's name.
    pub node: String,
    /// The agent's process id.
    pub pid: u32,
    /// Milliseconds since the agent started.
    pub uptime_ms: u64,
    /// A Beat answered the current handshake.
    pub connected: bool,
    /// No Beat for the dead time: holding, acquiring nothing.
    pub silent: bool,
    /// Milliseconds since the last accepted Beat.
    pub last_beat_age_ms: Option<u64>,
    /// The latest Beat's role (`member`, `standby`, `listening`).
    pub role: Option<String>,
    /// Every resource has been probed once since the agent started.
    pub initialized: bool,
    /// What the controller wants this node to hold.
    pub want: Vec<String>,
    /// What the last Status says this node holds.
    pub holds: Vec<String>,
    /// Groups being started or stopped.
    pub busy: Vec<String>,
    /// Groups whose monitors pass.
    pub healthy: Vec<String>,
    /// Groups that failed here.
    pub failing: Vec<String>,
    /// Groups whose release failed (the controller fences).
    pub stuck: Vec<String>,
    /// `seq` of the last Beat whose want is reconciled.
    pub applied: u64,
    /// Reachable ping nodes and ping groups.
    pub net_score: u16,
    /// Every group of the cluster, in configuration order.
    pub groups: Vec<GroupStatus>,
    /// Every link to the controller.
    pub links: Vec<LinkStatus>,
    /// Counters of refused input and dropped work.
    pub counters: Counters,
    /// Recent events, oldest first.
    pub events: Vec<EventRecord>,
}

/// The cluster as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// Seconds since the controller booted.
    pub controller_uptime_s: u32,
    /// Every node, in configuration order.
    pub nodes: Vec<ClusterNode>,
    /// Every group, in configuration order.
    pub groups: Vec<ClusterGroup>,
}

impl ClusterStatus {
    /// The controller's packed summary with the cluster file's names.
    #[must_use]
    pub fn from_summary(summary: &warden_core::wire::Summary, config: &warden_cluster::ClusterFile) -> Self {
        let nodes = config
            .nodes
            .iter()
            .map(|n| match summary.node(n.id) {
                Some(s) => ClusterNode {
                    name: n.name.clone(),
                    life: s.life.name().to_owned(),
                    standby: s.standby,
                    powered: s.powered,
                    fence_record: s.fence_record,
                    heard_ago_ms: s.heard_ago.map(|d| d.as_millis()),
                },
                None => ClusterNode {
                    name: n.name.clone(),
                    life: "unknown".to_owned(),
                    standby: false,
                    powered: None,
                    fence_record: false,
                    heard_ago_ms: None,
                },
            })
            .collect();
        let groups = config
            .groups
            .iter()
            .map(|g| ClusterGroup {
                name: g.name.clone(),
                placed_on: summary.placed_on(g.id).and_then(|n| config.node(n)).map(|n| n.name.clone()),
                moving: summary.moving.contains(g.id),
            })
            .collect();
        Self { controller_uptime_s: summary.uptime_s, nodes, groups }
    }
}

/// The controller's last fences and unfences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceHistory {
    /// Fences and unfences since the controller started (the oldest have
    /// left the list).
    pub total: u32,
    /// The entries, newest first.
    pub entries: Vec<FenceEntry>,
}

/// One fence or unfence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceEntry {
    /// The node.
    pub node: String,
    /// `fence` or `unfence`.
    pub action: String,
    /// `dead`, `stuck`, `release_overdue`, `operator`, `auto_unfence`,
    /// `powered_while_fenced`, `fenced_at_start`.
    pub reason: String,
    /// `controller`, `operator` (on the controller), or `agent` (an
    /// operator's request relayed by `via`'s agent).
    pub requested_by: String,
    /// The node whose agent relayed the request, for `agent`.
    pub via: Option<String>,
    /// When it started: RFC 3339, UTC, ms (the asker's clock less the
    /// controller's "started ... ago").
    pub started: String,
    /// Milliseconds from its start to its confirmation (or failure);
    /// `None` while under way.
    pub confirm_ms: Option<u32>,
    /// `pending`, `confirmed`, `unconfirmed` or `failed`.
    pub result: String,
}

impl FenceEntry {
    /// The wire's entry with the cluster file's names, its start placed on
    /// the wall clock `now`.
    #[must_use]
    pub fn from_wire(
        op: &warden_core::wire::FenceOp,
        config: &warden_cluster::ClusterFile,
        now: std::time::SystemTime,
    ) -> Self {
        let name = |n: warden_core::NodeId| config.node(n).map_or_else(|| format!("node {}", n.0), |c| c.name.clone());
        let started = now.checked_sub(Duration::from_millis(u64::from(op.started_ago_ms))).unwrap_or(now);
        Self {
            node: name(op.node),
            action: op.action.name().to_owned(),
            reason: op.reason.name().to_owned(),
            requested_by: op.by.name().to_owned(),
            via: match op.by {
                warden_core::wire::Requester::Agent(n) => Some(name(n)),
                _ => None,
            },
            started: humantime::format_rfc3339_millis(started).to_string(),
            confirm_ms: op.took_ms,
            result: op.result.name().to_owned(),
        }
    }
}

/// A node as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterNode {
    /// Its name.
    pub name: String,
    /// `booting`, `up`, `late`, `dead`, `fencing`, `fenced`, or `unknown`
    /// when the controller's answer does not say.
    pub life: String,
    /// In operator standby.
    pub standby: bool,
    /// Sensed power (`None`: unknown).
    pub powered: Option<bool>,
    /// Its fence record says fenced (it stays off).
    pub fence_record: bool,
    /// Milliseconds since the controller last heard it (`None`: 25.5 s or
    /// more, or never).
    pub heard_ago_ms: Option<u64>,
}

/// A group as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterGroup {
    /// Its name.
    pub name: String,
    /// The node whose `want` holds it.
    pub placed_on: Option<String>,
    /// Released somewhere and not placed yet.
    pub moving: bool,
}

/// One group on this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupStatus {
    /// The group's name.
    pub name: String,
    /// This node is one of its eligible nodes.
    pub eligible: bool,
    /// Resources then monitors, in start order.
    pub resources: Vec<ResourceStatus>,
}

/// One resource of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceStatus {
    /// What it is (`address 10.0.0.5/24 on eth0`).
    pub describe: String,
    /// Its presence as last probed or changed: `active`, `inactive`,
    /// `unknown`, or `unprobed`.
    pub state: String,
    /// The last step run on it (`start: done in 12 ms`).
    pub last_step: Option<String>,
    /// What the driver last said of a failure.
    pub last_error: Option<String>,
}

/// One link to the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStatus {
    /// `serial /dev/ttyS0` or `udp 10.0.0.254:694`.
    pub name: String,
    /// The link is open.
    pub open: bool,
    /// Why it is not (or the last error).
    pub error: Option<String>,
    /// Frames sent.
    pub sent: u64,
    /// Frames that could not be sent.
    pub send_errors: u64,
    /// Frames decoded into a message.
    pub received: u32,
    /// Frames rejected by the decoder, all reasons.
    pub rejected: u32,
    /// Of those, frames whose tag did not match (corruption or wrong key).
    pub bad_tag: u32,
    /// Of those, frames longer than the protocol allows.
    pub too_long: u32,
    /// Milliseconds since the last frame decoded on this link.
    pub last_frame_age_ms: Option<u64>,
}

/// Counters of refused input and dropped work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counters {
    /// Messages refused by the session rules (replays, old sessions).
    pub session_rejects: u32,
    /// Messages for another node, or of a kind an agent never receives.
    pub unexpected: u32,
    /// Step results that answered no outstanding step.
    pub stale_steps: u32,
    /// Control requests refused as malformed.
    pub control_rejects: u64,
    /// Alerts not run because the alert queue was full.
    pub alerts_dropped: u64,
    /// Alert commands that failed or timed out.
    pub alerts_failed: u64,
}

/// An event of the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// When, as UTC (`2026-11-30T06:22:03.120Z`).
    pub time: String,
    /// Milliseconds since the agent started.
    pub at_ms: u64,
    /// The event's name (`acquired`, `controller-silent`, ...).
    pub event: String,
    /// The group's name, when the event is about one.
    pub group: Option<String>,
    /// What happened, in words.
    pub message: String,
}

/// Why a control client call failed. Names the socket.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No agent answers on the socket.
    #[error("cannot connect to the agent's control socket {}: {source} (is warden-agent running?)", path.display())]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The conversation broke off.
    #[error("control socket {}: {source}", path.display())]
    Io {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The agent closed the connection without answering.
    #[error("control socket {}: the agent closed the connection without answering", path.display())]
    Closed {
        /// The socket.
        path: PathBuf,
    },
    /// The answer is not a reply.
    #[error("control socket {}: the agent's answer is not a reply: {message}", path.display())]
    BadReply {
        /// The socket.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
}

/// A connection to an agent's control socket.
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to the socket at `path`. Replies are awaited at most
    /// `timeout` (give more than [`REQUEST_TIMEOUT`] for relayed requests).
    pub fn connect(path: &Path, timeout: Duration) -> Result<Self, ClientError> {
        let stream =
            UnixStream::connect(path).map_err(|source| ClientError::Connect { path: path.to_owned(), source })?;
        let io_err = |source| ClientError::Io { path: path.to_owned(), source };
        stream.set_read_timeout(Some(timeout)).map_err(io_err)?;
        stream.set_write_timeout(Some(timeout)).map_err(io_err)?;
        let writer = stream.try_clone().map_err(io_err)?;
        Ok(Self { path: path.to_owned(), reader: BufReader::new(stream), writer })
    }

    /// Sends one request and waits for its reply.
    pub fn call(&mut self, request: &ControlRequest) -> Result<ControlReply, ClientError> {
        let mut line = serde_json::to_string(request)
            .map_err(|e| ClientError::BadReply { path: self.path.clone(), message: e.to_string() })?;
        line.push('\n');
        self.call_raw(&line)
    }

    /// Sends one raw line (for tests of bad input) and waits for a reply.
    pub fn call_raw(&mut self, line: &str) -> Result<ControlReply, ClientError> {
        let io_err = |source| ClientError::Io { path: self.path.clone(), source };
        self.writer.write_all(line.as_bytes()).map_err(io_err)?;
        let mut answer = String::new();
        let n =
            self.reader.read_line(&mut answer).map_err(|source| ClientError::Io { path: self.path.clone(), source })?;
        if n == 0 {
            return Err(ClientError::Closed { path: self.path.clone() });
        }
        serde_json::from_str(&answer)
            .map_err(|e| ClientError::BadReply { path: self.path.clone(), message: e.to_string() })
    }

    /// The agent's status.
    pub fn status(&mut self) -> Result<ControlReply, ClientError> {
        self.call(&ControlRequest::Status {})
    }

    /// The cluster as the controller sees it, through the agent.
    pub fn cluster(&mut self) -> Result<ControlReply, ClientError> {
        self.call(&ControlRequest::Cluster {})
    }

    /// The controller's last fences and unfences, through the agent.
    ///
    /// # Errors
    ///
    /// [`ClientError`] when the agent cannot be asked.
    pub fn history(&mut self) -> Result<ControlReply, ClientError> {
        self.call(&ControlRequest::History {})
    }

    /// Relays an operator command to the controller through the agent.
    pub fn request(&mut self, op: OperatorOp) -> Result<ControlReply, ClientError> {
        self.call(&ControlRequest::Request { op })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_verb_is_the_words_verb() {
        let ops = [
            OperatorOp::Migrate { group: "web".into(), node: "b".into() },
            OperatorOp::Standby { node: "a".into() },
            OperatorOp::Online { node: "a".into() },
            OperatorOp::Fence { node: "a".into() },
            OperatorOp::Unfence { node: "a".into() },
        ];
        for op in ops {
            let json = serde_json::to_value(&op).unwrap();
            let (verb, words) = op.words();
            assert_eq!(json["op"], verb, "{json}");
            assert_eq!(words.last().copied(), json["node"].as_str());
        }
    }

    #[test]
    fn requests_and_replies_read_as_documented() {
        let r: ControlRequest = serde_json::from_str(r#"{"cmd":"status"}"#).unwrap();
        assert_eq!(r, ControlRequest::Status {});
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"cmd":"status"}"#);
        let r: ControlRequest =
            serde_json::from_str(r#"{"cmd":"request","op":{"op":"migrate","group":"web","node":"b"}}"#).unwrap();
        assert_eq!(r, ControlRequest::Request { op: OperatorOp::Migrate { group: "web".into(), node: "b".into() } });
        for bad in
            [r#"{"cmd":"reboot"}"#, r#"{"cmd":"status","x":1}"#, r#"{"cmd":"request","op":{"op":"fence"}}"#, "[]"]
        {
            assert!(serde_json::from_str::<ControlRequest>(bad).is_err(), "{bad}");
        }
        let reply = ControlReply::Error { kind: ErrorKind::NotConnected, message: "no session".into() };
        assert_eq!(
            serde_json::to_string(&reply).unwrap(),
            r#"{"reply":"error","kind":"not_connected","message":"no session"}"#
        );
        assert_eq!(serde_json::to_string(&ControlReply::Accepted { id: 3 }).unwrap(), r#"{"reply":"accepted","id":3}"#);
        let r: ControlRequest = serde_json::from_str(r#"{"cmd":"cluster"}"#).unwrap();
        assert_eq!(r, ControlRequest::Cluster {});
    }
}
