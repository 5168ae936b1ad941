//! `warden-agent run`, the real binary, against a controller played by the
//! test: `warden_core::controller::Controller` itself, driven over a UDP
//! socket and a pseudo-terminal (the node has both links; they carry one
//! session). The agent runs in a network namespace of its own (so its
//! pings stay there), under `nsenter --net`.
//!
//! Checked end to end: readiness and the watchdog over `$NOTIFY_SOCKET`;
//! `status` on the control socket before and after the controller answers;
//! a request refused while not connected; debug commands refused while the
//! agent runs, and run with `--force`; the group acquired when the
//! controller wants it and released when it no longer does (through
//! operator requests relayed by the control socket and answered by the
//! controller); the net score; the alert command's environment; `SIGTERM`
//! leaving the group held, and a new agent finding it held.
//!
//! Needs root, iproute2 and util-linux (`nsenter`); without them it fails
//! saying what to install.

mod common;

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{agent, prefix, remove_stale, require, show, wait_for, wait_message, Netns, Pids, Spawned, AGENT};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use serde_json::Value;
use warden_agent_proto::Presence;
use warden_agent_proto::{Action, Agent, AgentOutput, StepResult};
use warden_bsp::linux::Pty;
use warden_control::{Client, ControlReply, ErrorKind, OperatorOp};
use warden_core::controller::{Boot, Controller, Event, Output};
use warden_core::wire::{encode, Auth, Decoder, Key, Message, MAX_FRAME};
use warden_core::{GroupId, GroupSet, Instant as CoreInstant, NodeId, MAX_NODES};

const N1: NodeId = NodeId(0);
const N2: NodeId = NodeId(1);
const SVC: GroupId = GroupId(0);
const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
/// Bounds for things that take a keepalive or two; far above them.
#[path = "../../firmware/metrics/tests/support/page_checks.rs"]
mod page_checks;
use page_checks::{every_family_documented, http, promtool_check_metrics, sample, scrape};

const SOON: Duration = Duration::from_secs(20);

/// What the played controller has seen of node n1 (and of n2, the node
/// the test plays in memory).
#[derive(Debug, Default, Clone)]
struct Seen {
    holds: GroupSet,
    want: GroupSet,
    net_score: u16,
    n2_holds: GroupSet,
    alarms: Vec<Event>,
    powered_off: u32,
    frames: [u32; 2],
}

/// Node n2: the protocol half alone, its resources a set of flags that
/// steps flip at once. It gives the controller somewhere to move the group.
struct MemoryNode {
    agent: Agent,
    active: Vec<Vec<bool>>,
}

impl MemoryNode {
    fn new(config: &warden_cluster::ClusterFile) -> Self {
        let agent = Agent::new(warden_agent::daemon::agent_config(config, N2), CoreInstant(0), 99).unwrap();
        let active = config.groups.iter().map(|g| vec![false; g.resources.len() + g.monitors.len()]).collect();
        Self { agent, active }
    }

    /// Runs its steps and returns the messages it sends.
    fn drain(&mut self, now: CoreInstant) -> Vec<Message> {
        let mut sent = Vec::new();
        while let Some(output) = self.agent.poll_output() {
            match output {
                AgentOutput::Send(m) => sent.push(m),
                AgentOutput::Step(step) => {
                    let slot = &mut self.active[step.group.index()][usize::from(step.resource)];
                    let result = match step.action {
                        Action::Start => {
                            *slot = true;
                            StepResult::Done
                        }
                        Action::Stop => {
                            *slot = false;
                            StepResult::Done
                        }
                        Action::Probe => StepResult::Present(if *slot { Presence::Active } else { Presence::Inactive }),
                        Action::Monitor => StepResult::Healthy,
                    };
                    self.agent.handle_step(now, step, result);
                }
                AgentOutput::Event(_)
                | AgentOutput::Reply { .. }
                | AgentOutput::Summary(_)
                | AgentOutput::History(_)
                | AgentOutput::Counters(_) => {}
            }
        }
        sent
    }
}

/// The controller, on a thread, until dropped.
struct Played {
    stop: Arc<AtomicBool>,
    seen: Arc<(Mutex<Seen>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Played {
    fn start(config: &warden_cluster::ClusterFile, udp: UdpSocket, master: File) -> Self {
        let config = config.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new((Mutex::new(Seen::default()), Condvar::new()));
        let cluster = config.cluster_config();
        let (stop2, seen2) = (Arc::clone(&stop), Arc::clone(&seen));
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let now = || CoreInstant(u64::try_from(started.elapsed().as_millis()).unwrap());
            let boot = Boot { now: now(), seed: 7, fenced: [false; MAX_NODES], powered: [Some(true); MAX_NODES] };
            let mut controller = Controller::new(cluster, boot).expect("controller config");
            let mut n2 = MemoryNode::new(&config);
            let auth = Auth::Hmac(Key::new(KEY).unwrap());
            let mut decoders = [Decoder::new(), Decoder::new()];
            let mut peer: Option<SocketAddr> = None;
            let mut master = master;
            fcntl(master.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).unwrap();
            udp.set_nonblocking(true).unwrap();
            while !stop2.load(Ordering::SeqCst) {
                let wait = controller.poll_timeout().map_or(50, |t| t.as_millis().saturating_sub(now().as_millis()));
                let mut fds =
                    [PollFd::new(udp.as_fd(), PollFlags::POLLIN), PollFd::new(master.as_fd(), PollFlags::POLLIN)];
                let _ = poll(&mut fds, PollTimeout::from(u16::try_from(wait.min(50)).unwrap()));
                let mut messages = Vec::new();
                let mut buf = [0u8; 1024];
                while let Ok((n, from)) = udp.recv_from(&mut buf) {
                    peer = Some(from);
                    decoders[0].feed(&buf[..n], &auth, |r| messages.extend(r.ok().map(|m| (0, m))));
                }
                while let Ok(n) = master.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    decoders[1].feed(&buf[..n], &auth, |r| messages.extend(r.ok().map(|m| (1, m))));
                }
                let mut state = seen2.0.lock().unwrap();
                for (link, m) in messages {
                    state.frames[link] += 1;
                    controller.handle_message(now(), N1, m);
                }
                controller.handle_timeout(now());
                n2.agent.handle_timeout(now());
                for m in n2.drain(now()) {
                    controller.handle_message(now(), N2, m);
                }
                while let Some(output) = controller.poll_output() {
                    match output {
                        Output::Send { node: N2, message } => {
                            n2.agent.handle_message(now(), message);
                            for m in n2.drain(now()) {
                                controller.handle_message(now(), N2, m);
                            }
                        }
                        Output::Send { message, .. } => {
                            let mut frame = [0u8; MAX_FRAME];
                            let len = encode(&message, &auth, &mut frame).unwrap();
                            if let Some(peer) = peer {
                                let _ = udp.send_to(&frame[..len], peer);
                            }
                            let _ = master.write_all(&frame[..len]);
                        }
                        Output::Power { on: false, .. } => state.powered_off += 1,
                        Output::Alarm(e) => state.alarms.push(e),
                        _ => {}
                    }
                }
                if let Some(view) = controller.node(N1) {
                    state.holds = view.holds;
                    state.want = view.want;
                    state.net_score = view.net_score;
                }
                state.n2_holds = controller.node(N2).map_or(GroupSet::EMPTY, |v| v.holds);
                seen2.1.notify_all();
            }
        });
        Self { stop, seen, thread: Some(thread) }
    }

    /// Waits until what the controller saw satisfies `done`.
    fn wait(&self, what: &str, done: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = Instant::now() + SOON;
        let mut state = self.seen.0.lock().unwrap();
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "waited {SOON:?} for the controller to see {what}; it saw {state:?}");
            state = self.seen.1.wait_timeout(state, left).unwrap().0;
        }
        state.clone()
    }
}

impl Drop for Played {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// systemd's side of `$NOTIFY_SOCKET`: reads every notification as it
/// comes (as systemd does), for the test to wait on.
struct Manager {
    path: PathBuf,
    notes: std::sync::mpsc::Receiver<String>,
}

impl Manager {
    fn new(dir: &Path) -> Self {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        let (tx, notes) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = socket.recv(&mut buf) {
                if tx.send(String::from_utf8_lossy(&buf[..n]).into_owned()).is_err() {
                    return;
                }
            }
        });
        Self { path, notes }
    }

    /// Waits for a notification containing `needle`; returns it.
    fn wait(&self, needle: &str) -> String {
        wait_message(&self.notes, needle, SOON)
            .unwrap_or_else(|| panic!("no notification with {needle:?} within {SOON:?}"))
    }
}

fn status(socket: &Path) -> Value {
    let mut client = Client::connect(socket, Duration::from_secs(10)).expect("connect to the control socket");
    match client.status().expect("status") {
        ControlReply::Status { status } => serde_json::to_value(status).unwrap(),
        other => panic!("status answered {other:?}"),
    }
}

fn request(socket: &Path, op: OperatorOp) -> ControlReply {
    let mut client = Client::connect(socket, Duration::from_secs(10)).expect("connect to the control socket");
    client.request(op).expect("request")
}

/// Waits until the agent reports exactly `held` as held and healthy, with
/// nothing under way.
fn settled(socket: &Path, held: &[&str]) -> Value {
    wait_for(SOON, &format!("the agent to settle holding {held:?}"), || {
        let s = status(socket);
        let done = names(&s["holds"]) == held && names(&s["healthy"]) == held && names(&s["busy"]).is_empty();
        done.then_some(s)
    })
}

fn names(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
}

fn svc() -> GroupSet {
    let mut set = GroupSet::EMPTY;
    set.insert(SVC);
    set
}

/// The pid the service wrote, once it runs.
fn service_pid(marker: &Path, not: Option<u32>) -> u32 {
    wait_for(SOON, "the service to write its pid", || {
        fs::read_to_string(marker).ok()?.trim().parse::<u32>().ok().filter(|p| Some(*p) != not)
    })
}

fn alive(pid: u32) -> bool {
    warden_agent::drivers::process::is_alive(pid)
}

/// One agent's surroundings: a network namespace with only loopback, a
/// UDP socket and a pseudo-terminal for the controller's end of its links,
/// the key file, the configuration (nodes n1, the agent, and n2, played in
/// memory, plus the `[[group]]` tables given), the notify socket.
struct Site {
    dir: tempfile::TempDir,
    ns: Netns,
    udp: Option<UdpSocket>,
    pty: Pty,
    socket: PathBuf,
    state: PathBuf,
    config_path: PathBuf,
    manager: Manager,
}

/// The played controller's UDP port, on 127.0.0.2 so that the agent can
/// bind the same port number on the same host (it sends from and listens
/// on the controller's port); `SO_REUSEADDR` lets the two bindings overlap.
fn controller_socket() -> UdpSocket {
    use nix::sys::socket::{bind, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};
    use std::os::fd::AsRawFd;
    let fd = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None).unwrap();
    setsockopt(&fd, sockopt::ReuseAddr, &true).unwrap();
    bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 2, 0)).unwrap();
    UdpSocket::from(fd)
}

impl Site {
    /// `agent` is added to the `[agent]` table.
    fn new(agent: &str, groups: impl FnOnce(&Path) -> String) -> Self {
        require(&[("ip", "iproute2"), ("nsenter", "util-linux")]);
        remove_stale();
        let dir = tempfile::Builder::new().prefix(&prefix()).tempdir().unwrap();
        let ns = Netns::new(format!("{}d", prefix()));
        let udp = ns.enter(controller_socket);
        let port = udp.local_addr().unwrap().port();
        let pty = Pty::open().unwrap();
        let key = dir.path().join("cluster.key");
        fs::write(&key, KEY).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
        let config_path = dir.path().join("cluster.toml");
        fs::write(
            &config_path,
            format!(
                r#"[cluster]
name = "e2e"
key_file = "cluster.key"
alert = ["/bin/sh", "-c", "echo \"$WARDEN_EVENT|$WARDEN_GROUP|$WARDEN_NODE|$WARDEN_CLUSTER|$WARDEN_MESSAGE\" >> {alerts}"]

[timing]
keepalive = "200ms"
warntime = "2s"
deadtime = "6s"
initdead = "6s"

[agent]
probe_interval = "2s"
{agent}

[[node]]
name = "n1"
ping = ["127.0.0.1", "10.255.255.1"]
[node.serial]
device = "{pty}"
[node.udp]
controller = "127.0.0.2"
port = {port}
[[node.ping_group]]
name = "v6"
hosts = ["10.255.255.2", "::1"]

[[node]]
name = "n2"
serial = {{ device = "/dev/ttyS9" }}

{groups}"#,
                alerts = dir.path().join("alerts").display(),
                pty = pty.path().display(),
                groups = groups(dir.path()),
            ),
        )
        .unwrap();
        let manager = Manager::new(dir.path());
        Self {
            socket: dir.path().join("run/agent.sock"),
            state: dir.path().join("state"),
            dir,
            ns,
            udp: Some(udp),
            pty,
            config_path,
            manager,
        }
    }

    fn config(&self) -> warden_cluster::ClusterFile {
        warden_cluster::load(&self.config_path).unwrap_or_else(|e| panic!("{e}"))
    }

    fn start_agent(&self) -> Spawned {
        let mut command = self.ns.command(AGENT);
        command
            .args(["run", "--node", "n1", "--config"])
            .arg(&self.config_path)
            .arg("--socket")
            .arg(&self.socket)
            .arg("--state-dir")
            .arg(&self.state)
            .env("NOTIFY_SOCKET", &self.manager.path)
            .env("WATCHDOG_USEC", "1000000")
            .env_remove("JOURNAL_STREAM");
        Spawned::start(command)
    }

    /// The controller, answering from now on.
    fn controller(&mut self) -> Played {
        let udp = self.udp.take().expect("one controller per site");
        Played::start(&self.config(), udp, self.pty.master.try_clone().unwrap())
    }
}

#[test]
fn agent_follows_the_controllers_want_relays_requests_and_stops_holding_everything() {
    let services = Pids::default();
    let mut site = Site::new("", |dir| {
        format!(
            r#"[[group]]
name = "svc"
nodes = ["n1", "n2"]
[[group.resource]]
kind = "service"
command = ["/bin/sh", "-c", "echo $$ > {marker}; trap 'echo TERM >> {terms}; exit 0' TERM; while :; do sleep 1 & wait $!; done"]
timeout = "5s"
[[group.monitor]]
kind = "command"
command = ["true"]
interval = "500ms"
"#,
            marker = dir.join("service.pid").display(),
            terms = dir.join("terms").display()
        )
    });
    let (marker, terms, alerts) =
        (site.dir.path().join("service.pid"), site.dir.path().join("terms"), site.dir.path().join("alerts"));
    let (socket, state, config_path) = (site.socket.clone(), site.state.clone(), site.config_path.clone());
    let port = site.udp.as_ref().unwrap().local_addr().unwrap().port();
    let config = site.config();
    let pty_path = site.pty.path().to_owned();
    let dir_path = site.dir.path().to_owned();
    let udp = site.udp.take().unwrap();

    // Before the controller answers. Started with SIGTERM, SIGINT and
    // SIGHUP blocked (a blocked mask is inherited across exec): the agent
    // unblocks them, else neither it nor the service below could be stopped.
    let mut stop_signals = nix::sys::signal::SigSet::empty();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        stop_signals.add(signal);
    }
    stop_signals.thread_block().unwrap();
    let mut daemon = site.start_agent();
    stop_signals.thread_unblock().unwrap();
    let ready = site.manager.wait("READY=1");
    daemon.wait_line("SIGHUP, SIGINT, SIGTERM came blocked from whatever started the agent: unblocked", SOON);
    assert!(ready.contains("STATUS=not connected; holds nothing"), "{ready}");
    site.manager.wait("WATCHDOG=1");
    let s = status(&socket);
    assert_eq!((s["connected"].as_bool(), s["initialized"].as_bool()), (Some(false), Some(true)), "{s}");
    assert_eq!(s["node"], "n1");
    assert_eq!(fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600, "the control socket is private");
    assert_eq!(s["groups"][0]["name"], "svc");
    assert_eq!(s["groups"][0]["resources"][0]["state"], "inactive", "{s}");
    let links: Vec<String> =
        s["links"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(links, [format!("serial {}", pty_path.display()), format!("udp 127.0.0.2:{port}")]);
    assert!(s["links"].as_array().unwrap().iter().all(|l| l["open"] == true), "{s}");
    match request(&socket, OperatorOp::Standby { node: "n1".into() }) {
        ControlReply::Error { kind: ErrorKind::NotConnected, message } => {
            assert!(message.contains("not connected"), "{message}")
        }
        other => panic!("a request without a session answered {other:?}"),
    }

    let mut client = Client::connect(&socket, Duration::from_secs(10)).unwrap();
    assert!(matches!(client.cluster().unwrap(), ControlReply::Error { kind: ErrorKind::NotConnected, .. }));

    // Debug commands refuse while it runs, unless forced.
    let config_arg = config_path.to_str().unwrap();
    let socket_arg = socket.to_str().unwrap();
    let state_arg = state.to_str().unwrap();
    let out = agent(&["debug-start", "svc", "--config", config_arg, "--socket", socket_arg, "--state-dir", state_arg]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "warden-agent run (pid {}) holds {}",
            daemon.pid(),
            dir_path.join("run/agent.lock").display()
        )),
        "{stderr}"
    );
    assert!(!marker.exists(), "nothing was started");
    let out = agent(&[
        "debug-monitor",
        "svc",
        "--force",
        "--config",
        config_arg,
        "--socket",
        socket_arg,
        "--state-dir",
        state_arg,
    ]);
    assert_eq!(out.status.code(), Some(1), "forced, it runs and finds the service down:\n{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("[2/2] monitor command monitor `true`: healthy"),
        "{}",
        show(&out)
    );

    // The controller answers: it wants the group here, the agent starts it.
    let controller = Played::start(&config, udp, site.pty.master.try_clone().unwrap());
    let seen = controller.wait("n1 holding svc with net score 2", |s| s.holds == svc() && s.net_score == 2);
    assert_eq!(seen.want, svc());
    assert!(seen.frames[0] > 0 && seen.frames[1] > 0, "frames on both links: {seen:?}");
    let first = service_pid(&marker, None);
    services.add(first);
    assert!(alive(first));
    // Junk on the serial line is refused and counted; nothing changes.
    let mut junk = site.pty.master.try_clone().unwrap();
    junk.write_all(b"\0not a frame\0").unwrap();
    junk.write_all(&[1u8; 300]).unwrap();
    junk.write_all(b"\0").unwrap();
    let serial = |s: &Value| s["links"][0].clone();
    let s = wait_for(SOON, "the junk to be counted", || {
        let s = status(&socket);
        (serial(&s)["rejected"].as_u64() >= Some(2)).then_some(s)
    });
    assert!(serial(&s)["too_long"].as_u64() >= Some(1), "{s}");
    let s = settled(&socket, &["svc"]);
    assert_eq!(s["connected"], true, "{s}");
    assert_eq!(names(&s["want"]), ["svc"]);
    assert_eq!(names(&s["holds"]), ["svc"]);
    assert_eq!(s["net_score"], 2);
    assert_eq!(s["role"], "member");
    assert_eq!(s["groups"][0]["resources"][0]["state"], "active", "{s}");
    for link in s["links"].as_array().unwrap() {
        assert!(link["received"].as_u64().unwrap() > 0 && link["sent"].as_u64().unwrap() > 0, "{link}");
    }
    let events: Vec<&str> = s["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert!(events.contains(&"connected") && events.contains(&"acquired"), "{events:?}");
    assert!(s["events"][0]["time"].as_str().unwrap().ends_with('Z'));
    // The controller's view of the whole cluster, through the agent, by names.
    match Client::connect(&socket, Duration::from_secs(10)).unwrap().cluster().unwrap() {
        ControlReply::Cluster { cluster } => {
            let nodes: Vec<(&str, &str, Option<bool>)> =
                cluster.nodes.iter().map(|n| (n.name.as_str(), n.life.as_str(), n.powered)).collect();
            assert_eq!(nodes, [("n1", "up", Some(true)), ("n2", "up", Some(true))]);
            assert_eq!(cluster.groups.len(), 1);
            assert_eq!((cluster.groups[0].name.as_str(), cluster.groups[0].placed_on.as_deref()), ("svc", Some("n1")));
        }
        other => panic!("cluster answered {other:?}"),
    }
    wait_for(SOON, "the alert for `acquired`", || {
        fs::read_to_string(&alerts).ok()?.contains("acquired|svc|n1|e2e|group `svc` acquired").then_some(())
    });
    assert!(fs::read_to_string(&alerts).unwrap().contains("connected||n1|e2e|session with the controller established"));

    // An operator drains the node through the agent: the controller
    // accepts, drops the group from n1's want, and once n1 has released it
    // gives it to n2.
    match request(&socket, OperatorOp::Standby { node: "n1".into() }) {
        ControlReply::Accepted { .. } => {}
        other => panic!("standby answered {other:?}"),
    }
    controller
        .wait("svc released by n1 and taken by n2", |s| s.want.is_empty() && s.holds.is_empty() && s.n2_holds == svc());
    wait_for(SOON, "the service to be stopped", || (!alive(first)).then_some(()));
    // By SIGTERM, which it could see: commands the agent runs get no
    // blocked signals from it.
    assert_eq!(fs::read_to_string(&terms).unwrap_or_default(), "TERM\n");
    let s = settled(&socket, &[]);
    assert!(names(&s["holds"]).is_empty() && names(&s["want"]).is_empty(), "{s}");
    assert_eq!(s["role"], "standby");
    assert_eq!(s["groups"][0]["resources"][0]["state"], "inactive", "{s}");
    for op in [OperatorOp::Online { node: "n1".into() }, OperatorOp::Migrate { group: "svc".into(), node: "n1".into() }]
    {
        match request(&socket, op.clone()) {
            ControlReply::Accepted { .. } => {}
            other => panic!("{op:?} answered {other:?}"),
        }
    }
    controller.wait("svc moved back to n1", |s| s.holds == svc() && s.n2_holds.is_empty());
    let second = service_pid(&marker, Some(first));
    services.add(second);

    // Refusals at the edge: an unknown name, a malformed line.
    match request(&socket, OperatorOp::Migrate { group: "svc".into(), node: "n9".into() }) {
        ControlReply::Error { kind: ErrorKind::UnknownName, message } => {
            assert_eq!(message, "no node `n9` in the configuration (nodes: n1, n2)");
        }
        other => panic!("{other:?}"),
    }
    let mut client = Client::connect(&socket, Duration::from_secs(10)).unwrap();
    match client.call_raw("{\"cmd\":\"reboot\"}\n").unwrap() {
        ControlReply::Error { kind: ErrorKind::BadRequest, message } => {
            assert!(message.contains("reboot"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(status(&socket)["counters"]["control_rejects"].as_u64().unwrap() >= 1);

    // SIGTERM: it stops, holding everything; the socket goes.
    let exit = daemon.stop(Signal::SIGTERM, SOON);
    assert!(exit.success(), "{exit:?}\n{}", daemon.log());
    assert!(daemon.log().contains("stopped; left as they are: svc"), "{}", daemon.log());
    site.manager.wait("STOPPING=1");
    assert!(!socket.exists(), "control socket removed");
    assert!(alive(second), "fail-static: the service runs on");

    // A new agent finds the group held (the pid file names the service) and
    // reports it, without starting it again.
    let restarted = site.start_agent();
    site.manager.wait("READY=1");
    let s = status(&socket);
    assert_eq!(names(&s["holds"]), ["svc"], "{s}\nold agent:\n{}\nnew agent:\n{}", daemon.log(), restarted.log());
    assert_eq!(
        s["groups"][0]["resources"][0]["state"],
        "active",
        "{s}\nold agent:\n{}\nnew agent:\n{}",
        daemon.log(),
        restarted.log()
    );
    controller.wait("the new session's status", |s| s.holds == svc());
    assert_eq!(service_pid(&marker, None), second, "not started twice:\n{}", restarted.log());
    let seen = controller.wait("anything", |_| true);
    assert_eq!(seen.powered_off, 0, "nobody was fenced: {seen:?}");
    // A controller that stops answering: a relayed request times out.
    drop(controller);
    match request(&socket, OperatorOp::Online { node: "n1".into() }) {
        ControlReply::Error { kind: ErrorKind::Timeout, message } => {
            assert!(message.starts_with("the controller did not answer request "), "{message}");
        }
        other => panic!("a request nobody answers got {other:?}"),
    }
    drop(restarted);
    drop(daemon);
    drop(services);
    drop(site);
}

#[test]
fn a_stopping_agent_lets_the_step_under_way_end_then_holds_what_it_started() {
    let mut site = Site::new("mlock = true\nrealtime_priority = 5", |dir| {
        let script = dir.join("slow");
        let text = format!(
            "#!/bin/sh\ncase \"$1\" in\n  start) echo $$ > {d}/script.pid; touch {d}/begun; while [ ! -e {d}/gate ]; do sleep 0.05; done; touch {d}/running ;;\n  \
             stop) rm -f {d}/running ;;\n  status) [ -e {d}/running ] && exit 0; exit 3 ;;\nesac\n",
            d = dir.display()
        );
        fs::write(&script, text).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        format!(
            "[[group]]\nname = \"slow\"\nnodes = [\"n1\", \"n2\"]\n[[group.resource]]\nkind = \"service\"\nscript = \"{}\"\ntimeout = \"30s\"\n",
            script.display()
        )
    });
    let dir = site.dir.path().to_owned();
    let mut daemon = site.start_agent();
    site.manager.wait("READY=1");
    let controller = site.controller();
    // The controller wants the group: its start is under way, and waits.
    wait_for(SOON, "the start to begin", || dir.join("begun").exists().then_some(()));
    // The main loop runs realtime, memory locked; the commands it has run
    // (the script, started by a worker) keep normal scheduling.
    let log = daemon.log();
    assert!(
        log.contains("memory locked (mlockall)") && log.contains("heartbeat thread under SCHED_FIFO priority 5"),
        "{log}"
    );
    let policy = |pid: &str| -> u32 {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat.rsplit_once(") ").unwrap().1.split_whitespace().nth(38).unwrap().parse().unwrap()
    };
    assert_eq!(policy(&daemon.pid().to_string()), 1, "the main loop is SCHED_FIFO");
    assert_eq!(policy(fs::read_to_string(dir.join("script.pid")).unwrap().trim()), 0, "scripts are SCHED_OTHER");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(i32::try_from(daemon.pid()).unwrap()), Signal::SIGTERM).unwrap();
    daemon.wait_line("waiting at most 20 s for 1 step(s) under way to end", SOON);
    fs::write(dir.join("gate"), "").unwrap();
    let exit = wait_for(SOON, "the agent to exit", || daemon.child.try_wait().ok().flatten());
    assert!(exit.success(), "{exit:?}\n{}", daemon.log());
    let log = daemon.log();
    assert!(dir.join("running").exists(), "the start ran to its end:\n{log}");
    assert!(
        log.contains(&format!("group `slow`: start resource script {}: done in ", dir.join("slow").display())),
        "{log}"
    );
    assert!(log.lines().last().is_some_and(|l| l.ends_with("stopped; left as they are: slow")), "{log}");
    drop(controller);
}

/// A configuration of one node `n1` on a serial line nobody answers.
fn lone_node(dir: &Path, node_extra: &str) -> PathBuf {
    let path = dir.join("lone.toml");
    fs::write(
        &path,
        format!(
            "[cluster]\nname = \"lone\"\nauth = \"crc\"\n[[node]]\nname = \"n1\"\nserial = {{ device = \"/dev/ttyS9\" }}\n{node_extra}\n\
             [[node]]\nname = \"n2\"\nserial = {{ device = \"/dev/ttyS8\" }}\n\
             [[group]]\nname = \"g\"\nnodes = [\"n1\"]\n[[group.resource]]\nkind = \"service\"\ncommand = [\"true\"]\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn run_refuses_a_host_that_is_no_node_and_a_watchdog_it_cannot_arm_naming_them() {
    require(&[("unshare", "util-linux")]);
    let dir = tempfile::Builder::new().prefix(&prefix()).tempdir().unwrap();
    let config = lone_node(dir.path(), "");
    let paths = [
        "--socket",
        &format!("{}/agent.sock", dir.path().display()),
        "--state-dir",
        &format!("{}/state", dir.path().display()),
    ];
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--config", config.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&paths);
        agent(&args)
    };

    let out = run(&["--node", "n7"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("warden-agent run: --node n7: no such node in {} (nodes: n1, n2)\n", config.display())
    );

    // Without --node, the host name decides (here a UTS namespace's own).
    let mut script = format!("hostname lonely && exec {AGENT} run --config {}", config.display());
    for p in &paths {
        script.push(' ');
        script.push_str(p);
    }
    let out = std::process::Command::new("unshare").args(["--uts", "--", "/bin/sh", "-c", &script]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "warden-agent run: this host is `lonely` (uname -n), which is not a node of {} (nodes: n1, n2); pass --node NAME\n",
            config.display()
        )
    );

    let config = lone_node(dir.path(), "watchdog = \"/dev/watchdog9\"");
    let mut args = vec!["run", "--node", "n1", "--config", config.to_str().unwrap()];
    args.extend_from_slice(&paths);
    let out = agent(&args);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "warden-agent run: host watchdog /dev/watchdog9: No such file or directory (os error 2)\n"
    );
}

#[test]
fn logs_carry_journald_priorities_when_stderr_is_the_journal() {
    require(&[("ip", "iproute2"), ("nsenter", "util-linux")]);
    let dir = tempfile::Builder::new().prefix(&prefix()).tempdir().unwrap();
    let config = lone_node(dir.path(), "");
    // The "journal": a pipe whose device and inode JOURNAL_STREAM names.
    let (read, write) = nix::unistd::pipe().unwrap();
    let meta = File::from(write.try_clone().unwrap()).metadata().unwrap();
    let stream = {
        use std::os::unix::fs::MetadataExt;
        format!("{}:{}", meta.dev(), meta.ino())
    };
    let mut child = std::process::Command::new(AGENT)
        .args(["run", "--node", "n1", "--config", config.to_str().unwrap(), "--state-dir"])
        .arg(dir.path().join("state"))
        .arg("--socket")
        .arg(dir.path().join("agent.sock"))
        .env("JOURNAL_STREAM", stream)
        .stderr(std::process::Stdio::from(write))
        .spawn()
        .unwrap();
    let agent_pid = child.id();
    let mut lines = std::io::BufReader::new(File::from(read));
    let mut seen = Vec::new();
    let ready = loop {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut lines, &mut line).unwrap_or(0) == 0 {
            break None;
        }
        seen.push(line.clone());
        if line.contains("ready") {
            break Some(line);
        }
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(i32::try_from(agent_pid).unwrap()), Signal::SIGTERM).unwrap();
    let _ = child.wait();
    assert_eq!(ready.as_deref(), Some("<5>every resource probed: ready\n"), "{seen:?}");
    assert!(seen.iter().any(|l| l.starts_with("<4>link serial /dev/ttyS9: ")), "{seen:?}");
    assert!(
        seen.iter().any(|l| l.starts_with("<5>warden-agent ") && l.contains("as node `n1` of cluster `lone`")),
        "{seen:?}"
    );
}

#[test]
fn metrics_match_the_status_and_bad_scrapes_never_hold_the_heartbeat() {
    let endpoint: SocketAddr = "127.0.0.1:9665".parse().unwrap();
    let mut site = Site::new(&format!("metrics = \"{endpoint}\""), |dir| {
        let script = dir.join("flag");
        let text = format!(
            "#!/bin/sh\ncase \"$1\" in\n  start) touch {d}/running ;;\n  stop) rm -f {d}/running ;;\n  \
             status) [ -e {d}/running ] && exit 0; exit 3 ;;\nesac\n",
            d = dir.display()
        );
        fs::write(&script, text).unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        format!(
            "[[group]]\nname = \"svc\"\nnodes = [\"n1\", \"n2\"]\n[[group.resource]]\nkind = \"service\"\nscript = \"{}\"\n",
            script.display()
        )
    });
    let daemon = site.start_agent();
    site.manager.wait("READY=1");
    daemon.wait_line(&format!("metrics on http://{endpoint}/metrics"), SOON);
    let controller = site.controller();
    controller.wait("n1 holding svc", |s| s.holds == svc());
    let socket = site.socket.clone();
    // The page shows it once the loop has published (at most a keepalive on).
    let page = wait_for(SOON, "the page to show svc held", || {
        let page = site.ns.enter(|| scrape(endpoint))?;
        let held = "warden_agent_group{node=\"n1\",group=\"svc\",condition=\"holds\"}";
        (sample(&page, held) == Some(1.0)).then_some(page)
    });
    // The controller's counters, asked for once a second and published.
    let counted = wait_for(SOON, "the page to show the controller's counters", || {
        let page = site.ns.enter(|| scrape(endpoint))?;
        page.contains("# TYPE warden_controller_reported_fence_operations_total counter\n").then_some(page)
    });
    let uptime = sample(&counted, "warden_controller_reported_uptime_seconds{node=\"n1\"}");
    assert!(uptime.is_some_and(|u| u >= 0.0), "{counted}");
    assert_eq!(
        sample(&counted, "warden_controller_reported_fence_operations_total{node=\"n1\",result=\"confirmed\"}"),
        Some(0.0),
        "{counted}"
    );
    let s = settled(&socket, &["svc"]);
    drop(page);
    let page = wait_for(SOON, "a scrape after the status", || site.ns.enter(|| scrape(endpoint)));
    let after = status(&socket);
    for family in [
        "warden_build_info gauge",
        "warden_uptime_seconds gauge",
        "warden_timing_seconds gauge",
        "warden_agent_connected gauge",
        "warden_agent_role gauge",
        "warden_agent_last_beat_age_seconds gauge",
        "warden_agent_group gauge",
        "warden_agent_steps_total counter",
        "warden_agent_step_duration_seconds histogram",
        "warden_agent_events_total counter",
        "warden_link_up gauge",
        "warden_link_frames_sent_total counter",
        "warden_link_frames_received_total counter",
        "warden_link_frames_rejected_total counter",
        "warden_link_last_heard_age_seconds gauge",
        "warden_metrics_requests_total counter",
    ] {
        assert!(page.contains(&format!("# TYPE {family}\n")), "no family `{family}`:\n{page}");
    }
    promtool_check_metrics(&page);
    every_family_documented(&page);
    let one = |series: &str| assert_eq!(sample(&page, series), Some(1.0), "{series}:\n{page}\n{s}");
    one("warden_agent_connected{node=\"n1\"}");
    one(&format!("warden_agent_role{{node=\"n1\",role=\"{}\"}}", s["role"].as_str().unwrap()));
    for list in ["want", "holds", "healthy"] {
        assert_eq!(names(&s[list]), ["svc"], "{s}");
        one(&format!("warden_agent_group{{node=\"n1\",group=\"svc\",condition=\"{list}\"}}"));
    }
    assert_eq!(sample(&page, "warden_agent_net_score{node=\"n1\"}"), s["net_score"].as_f64(), "{page}\n{s}");
    one("warden_agent_events_total{node=\"n1\",event=\"acquired\"}");
    assert!(sample(&page, "warden_agent_steps_total{node=\"n1\",action=\"start\",result=\"ok\"}") >= Some(1.0));
    for (i, link) in s["links"].as_array().unwrap().iter().enumerate() {
        let series =
            format!("warden_link_frames_received_total{{node=\"n1\",link=\"{}\"}}", link["name"].as_str().unwrap());
        let got = sample(&page, &series).unwrap_or_else(|| panic!("no {series}:\n{page}"));
        // Published at most a keepalive or two before the scrape (a publish
        // that lost the slot to a scrape is tried at the next wake): a few
        // frames fewer.
        let range = link["received"].as_f64().unwrap() - 10.0..=after["links"][i]["received"].as_f64().unwrap();
        assert!(range.contains(&got), "{series} {got} outside {range:?}");
    }

    // Bad scrapes while the heartbeat goes on: an oversized head, a
    // malformed one, fifty connections held open, and good scrapes in a
    // tight loop on another thread, all inside the agent's namespace.
    let before = controller.wait("anything", |_| true);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let (held, hammer) = site.ns.enter(move || {
        let oversized = format!("GET /metrics HTTP/1.1\r\nX-Padding: {}\r\n\r\n", "a".repeat(64 * 1024));
        let answer = http(endpoint, oversized.as_bytes());
        assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431 "), "{answer}");
        assert!(http(endpoint, b"\x16\x03\x01\x02\x00 not http\r\n\r\n").starts_with("HTTP/1.1 400 "));
        let held: Vec<std::net::TcpStream> = (0..50).map(|_| std::net::TcpStream::connect(endpoint).unwrap()).collect();
        // A thread started here stays in the namespace.
        let hammer = std::thread::spawn(move || {
            let mut answered = 0u32;
            while !flag.load(Ordering::Relaxed) {
                answered += u32::from(scrape(endpoint).is_some());
            }
            answered
        });
        (held, hammer)
    });
    let frames = before.frames[0] + before.frames[1];
    controller
        .wait("a hundred more frames from n1 with the endpoint crowded", |s| s.frames[0] + s.frames[1] >= frames + 100);
    stop.store(true, Ordering::Relaxed);
    let hammered = hammer.join().unwrap();
    drop(held);
    let page = wait_for(SOON, "a good scrape answered after the crowd", || site.ns.enter(|| scrape(endpoint)));
    let count = |result: &str| {
        sample(&page, &format!("warden_metrics_requests_total{{result=\"{result}\"}}")).unwrap_or_default()
    };
    assert!(count("too_large") >= 1.0 && count("bad_request") >= 1.0, "{page}");
    assert!(count("busy") >= 40.0, "the crowd was not refused at once:\n{page}");
    let seen = controller.wait("anything", |_| true);
    let late: Vec<&Event> = seen.alarms[before.alarms.len()..]
        .iter()
        .filter(|e| matches!(e, Event::NodeLate { .. } | Event::NodeDead { .. }))
        .collect();
    assert!(late.is_empty(), "n1 fell behind while scraped ({hammered} pages hammered): {late:?}\n{}", daemon.log());
    let log = daemon.log();
    assert!(!log.contains("controller silent"), "{log}");
    promtool_check_metrics(&page);
    drop(controller);
    drop(daemon);
    drop(site);
}
