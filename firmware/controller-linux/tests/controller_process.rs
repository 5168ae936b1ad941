//! `warden-controller` as a real process: two agents played by this test on
//! pseudo-terminal links, a relay board emulator on a third, and a fence
//! file in a temporary directory.
//!
//! The controller places the group on its home node; when that node's
//! agent goes silent it writes the fence record, switches the node's relay
//! off (the board sees it, and the record is on disk by then), confirms
//! through the sense and places the group on the other node. Killed and
//! started again, it moves nothing and toggles no relay; SIGTERM stops it
//! cleanly, relays untouched.
//!
//! Every wait is on an event (a frame, a board event, a console line, a
//! status answer); the bound on each wait is only there so a broken build
//! fails instead of hanging.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use warden_bsp::fence::image::Image;
use warden_bsp::linux::{relay_board, Pty};
use warden_bsp::relay::{Board, BoardEvent};
use warden_bsp::Channel;
use warden_core::wire::{
    decode, encode, Auth, Beat, Body, Decoder, Initiator, Key, Message, Op, Reply, Request, Role, Status, MAX_FRAME,
};
use warden_core::{GroupId, GroupSet, NodeId};

#[path = "../../metrics/tests/support/page_checks.rs"]
mod page_checks;
use page_checks::{every_family_documented, http, promtool_check_metrics, sample, scrape, METRICS_DOC};

const KEY: &[u8] = b"an end-to-end test key, 32 bytes";
const WEB: GroupId = GroupId(0);
/// Upper bound of any single wait: a failure, never a timing assertion.
const BOUND: Duration = Duration::from_secs(30);
const KEEPALIVE: Duration = Duration::from_millis(100);

fn auth() -> Auth {
    Auth::Hmac(Key::new(KEY).unwrap())
}

/// An agent played by the test: it says Hello, holds what the Beats want,
/// and reports it, over the master side of its pty.
struct FakeAgent {
    node: NodeId,
    pty: Pty,
    session: Initiator,
    decoder: Decoder,
    holds: GroupSet,
    silent: bool,
    last_hello: Option<Instant>,
    /// Member beats accepted, with their want.
    beats: Vec<(Role, GroupSet)>,
}

impl FakeAgent {
    fn new(node: u8) -> Self {
        let pty = Pty::open().unwrap();
        nix::fcntl::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&pty.master),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        Self {
            node: NodeId(node),
            pty,
            session: Initiator::new(1000 + u64::from(node)),
            decoder: Decoder::new(),
            holds: GroupSet::EMPTY,
            silent: false,
            last_hello: None,
            beats: Vec::new(),
        }
    }

    fn send(&mut self, message: &Message) {
        let mut frame = [0u8; MAX_FRAME];
        let n = encode(message, &auth(), &mut frame).unwrap();
        // The pty takes a frame whole unless the controller stopped reading.
        let _ = self.pty.master.write_all(&frame[..n]);
    }

    fn hello_if_due(&mut self) {
        if self.silent || self.session.is_established() {
            return;
        }
        if self.last_hello.is_none_or(|t| t.elapsed() >= KEEPALIVE) {
            let hello = self.session.hello(self.node);
            self.send(&hello);
            self.last_hello = Some(Instant::now());
        }
    }

    /// Reads what the controller sent and answers each Beat.
    fn pump(&mut self) {
        if self.silent {
            return;
        }
        let mut buf = [0u8; 1024];
        loop {
            let n = match self.pty.master.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("agent {} pty: {e}", self.node),
            };
            let mut messages = Vec::new();
            self.decoder
                .feed(&buf[..n], &auth(), |r| messages.push(r.expect("a frame from the controller was refused")));
            for m in messages {
                self.receive(m);
            }
        }
    }

    fn receive(&mut self, message: Message) {
        let Body::Beat(Beat { want, role, .. }) = message.body else { return };
        if self.session.accept(&message.header).is_err() {
            // The controller restarted: start a new handshake (once per keepalive).
            if self.last_hello.is_none_or(|t| t.elapsed() >= KEEPALIVE) {
                self.session.start_handshake();
                self.hello_if_due();
            }
            return;
        }
        if role != Role::Listening {
            self.holds = want;
        }
        self.beats.push((role, want));
        let status = Message {
            header: self.session.header(self.node),
            body: Body::Status(Status {
                applied: message.header.seq,
                holds: self.holds,
                busy: GroupSet::EMPTY,
                healthy: self.holds,
                failing: GroupSet::EMPTY,
                stuck: GroupSet::EMPTY,
                net_score: 0,
            }),
        };
        self.send(&status);
    }
}

/// The controller process, killed if the test fails.
struct ControllerProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl ControllerProcess {
    fn start(cluster: &Path, controller: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_warden-controller"))
            .args(["--cluster".as_ref(), cluster.as_os_str(), "--controller".as_ref(), controller.as_os_str()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        for stream in
            [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())]
        {
            let tx = tx.clone();
            let log = log.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    log.lock().unwrap().push(line.clone());
                    let _ = tx.send(line);
                }
            });
        }
        Self { child, lines, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A relay board played on a pty by a thread.
struct PlayedBoard {
    pty: Pty,
    pty_path: PathBuf,
    events: mpsc::Receiver<BoardEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl PlayedBoard {
    fn start() -> Self {
        let pty = Pty::open().unwrap();
        let pty_path = pty.path().to_owned();
        let (tx, events) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let mut master = pty.master.try_clone().unwrap();
        let thread = thread::spawn(move || {
            let mut board = Board::new([true, true]);
            relay_board::serve(&mut board, &mut master, &flag, |_, e| {
                let _ = tx.send(e);
            })
            .unwrap();
        });
        Self { pty, pty_path, events, stop, thread: Some(thread) }
    }

    /// The board stops answering; its line stays open, as a module that
    /// hangs.
    fn mute(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = &self.pty;
    }
}

impl Drop for PlayedBoard {
    fn drop(&mut self) {
        self.mute();
    }
}

/// Everything of one run.
struct Rig {
    dir: tempfile::TempDir,
    agents: [FakeAgent; 2],
    board: PlayedBoard,
    /// Relay switches seen, in order.
    switched: Vec<(Channel, bool)>,
    controller: Option<ControllerProcess>,
    /// Console lines of the current controller not yet looked at.
    lines: Vec<String>,
}

impl Rig {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let agents = [FakeAgent::new(0), FakeAgent::new(1)];
        let board = PlayedBoard::start();
        let key = dir.path().join("cluster.key");
        std::fs::write(&key, KEY).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        // The alert command writes every event it is given to alerts.log.
        let alert = format!(
            "alert = [\"/bin/sh\", \"-c\", \"echo $WARDEN_EVENT $WARDEN_NODE $WARDEN_GROUP >> {}\"]",
            dir.path().join("alerts.log").display()
        );
        std::fs::write(
            dir.path().join("cluster.toml"),
            r#"
[cluster]
name = "e2e"
key_file = "cluster.key"
ALERT

[timing]
keepalive = "100ms"
warntime = "300ms"
deadtime = "600ms"
initdead = "1s"
release_timeout = "2s"
fence_timeout = "3s"
failback_delay = "1s"

[[node]]
name = "alpha"
relay = 0
[node.serial]
device = "/dev/ttyS0"

[[node]]
name = "beta"
relay = 1
[node.serial]
device = "/dev/ttyS0"

[[group]]
name = "web"
nodes = ["alpha", "beta"]
[[group.resource]]
kind = "service"
command = ["/bin/true"]
"#
            .replace("ALERT", &alert),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("controller.toml"),
            format!(
                r#"
[controller]
socket = "controller.sock"
fence_store = "fences"
sense_interval = "100ms"

[relay_module]
device = "{}"
channels = 2
answer_timeout = "500ms"

[[node]]
name = "alpha"
serial = {{ device = "{}" }}
relay = {{ kind = "module" }}

[[node]]
name = "beta"
serial = {{ device = "{}" }}
relay = {{ kind = "module" }}
"#,
                board.pty_path.display(),
                agents[0].pty.path().display(),
                agents[1].pty.path().display()
            ),
        )
        .unwrap();
        Self { dir, agents, board, switched: Vec::new(), controller: None, lines: Vec::new() }
    }

    fn start_controller(&mut self) {
        let d = self.dir.path();
        self.lines.clear();
        self.controller = Some(ControllerProcess::start(&d.join("cluster.toml"), &d.join("controller.toml")));
    }

    fn log(&self) -> String {
        self.controller.as_ref().map(ControllerProcess::log).unwrap_or_default()
    }

    /// One round: wait (poll) for the agents' ptys, answer, collect board
    /// events and console lines.
    fn step(&mut self) {
        for a in &mut self.agents {
            a.hello_if_due();
        }
        {
            let fds: Vec<_> = self.agents.iter().filter(|a| !a.silent).map(|a| a.pty.master.as_fd()).collect();
            let mut pfds: Vec<_> = fds.iter().map(|fd| PollFd::new(*fd, PollFlags::POLLIN)).collect();
            let _ = poll(&mut pfds, PollTimeout::from(20u16));
        }
        for a in &mut self.agents {
            a.pump();
        }
        while let Ok(e) = self.board.events.try_recv() {
            if let BoardEvent::Switched { channel, on } = e {
                self.switched.push((channel, on));
            }
        }
        if let Some(c) = &self.controller {
            while let Ok(line) = c.lines.try_recv() {
                self.lines.push(line);
            }
        }
    }

    /// Steps until `done` holds, or fails with the controller's log.
    fn until(&mut self, what: &str, mut done: impl FnMut(&mut Self) -> bool) {
        let start = Instant::now();
        while !done(self) {
            if let Some(status) = self.controller.as_mut().and_then(|c| c.child.try_wait().unwrap()) {
                panic!("the controller exited ({status}) while waiting for {what}:\n{}", self.log());
            }
            assert!(start.elapsed() < BOUND, "never saw {what}; controller log:\n{}", self.log());
            self.step();
        }
    }

    fn saw_line(&self, needle: &str) -> bool {
        self.lines.iter().any(|l| l.contains(needle))
    }

    /// Asks the control socket.
    fn ask(&self, request: &str) -> serde_json::Value {
        let mut s = UnixStream::connect(self.dir.path().join("controller.sock")).unwrap();
        writeln!(s, "{request}").unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("answer to `{request}` is not JSON ({e}): {line:?}"))
    }

    fn fences(&self) -> [bool; 8] {
        Image::decode(&std::fs::read(self.dir.path().join("fences")).unwrap()).unwrap().fences
    }
}

#[test]
fn fences_the_silent_holder_moves_the_group_and_a_restart_changes_nothing() {
    let mut rig = Rig::new();
    rig.start_controller();

    // Placement: web goes home, to alpha.
    rig.until("web placed on alpha", |r| r.agents[0].holds.contains(WEB));
    assert!(!rig.agents[1].holds.contains(WEB));
    rig.until("the placement line", |r| r.saw_line("group web placed on node alpha"));
    let status = rig.ask("status");
    assert_eq!(status["ok"], true, "{status}");
    assert_eq!(status["status"]["groups"][0]["placed_on"], "alpha", "{status}");
    assert_eq!(status["status"]["nodes"][0]["life"], "up", "{status}");
    assert_eq!(status["status"]["nodes"][0]["power"], "on", "{status}");
    assert!(rig.switched.is_empty(), "relays switched before any failure: {:?}", rig.switched);
    assert!(!rig.dir.path().join("fences").exists(), "a fence record before any fence");

    // Alpha's agent goes silent.
    rig.agents[0].silent = true;
    rig.until("alpha's relay switched off", |r| !r.switched.is_empty());
    assert_eq!(rig.switched, vec![(Channel(0), false)]);
    // The record was durable before the relay was switched.
    assert!(rig.fences()[0], "relay switched before the fence record was on disk");
    assert!(!rig.fences()[1]);
    rig.until("the fence confirmed by the sense", |r| r.saw_line("node alpha is fenced: power sensed off"));
    rig.until("web on beta", |r| r.agents[1].holds.contains(WEB));
    rig.until("the takeover line", |r| r.saw_line("group web placed on node beta"));
    // The alert command ran off the main loop, with the event's names.
    let alerts = rig.dir.path().join("alerts.log");
    rig.until("the alerts of the fence", |_| {
        std::fs::read_to_string(&alerts)
            .is_ok_and(|a| a.contains("fence_confirmed alpha") && a.contains("placed beta web"))
    });
    let status = rig.ask("status");
    assert_eq!(status["status"]["nodes"][0]["life"], "fenced", "{status}");
    assert_eq!(status["status"]["nodes"][0]["power"], "off", "{status}");
    assert_eq!(status["status"]["groups"][0]["placed_on"], "beta", "{status}");
    let log = rig.log();
    let record = log.find("node alpha: fence record written (fenced)").expect("no fence record line");
    let relay = log.find("node alpha: relay commanded off").expect("no relay line");
    assert!(record < relay, "relay before record:\n{log}");

    // Killed (no chance to clean up) and started again.
    let mut old = rig.controller.take().unwrap();
    old.child.kill().unwrap();
    old.child.wait().unwrap();
    if std::env::var_os("WARDEN_SHOW_LOG").is_some() {
        eprintln!("{}\n--- restart ---", old.log());
    }
    drop(old);
    let switched_before = rig.switched.len();
    rig.agents[1].beats.clear();
    rig.start_controller();
    rig.until("the restarted controller", |r| r.saw_line("controller of cluster e2e started"));
    assert!(rig.saw_line("fenced: alpha"), "the fence record was not read back:\n{}", rig.log());
    // Beta is adopted with what it holds, and keeps it for a while of beats.
    rig.until("ten member beats to beta", |r| {
        r.agents[1].beats.iter().filter(|(role, _)| *role == Role::Member).count() >= 10
    });
    for (role, want) in &rig.agents[1].beats {
        if *role == Role::Member {
            assert!(want.contains(WEB), "the restart asked beta to release web: {:?}", rig.agents[1].beats);
        }
    }
    assert_eq!(&rig.switched[switched_before..], &[], "the restart toggled a relay");
    let status = rig.ask("status");
    assert_eq!(status["status"]["nodes"][0]["life"], "fenced", "{status}");
    assert_eq!(status["status"]["groups"][0]["placed_on"], "beta", "{status}");
    assert_eq!(status["status"]["groups"][0]["held_by"], serde_json::json!(["beta"]), "{status}");

    // Operator commands by name, refused with the controller's reason.
    let answer = rig.ask("migrate web alpha");
    assert_eq!(answer["ok"], false, "{answer}");
    assert_eq!(answer["error"], "the node is not up, or is fenced, in standby, or failing that group");
    let answer = rig.ask("fence gamma");
    assert_eq!(answer["error"], "unknown node `gamma` (nodes: alpha, beta)");

    // SIGTERM: a clean stop, relays untouched, the socket removed.
    let mut current = rig.controller.take().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(current.child.id() as i32), nix::sys::signal::Signal::SIGTERM)
        .unwrap();
    let status = current.child.wait().unwrap();
    assert!(status.success(), "exit {status}:\n{}", current.log());
    if std::env::var_os("WARDEN_SHOW_LOG").is_some() {
        eprintln!("{}", current.log());
    }
    rig.step();
    assert_eq!(&rig.switched[switched_before..], &[], "stopping toggled a relay");
    assert!(!rig.dir.path().join("controller.sock").exists());
}

#[test]
fn a_corrupt_fence_file_stops_the_boot_with_its_name() {
    let rig = Rig::new();
    let fences = rig.dir.path().join("fences");
    std::fs::write(&fences, b"WFEN but not a fence image").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden-controller"))
        .arg("--cluster")
        .arg(rig.dir.path().join("cluster.toml"))
        .arg("--controller")
        .arg(rig.dir.path().join("controller.toml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("fence store {}: fence records are corrupt", fences.display())), "stderr: {err}");
    assert!(err.contains("refusing to start"), "stderr: {err}");
    drop(File::open(&fences).unwrap());
}

#[test]
fn a_relay_module_that_stops_answering_does_not_keep_the_links_unread() {
    let mut rig = Rig::new();
    rig.start_controller();
    rig.until("web placed on alpha", |r| r.agents[0].holds.contains(WEB));
    rig.until("both nodes up", |r| r.saw_line("node alpha is up") && r.saw_line("node beta is up"));

    // Every sense query now waits out answer_timeout (500 ms, per channel):
    // done in the main loop, that is a second without reading the links,
    // past deadtime (600 ms).
    rig.board.mute();
    rig.until("the sense failing", |r| r.saw_line("alpha: cannot read power") && r.saw_line("beta: cannot read power"));
    let seen = rig.lines.len();
    for a in &mut rig.agents {
        a.beats.clear();
    }
    // Thirty keepalives of beats to each node (five deadtimes).
    rig.until("thirty more beats to each node", |r| r.agents.iter().all(|a| a.beats.len() >= 30));
    let after: Vec<&String> = rig.lines[seen..].iter().collect();
    for word in ["is late", "is dead", "fencing", "fenced"] {
        assert!(
            !after.iter().any(|l| l.contains(word)),
            "a line says `{word}` while only the relay module was silent:\n{}",
            rig.log()
        );
    }
    assert!(rig.agents[0].holds.contains(WEB), "web left alpha:\n{}", rig.log());
}

/// A client of the operator endpoint played by the test: frames under a
/// key, over UDP on loopback.
struct OperatorClient {
    socket: std::net::UdpSocket,
    session: Initiator,
    auth: Auth,
}

impl OperatorClient {
    fn new(endpoint: std::net::SocketAddr, auth: Auth) -> Self {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(endpoint).unwrap();
        socket.set_nonblocking(true).unwrap();
        Self { socket, session: Initiator::new(0x5eed_0000_0000_0001), auth }
    }

    fn frame(&self, message: &Message) -> Vec<u8> {
        let mut frame = [0u8; MAX_FRAME];
        let n = encode(message, &self.auth, &mut frame).unwrap();
        frame[..n].to_vec()
    }

    /// Sends `frame` and steps the rig until a datagram comes back.
    fn exchange(&self, rig: &mut Rig, frame: &[u8]) -> Vec<u8> {
        self.socket.send(frame).unwrap();
        let mut buf = [0u8; 512];
        let mut got = None;
        rig.until("an answer on the operator endpoint", |_| match self.socket.recv(&mut buf) {
            Ok(n) => {
                got = Some(buf[..n].to_vec());
                true
            }
            Err(_) => false,
        });
        got.unwrap()
    }

    /// Sends `frame`, and returns the answer accepted by the session rules.
    fn ask(&mut self, rig: &mut Rig, frame: &[u8]) -> Message {
        let answer = self.exchange(rig, frame);
        let message = decode(&answer, &self.auth).expect("the controller's answer is not a frame under the key");
        assert_eq!(message.header.node, NodeId::OPERATOR);
        self.session.accept(&message.header).expect("the answer breaks the session rules");
        message
    }
}

/// A free UDP port on loopback.
fn free_udp_port() -> std::net::SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

#[test]
fn the_operator_endpoint_fences_once_answers_again_and_refuses_a_wrong_key() {
    let mut rig = Rig::new();
    let endpoint = free_udp_port();
    let path = rig.dir.path().join("controller.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen(
        "sense_interval = \"100ms\"",
        &format!("sense_interval = \"100ms\"\noperator = \"{endpoint}\""),
        1,
    );
    std::fs::write(&path, text).unwrap();
    rig.start_controller();
    rig.until("web placed on alpha", |r| r.agents[0].holds.contains(WEB));
    rig.until("the endpoint line", |r| r.saw_line(&format!("operator endpoint on udp {endpoint}")));

    // A wrong key: refused, counted, answered with the bare refusal; nothing moves.
    let mut stranger = OperatorClient::new(endpoint, Auth::Hmac(Key::new(b"not the cluster key").unwrap()));
    let hello = stranger.session.hello(NodeId::OPERATOR);
    let answer = stranger.exchange(&mut rig, &stranger.frame(&hello));
    assert_eq!(answer, b"WARDEN-REFUSED auth");

    // The cluster key: a session, a summary, a fence.
    let mut op = OperatorClient::new(endpoint, auth());
    let hello = op.session.hello(NodeId::OPERATOR);
    let answer = op.ask(&mut rig, &op.frame(&hello));
    assert!(matches!(answer.body, Body::Reply(Reply { id: 0, outcome: Ok(()) })), "{answer:?}");
    let describe = Message {
        header: op.session.header(NodeId::OPERATOR),
        body: Body::Request(Request { id: 7, op: Op::Describe }),
    };
    let answer = op.ask(&mut rig, &op.frame(&describe));
    let Body::Summary(summary) = answer.body else { panic!("describe answered with {answer:?}") };
    assert_eq!(summary.id, 7);
    assert_eq!(summary.placed_on(WEB), Some(NodeId(0)));

    let fence = Message {
        header: op.session.header(NodeId::OPERATOR),
        body: Body::Request(Request { id: 8, op: Op::Fence { node: NodeId(1) } }),
    };
    let fence_frame = op.frame(&fence);
    let answer = op.ask(&mut rig, &fence_frame);
    assert!(matches!(answer.body, Body::Reply(Reply { id: 8, outcome: Ok(()) })), "{answer:?}");
    rig.until("beta's relay switched off", |r| r.switched.contains(&(Channel(1), false)));
    // The same frame again (a client that lost the answer): the same
    // answer, byte for byte, and no second fence.
    let again = op.exchange(&mut rig, &fence_frame);
    let first = decode(&again, &auth()).unwrap();
    assert_eq!(first.header.seq, answer.header.seq, "a repeated request was answered anew");
    rig.until("beta fenced", |r| r.saw_line("node beta is fenced: power sensed off"));
    // Another node's header on the operator endpoint is refused.
    let mut agentlike = OperatorClient::new(endpoint, auth());
    let hello = agentlike.session.hello(NodeId(0));
    agentlike.socket.send(&agentlike.frame(&hello)).unwrap();

    let mut status = rig.ask("status");
    rig.until("the refusals counted", |r| {
        status = r.ask("status");
        status["status"]["operator"]["refused"]["node"] == 1
    });
    let operator = &status["status"]["operator"];
    assert_eq!(operator["refused"]["auth"], 1, "{status}");
    assert_eq!(operator["requests"], 2, "{status}");
    assert_eq!(operator["resent"], 1, "{status}");
    assert_eq!(status["status"]["nodes"][1]["life"], "fenced", "{status}");
    assert_eq!(rig.switched.iter().filter(|s| **s == (Channel(1), false)).count(), 1, "{:?}", rig.switched);
    // The fence is in the history, asked for by an operator, confirmed.
    let history = rig.ask("history");
    let newest = &history["history"]["entries"][0];
    assert_eq!(history["history"]["total"], 1, "{history}");
    assert_eq!(
        (&newest["node"], &newest["action"], &newest["reason"], &newest["requested_by"], &newest["result"]),
        (&"beta".into(), &"fence".into(), &"operator".into(), &"operator".into(), &"confirmed".into()),
        "{history}"
    );
    assert!(newest["confirm_ms"].is_u64() && newest["started"].as_str().is_some_and(|s| s.ends_with('Z')), "{history}");
    // The status carries the same history (each start placed on the wall
    // clock when asked: a millisecond may part the two answers).
    let without_start = |v: &serde_json::Value| {
        let mut v = v.clone();
        for e in v["entries"].as_array_mut().into_iter().flatten() {
            e.as_object_mut().map(|o| o.remove("started"));
        }
        v
    };
    assert_eq!(without_start(&status["status"]["history"]), without_start(&history["history"]), "{status}");
    // The operator endpoint tells the same entry.
    let ask = Message {
        header: op.session.header(NodeId::OPERATOR),
        body: Body::Request(Request { id: 9, op: Op::History { back: 0 } }),
    };
    let answer = op.ask(&mut rig, &op.frame(&ask));
    let Body::History(h) = answer.body else { panic!("history answered with {answer:?}") };
    assert_eq!((h.id, h.held, h.total), (9, 1, 1));
    assert_eq!(h.entry.map(|e| e.node), Some(NodeId(1)));
    // And the counters an agent publishes for a controller with no page.
    let ask = Message {
        header: op.session.header(NodeId::OPERATOR),
        body: Body::Request(Request { id: 10, op: Op::Counters }),
    };
    let answer = op.ask(&mut rig, &op.frame(&ask));
    let Body::Counters(c) = answer.body else { panic!("counters answered with {answer:?}") };
    assert_eq!((c.id, c.fences_confirmed, c.fences_unconfirmed, c.unfences), (10, 1, 0, 0), "{c:?}");
    assert!(!rig.switched.contains(&(Channel(0), false)), "the wrong key fenced alpha: {:?}", rig.switched);
}

/// A free TCP port on loopback.
fn free_tcp_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

#[test]
fn the_documented_alert_rules_pass_promtool() {
    let after = METRICS_DOC.split("## Alert rules").nth(1).expect("docs/metrics.md has its alert rules");
    let start = after.find("```yaml\n").expect("the rules are a yaml block") + "```yaml\n".len();
    let len = after[start..].find("```").expect("the block ends");
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("warden.rules.yml");
    std::fs::write(&rules, &after[start..start + len]).unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap_or_else(|e| panic!("promtool: {e}: apt-get install prometheus (it ships promtool)"));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.contains("SUCCESS: 5 rules found"), "promtool check rules: {said}");
}

/// The families the issue asks for, by the names the page gives them.
const CONTROLLER_FAMILIES: &[&str] = &[
    "warden_build_info gauge",
    "warden_uptime_seconds gauge",
    "warden_timing_seconds gauge",
    "warden_node_life gauge",
    "warden_node_power gauge",
    "warden_node_sense_ok gauge",
    "warden_node_fenced gauge",
    "warden_node_standby gauge",
    "warden_node_last_heard_age_seconds gauge",
    "warden_group_placed gauge",
    "warden_group_holders gauge",
    "warden_group_state gauge",
    "warden_group_moves_total counter",
    "warden_link_up gauge",
    "warden_link_frames_sent_total counter",
    "warden_link_frames_received_total counter",
    "warden_link_frames_rejected_total counter",
    "warden_link_last_heard_age_seconds gauge",
    "warden_fence_operations_total counter",
    "warden_fence_duration_seconds histogram",
    "warden_failover_phase_seconds histogram",
    "warden_relay_errors_total counter",
    "warden_watchdog_feeds_withheld_total counter",
    "warden_events_total counter",
    "warden_metrics_requests_total counter",
];

#[test]
fn metrics_match_the_status_and_bad_scrapes_never_hold_the_heartbeat() {
    let mut rig = Rig::new();
    let endpoint = free_tcp_port();
    let path = rig.dir.path().join("controller.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replacen(
        "sense_interval = \"100ms\"",
        &format!("sense_interval = \"100ms\"\nmetrics = \"{endpoint}\""),
        1,
    );
    std::fs::write(&path, text).unwrap();
    rig.start_controller();
    rig.until("web placed on alpha", |r| r.agents[0].holds.contains(WEB));
    rig.until("the endpoint line", |r| r.saw_line(&format!("metrics on http://{endpoint}/metrics")));
    rig.until("both nodes up", |r| r.saw_line("node alpha is up") && r.saw_line("node beta is up"));

    // Alpha's agent goes silent: dead, fenced, web placed on beta. The page
    // shows it once the loop has published (at once after the events).
    rig.agents[0].silent = true;
    let mut page = String::new();
    rig.until("the failover on the page", |_| {
        page = scrape(endpoint).unwrap_or_default();
        sample(&page, "warden_failover_phase_seconds_count{phase=\"placement\"}") == Some(1.0)
            && sample(&page, "warden_group_state{group=\"web\",state=\"held\"}") == Some(1.0)
    });
    rig.until("web on beta", |r| r.agents[1].holds.contains(WEB));
    let status = rig.ask("status");
    let page = scrape(endpoint).expect("a scrape");
    let after = rig.ask("status");
    for family in CONTROLLER_FAMILIES {
        assert!(page.contains(&format!("# TYPE {family}\n")), "no family `{family}`:\n{page}");
    }
    promtool_check_metrics(&page);
    every_family_documented(&page);
    let one = |series: &str| assert_eq!(sample(&page, series), Some(1.0), "{series}:\n{page}\n{status}");
    for node in status["status"]["nodes"].as_array().unwrap() {
        let name = node["name"].as_str().unwrap();
        one(&format!("warden_node_life{{node=\"{name}\",life=\"{}\"}}", node["life"].as_str().unwrap()));
        one(&format!("warden_node_power{{node=\"{name}\",power=\"{}\"}}", node["power"].as_str().unwrap()));
        let standby = sample(&page, &format!("warden_node_standby{{node=\"{name}\"}}"));
        assert_eq!(standby, Some(if node["standby"] == true { 1.0 } else { 0.0 }), "{page}");
        // Counters between two status answers taken around the scrape; the
        // page's figures are published at most a keepalive apart, in which a
        // link takes a Status or two.
        for (i, link) in node["links"].as_array().unwrap().iter().enumerate() {
            let series = format!(
                "warden_link_frames_received_total{{node=\"{name}\",link=\"{}\"}}",
                link["link"].as_str().unwrap()
            );
            let got = sample(&page, &series).unwrap_or_else(|| panic!("no {series}:\n{page}"));
            let later = after["status"]["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).unwrap();
            // Published up to a keepalive or two before the scrape.
            let range = link["frames_ok"].as_f64().unwrap() - 10.0..=later["links"][i]["frames_ok"].as_f64().unwrap();
            assert!(range.contains(&got), "{series} {got} outside {range:?}");
        }
    }
    assert_eq!(status["status"]["nodes"][0]["life"], "fenced", "{status}");
    one("warden_node_fenced{node=\"alpha\"}");
    one("warden_group_placed{group=\"web\",node=\"beta\"}");
    one("warden_group_state{group=\"web\",state=\"held\"}");
    one("warden_fence_operations_total{result=\"confirmed\"}");
    one("warden_fence_duration_seconds_count");
    one("warden_group_moves_total{group=\"web\",reason=\"holder_lost\"}");
    one("warden_events_total{kind=\"node_dead\"}");
    for phase in ["detection", "fence", "placement"] {
        one(&format!("warden_failover_phase_seconds_count{{phase=\"{phase}\"}}"));
    }
    assert_eq!(sample(&page, "warden_timing_seconds{key=\"keepalive\"}"), Some(0.1), "{page}");
    assert!(sample(&page, "warden_link_last_heard_age_seconds{node=\"beta\",link=\"").is_none());

    // Bad scrapes while the heartbeat goes on: an oversized head, a
    // malformed one, fifty connections held open, and good scrapes in a
    // tight loop on another thread.
    let seen = rig.lines.len();
    let beats = rig.agents[1].beats.len();
    let oversized = format!("GET /metrics HTTP/1.1\r\nX-Padding: {}\r\n\r\n", "a".repeat(64 * 1024));
    let answer = http(endpoint, oversized.as_bytes());
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431 "), "{answer}");
    assert!(http(endpoint, b"\x16\x03\x01\x02\x00 not http\r\n\r\n").starts_with("HTTP/1.1 400 "));
    let held: Vec<std::net::TcpStream> = (0..50).map(|_| std::net::TcpStream::connect(endpoint).unwrap()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let hammer = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut answered = 0u32;
            while !stop.load(Ordering::Relaxed) {
                answered += u32::from(scrape(endpoint).is_some());
            }
            answered
        })
    };
    rig.until("thirty more beats to beta with the endpoint crowded", |r| r.agents[1].beats.len() >= beats + 30);
    stop.store(true, Ordering::Relaxed);
    let hammered = hammer.join().unwrap();
    drop(held);
    let mut page = String::new();
    rig.until("a good scrape answered after the crowd", |_| {
        page = scrape(endpoint).unwrap_or_default();
        !page.is_empty()
    });
    let count = |result: &str| {
        sample(&page, &format!("warden_metrics_requests_total{{result=\"{result}\"}}")).unwrap_or_default()
    };
    assert!(count("too_large") >= 1.0 && count("bad_request") >= 1.0, "{page}");
    assert!(count("busy") >= 40.0, "the crowd was not refused at once:\n{page}");
    let late: Vec<&String> =
        rig.lines[seen..].iter().filter(|l| l.contains("beta is late") || l.contains("held")).collect();
    assert!(late.is_empty(), "the loop fell behind while scraped ({hammered} pages hammered): {late:?}\n{}", rig.log());
    promtool_check_metrics(&page);
}
