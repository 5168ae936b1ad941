//! `wardenctl status` and the operator requests against a played agent on a
//! Unix socket: what reaches the agent, what the operator reads, and the
//! exit status for each answer.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;
use std::thread::JoinHandle;

use warden_control::{
    AgentStatus, ClusterGroup, ClusterNode, ClusterStatus, ControlReply, ControlRequest, Counters, ErrorKind,
    FenceEntry, FenceHistory, GroupStatus, LinkStatus,
};

fn agent_status() -> AgentStatus {
    AgentStatus {
        cluster: "demo".into(),
        node: "alpha".into(),
        pid: 4242,
        uptime_ms: 65_000,
        connected: true,
        silent: false,
        last_beat_age_ms: Some(20),
        role: Some("member".into()),
        initialized: true,
        want: vec!["web".into()],
        holds: vec!["web".into()],
        busy: vec![],
        healthy: vec!["web".into()],
        failing: vec![],
        stuck: vec![],
        applied: 77,
        net_score: 1,
        groups: vec![GroupStatus { name: "web".into(), eligible: true, resources: vec![] }],
        links: vec![LinkStatus {
            name: "serial /dev/ttyS1".into(),
            open: true,
            error: None,
            sent: 100,
            send_errors: 0,
            received: 99,
            rejected: 1,
            bad_tag: 1,
            too_long: 0,
            last_frame_age_ms: Some(20),
        }],
        counters: Counters {
            session_rejects: 0,
            unexpected: 0,
            stale_steps: 0,
            control_rejects: 0,
            alerts_dropped: 0,
            alerts_failed: 0,
        },
        events: vec![],
    }
}

fn cluster() -> ClusterStatus {
    ClusterStatus {
        controller_uptime_s: 3600,
        nodes: vec![
            ClusterNode {
                name: "alpha".into(),
                life: "up".into(),
                standby: false,
                powered: Some(true),
                fence_record: false,
                heard_ago_ms: Some(100),
            },
            ClusterNode {
                name: "beta".into(),
                life: "fenced".into(),
                standby: false,
                powered: Some(false),
                fence_record: true,
                heard_ago_ms: None,
            },
        ],
        groups: vec![ClusterGroup { name: "web".into(), placed_on: Some("alpha".into()), moving: false }],
    }
}

/// Plays an agent: answers each request line with `answer`, records them.
fn play(socket: &Path, answer: fn(&ControlRequest) -> ControlReply) -> JoinHandle<Vec<ControlRequest>> {
    let listener = UnixListener::bind(socket).unwrap();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut seen = Vec::new();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let request: ControlRequest = serde_json::from_str(&line).unwrap();
            let reply = answer(&request);
            writeln!(writer, "{}", serde_json::to_string(&reply).unwrap()).unwrap();
            seen.push(request);
        }
        seen
    })
}

fn wardenctl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wardenctl")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn healthy_agent(r: &ControlRequest) -> ControlReply {
    match r {
        ControlRequest::Status {} => ControlReply::Status { status: Box::new(agent_status()) },
        ControlRequest::Cluster {} => ControlReply::Cluster { cluster: cluster() },
        ControlRequest::History {} => ControlReply::History { history: history() },
        ControlRequest::Request { .. } => ControlReply::Accepted { id: 9 },
    }
}

fn history() -> FenceHistory {
    FenceHistory {
        total: 3,
        entries: vec![
            FenceEntry {
                node: "beta".into(),
                action: "fence".into(),
                reason: "operator".into(),
                requested_by: "agent".into(),
                via: Some("alpha".into()),
                started: "2026-12-02T13:00:00.123Z".into(),
                confirm_ms: Some(5),
                result: "confirmed".into(),
            },
            FenceEntry {
                node: "beta".into(),
                action: "unfence".into(),
                reason: "operator".into(),
                requested_by: "operator".into(),
                via: None,
                started: "2026-12-02T12:59:00.000Z".into(),
                confirm_ms: None,
                result: "pending".into(),
            },
        ],
    }
}

#[test]
fn history_lists_the_fences_newest_first_as_a_table_or_json() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let agent = play(&socket, healthy_agent);
    let (code, out, err) = wardenctl(&["history", "--socket", socket.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("3 fence(s) and unfence(s) since the controller started; the last 2, newest first"),
        "{out}"
    );
    let first = out.lines().find(|l| l.starts_with("2026-12-02T13:00:00.123Z")).unwrap();
    assert_eq!(
        first.split_whitespace().collect::<Vec<_>>(),
        ["2026-12-02T13:00:00.123Z", "fence", "beta", "operator", "agent", "(alpha)", "5", "ms", "confirmed"]
    );
    assert_eq!(agent.join().unwrap(), vec![ControlRequest::History {}]);

    let agent = play(&socket_again(&dir), healthy_agent);
    let (code, out, _) = wardenctl(&["history", "--json", "--socket", socket_again(&dir).to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["history"]["entries"][0]["confirm_ms"], 5);
    assert_eq!(v["history"]["entries"][1]["result"], "pending");
    agent.join().unwrap();
}

fn socket_again(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("agent2.sock")
}

#[test]
fn status_shows_the_cluster_and_this_node() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let agent = play(&socket, healthy_agent);
    let (code, out, err) = wardenctl(&["status", "--socket", socket.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("cluster demo: asked through alpha's agent (pid 4242, up 1m05s)"), "{out}");
    let beta = out.lines().find(|l| l.starts_with("beta ")).unwrap();
    assert_eq!(beta.split_whitespace().collect::<Vec<_>>(), ["beta", "fenced", "off", "fenced", "-", "-"]);
    let web = out.lines().find(|l| l.starts_with("web ")).unwrap();
    assert!(web.contains("alpha") && web.ends_with("wanted, held, healthy"), "{web}");
    assert!(out.contains("RECENT FENCES (of 3)"), "{out}");
    assert_eq!(
        agent.join().unwrap(),
        vec![ControlRequest::Status {}, ControlRequest::Cluster {}, ControlRequest::History {}]
    );
}

#[test]
fn status_without_the_controller_says_so_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let agent = play(&socket, |r| match r {
        ControlRequest::Cluster {} => {
            ControlReply::Error { kind: ErrorKind::NotConnected, message: "no session with the controller".into() }
        }
        other => healthy_agent(other),
    });
    let (code, out, _) = wardenctl(&["status", "--json", "--socket", socket.to_str().unwrap()]);
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["agent"]["node"], "alpha");
    assert!(v["cluster"].is_null());
    assert_eq!(v["cluster_error"], "no session with the controller");
    agent.join().unwrap();
}

#[test]
fn requests_name_what_they_ask_and_exit_by_the_answer() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("agent.sock");
    let agent = play(&socket, healthy_agent);
    let (code, out, err) = wardenctl(&["migrate", "web", "beta", "--socket", socket.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (0, "migrate web to beta: accepted by the controller\n"), "{err}");
    let seen = agent.join().unwrap();
    assert_eq!(
        serde_json::to_string(&seen[0]).unwrap(),
        r#"{"cmd":"request","op":{"op":"migrate","group":"web","node":"beta"}}"#
    );

    std::fs::remove_file(&socket).unwrap();
    let agent = play(&socket, |_| ControlReply::Refused {
        id: 3,
        reason: "not_fenced".into(),
        message: "the node is neither fenced nor dead with its power off".into(),
    });
    let (code, _, err) = wardenctl(&["unfence", "alpha", "--socket", socket.to_str().unwrap()]);
    assert_eq!(code, 4);
    assert!(err.contains("unfence alpha: refused by the controller: the node is neither fenced"), "{err}");
    agent.join().unwrap();
}

#[test]
fn no_agent_names_the_socket_and_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("absent.sock");
    let out = Command::new(env!("CARGO_BIN_EXE_wardenctl"))
        .args(["fence", "beta"])
        .env("WARDEN_SOCKET", &socket)
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains(&format!("cannot connect to the agent's control socket {}", socket.display())), "{err}");
    assert!(err.contains("from WARDEN_SOCKET"), "{err}");
}
