//! `fence_warden` as the fencer runs it: its metadata against the fence
//! agents' schema, a named error and exit 1 for every bad input, and its
//! actions against a played controller: a thread that speaks the operator
//! endpoint's protocol on a UDP socket and records what it served.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use warden_core::controller::Life;
use warden_core::wire::{
    decode, encode, Auth, Body, FrameError, Key, Message, NodeSummary, Op, Refusal, Reply, Responder, Summary,
    MAX_FRAME,
};
use warden_core::NodeId;

const KEY: &[u8] = b"fence-warden-test-key-0123456789";
const SCHEMA: &str = "/usr/share/cluster/relaxng/metadata.rng";

/// What a run printed and how it ended.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Exit 1 with one line on stderr that starts `fence_warden: ` and
    /// contains `named`.
    fn assert_refused(&self, named: &str) {
        assert_eq!(self.code, 1, "{self:?}");
        assert_eq!(self.stderr.lines().count(), 1, "one line: {self:?}");
        assert!(self.stderr.starts_with("fence_warden: "), "{self:?}");
        assert!(self.stderr.contains(named), "`{named}` not in {self:?}");
        assert!(self.stdout.is_empty(), "{self:?}");
    }
}

fn fence_warden(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fence_warden"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The agent reads standard input only without arguments.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A cluster file of two nodes, alpha and beta, and its key (mode 0600).
struct Cluster {
    dir: tempfile::TempDir,
}

impl Cluster {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cluster.toml"),
            r#"
[cluster]
name = "fence-test"
key_file = "cluster.key"

[[node]]
name = "alpha"
relay = 0
[node.serial]
device = "/dev/ttyS0"

[[node]]
name = "beta"
relay = 1
[node.serial]
device = "/dev/ttyS1"
"#,
        )
        .unwrap();
        let cluster = Self { dir };
        cluster.key("cluster.key", KEY, 0o600);
        cluster
    }

    fn file(&self) -> String {
        self.dir.path().join("cluster.toml").display().to_string()
    }

    /// Writes a key file and gives its path.
    fn key(&self, name: &str, bytes: &[u8], mode: u32) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path.display().to_string()
    }

    /// Standard input as the fencer writes it, with `lines` added.
    fn stdin(&self, controller: SocketAddr, lines: &str) -> Vec<u8> {
        format!(
            "# written by the fencer\nipaddr={}\nipport={}\ncluster_file={}\nnodename=node1.example.com\n{lines}",
            controller.ip(),
            controller.port(),
            self.file()
        )
        .into_bytes()
    }
}

// ---------------------------------------------------------------------------
// The played controller.

/// How the played controller's relay behaves after a fence.
#[derive(Debug, Clone, Copy)]
enum Relay {
    /// `fencing, power on` for this many describes, then `fenced, power off`.
    ConfirmsAfter(usize),
    /// `fencing, power on` for ever.
    NeverConfirms,
}

struct Played {
    socket: UdpSocket,
    auth: Auth,
    sessions: HashMap<SocketAddr, Responder>,
    nodes: Vec<(Life, Option<bool>)>,
    relay: Relay,
    /// The node being fenced and the describes served since.
    fencing: Option<(usize, usize)>,
    events: Arc<Mutex<Vec<String>>>,
}

/// A played controller on 127.0.0.1 and what it records.
struct Controller {
    addr: SocketAddr,
    events: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Controller {
    /// Plays a controller under `key` with `nodes` (alpha, beta).
    fn start(key: &[u8], nodes: [(Life, Option<bool>); 2], relay: Relay) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let mut played = Played {
            socket,
            auth: Auth::Hmac(Key::new(key).unwrap()),
            sessions: HashMap::new(),
            nodes: nodes.to_vec(),
            relay,
            fencing: None,
            events: Arc::clone(&events),
        };
        let thread = std::thread::spawn(move || played.serve());
        Self { addr, events, thread: Some(thread) }
    }

    fn record(&self, event: &str) {
        self.events.lock().unwrap().push(event.to_owned());
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        // A datagram that is no frame and comes from no session ends it.
        let stop = UdpSocket::bind("127.0.0.1:0").unwrap();
        stop.send_to(b"stop", self.addr).unwrap();
        if let Some(Err(panic)) = self.thread.take().map(JoinHandle::join) {
            if !std::thread::panicking() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

impl Played {
    fn record(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }

    fn serve(&mut self) {
        let mut buf = [0u8; MAX_FRAME + 1];
        loop {
            let (len, peer) = self.socket.recv_from(&mut buf).unwrap();
            let datagram = &buf[..len];
            if datagram == b"stop" {
                return;
            }
            let message = match decode(datagram, &self.auth) {
                Ok(m) => m,
                Err(FrameError::BadTag) => {
                    self.record("refused auth".into());
                    self.socket.send_to(warden_tools::operator::AUTH_REFUSED, peer).unwrap();
                    continue;
                }
                Err(e) => panic!("not a frame from {peer}: {e:?}"),
            };
            assert_eq!(message.header.node, NodeId::OPERATOR);
            let body = match message.body {
                Body::Hello => {
                    let session = self.sessions.entry(peer).or_insert_with(|| Responder::new(0x5eed));
                    session.accept_hello(&message.header);
                    self.record("hello".into());
                    Body::Reply(Reply { id: 0, outcome: Ok(()) })
                }
                Body::Request(request) => {
                    let Some(session) = self.sessions.get_mut(&peer) else { continue };
                    if session.accept(&message.header).is_err() {
                        continue; // a repeated frame; its answer is on its way
                    }
                    match request.op {
                        Op::Describe => Body::Summary(self.describe(request.id)),
                        op => Body::Reply(Reply { id: request.id, outcome: self.carry_out(op) }),
                    }
                }
                other => panic!("an operator does not send {other:?}"),
            };
            let session = self.sessions.get_mut(&peer).unwrap();
            let answer = Message { header: session.header(NodeId::OPERATOR), body };
            let mut frame = [0u8; MAX_FRAME];
            let len = encode(&answer, &self.auth, &mut frame).unwrap();
            self.socket.send_to(&frame[..len], peer).unwrap();
        }
    }

    fn carry_out(&mut self, op: Op) -> Result<(), Refusal> {
        let outcome = match op {
            Op::Fence { node } => match self.nodes[node.index()].0 {
                Life::Fenced | Life::Fencing => Err(Refusal::AlreadyFenced),
                _ => {
                    self.nodes[node.index()] = (Life::Fencing, Some(true));
                    self.fencing = Some((node.index(), 0));
                    Ok(())
                }
            },
            Op::Unfence { node } => match self.nodes[node.index()].0 {
                Life::Fenced => {
                    self.nodes[node.index()] = (Life::Booting, Some(true));
                    Ok(())
                }
                _ => Err(Refusal::NotFenced),
            },
            _ => Err(Refusal::Unsafe),
        };
        self.record(format!("{} {}: {}", op.verb(), node_of(op), outcome.map_or_else(|r| r.name(), |()| "accepted")));
        outcome
    }

    fn describe(&mut self, id: u32) -> Summary {
        if let Some((node, served)) = self.fencing {
            if let Relay::ConfirmsAfter(n) = self.relay {
                if served >= n {
                    self.nodes[node] = (Life::Fenced, Some(false));
                    self.fencing = None;
                }
            }
            if let Some((_, served)) = self.fencing.as_mut() {
                *served += 1;
            }
        }
        let mut summary = Summary::new(id, 100, 2, 0);
        for (i, (life, powered)) in self.nodes.iter().enumerate() {
            let node =
                NodeSummary { life: *life, standby: false, powered: *powered, fence_record: false, heard_ago: None };
            summary.set_node(NodeId(u8::try_from(i).unwrap()), node);
        }
        let (life, powered) = self.nodes[0];
        self.record(format!("describe: alpha {}, power {powered:?}", life.name()));
        summary
    }
}

fn node_of(op: Op) -> u8 {
    match op {
        Op::Fence { node } | Op::Unfence { node } => node.0,
        _ => u8::MAX,
    }
}

const UP: (Life, Option<bool>) = (Life::Up, Some(true));
const FENCED: (Life, Option<bool>) = (Life::Fenced, Some(false));

// ---------------------------------------------------------------------------
// Metadata.

fn xmllint(xml: &str) {
    assert!(
        Path::new(SCHEMA).exists(),
        "{SCHEMA} is missing: apt-get install libxml2-utils fence-agents (the fence agents' metadata schema)"
    );
    let child = Command::new("xmllint")
        .args(["--noout", "--relaxng", SCHEMA, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => panic!("xmllint cannot be run ({e}): apt-get install libxml2-utils fence-agents"),
    };
    child.stdin.take().unwrap().write_all(xml.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "metadata refused by {SCHEMA}: {}\n{xml}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn metadata_validates_against_the_fence_agents_schema() {
    let by_flag = fence_warden(&["-o", "metadata"], b"");
    assert_eq!((by_flag.code, by_flag.stderr.as_str()), (0, ""), "{by_flag:?}");
    xmllint(&by_flag.stdout);
    let by_stdin = fence_warden(&[], b"action=metadata\n");
    assert_eq!(by_stdin.code, 0, "{by_stdin:?}");
    assert_eq!(by_stdin.stdout, by_flag.stdout);
    assert!(by_flag.stdout.contains("<resource-agent name=\"fence_warden\""));
    assert!(by_flag.stdout.contains("<action name=\"on\" automatic=\"0\" />"));
}

#[test]
fn help_and_version() {
    let help = fence_warden(&["--help"], b"");
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("-n, --plug=[node]") && help.stdout.contains("stdin: plug, port"), "{help:?}");
    let version = fence_warden(&["-V"], b"");
    assert_eq!((version.code, version.stdout.trim()), (0, concat!("fence_warden ", env!("CARGO_PKG_VERSION"))));
}

// ---------------------------------------------------------------------------
// Bad input: each named, exit 1, nothing sent (the address is one where
// nothing listens, and no run here waits for it).

#[test]
fn every_bad_input_is_named() {
    let c = Cluster::new();
    let nowhere: SocketAddr = ([127, 0, 0, 1], 9).into();
    let off = |lines: &str| fence_warden(&[], &c.stdin(nowhere, &format!("action=off\n{lines}")));

    off("plug=alpha\nthis line is garbage\n")
        .assert_refused("standard input line 8 `this line is garbage` is not `key=value`");
    fence_warden(&[], b"action=off\nplug=al\xffpha\n").assert_refused("standard input line 2 is not UTF-8 text");
    fence_warden(&[], b"action=off\nplug=alpha\ncluster_file=/x\n")
        .assert_refused("`ip` is missing: the controller's operator endpoint address");
    // The fencer always passes nodename: without it, there is no plug at all.
    fence_warden(&[], format!("action=off\nip=127.0.0.1\ncluster_file={}\n", c.file()).as_bytes())
        .assert_refused("no plug: give `plug=NODE` (or `port`, `nodename`, `-n`)");
    off("").assert_refused("unknown plug `node1.example.com` (nodes: alpha, beta)");
    off("port=gamma\n").assert_refused("unknown plug `gamma` (nodes: alpha, beta)");
    off("plug=alpha\naction=explode\n").assert_refused(
        "unknown action `explode` (actions: on, off, reboot, status, monitor, list, list-status, metadata, validate-all)",
    );
    off("plug=alpha\npower_timeout=-1\n").assert_refused("`power_timeout` = `-1`: not a number of seconds");
    off("plug=alpha\ndelay=soon\n").assert_refused("`delay` = `soon`: not a number of seconds");
    off("plug=alpha\nipport=0\n").assert_refused("`ipport` = `0`: not a UDP port");
    off("plug=alpha\ncluster_file=/nonexistent/cluster.toml\n")
        .assert_refused("cluster file /nonexistent/cluster.toml: cannot read /nonexistent/cluster.toml");

    let exposed = c.key("exposed.key", KEY, 0o644);
    off(&format!("plug=alpha\nkey_file={exposed}\n"))
        .assert_refused(&format!("key file {exposed} has mode 0644: it must not be accessible by group or others"));
    let missing = c.dir.path().join("missing.key").display().to_string();
    off(&format!("plug=alpha\nkey_file={missing}\n")).assert_refused(&format!("key file {missing}: "));
    // The cluster file's own key, exposed.
    std::fs::set_permissions(c.dir.path().join("cluster.key"), std::fs::Permissions::from_mode(0o640)).unwrap();
    off("plug=alpha\n").assert_refused("key `cluster.key_file`: key file");

    // The same by flags.
    let flags = |extra: &[&str]| {
        let mut args = vec!["-o", "off", "-a", "127.0.0.1:9"];
        args.extend_from_slice(extra);
        fence_warden(&args, b"")
    };
    flags(&["--plug"]).assert_refused("option `--plug` needs a value");
    flags(&["--plugg=alpha"]).assert_refused("unknown option `--plugg` (see --help)");
    flags(&["-n", "alpha", "--power-timeout=x"]).assert_refused("`--power-timeout` = `x`: not a number of seconds");
    flags(&["alpha"]).assert_refused("unexpected argument `alpha`");
}

#[test]
fn validate_all_checks_without_sending() {
    let c = Cluster::new();
    let nowhere: SocketAddr = ([127, 0, 0, 1], 9).into();
    let ok = fence_warden(&[], &c.stdin(nowhere, "action=validate-all\nplug=beta\n"));
    assert_eq!((ok.code, ok.stdout.as_str(), ok.stderr.as_str()), (0, "", ""), "{ok:?}");
    // As the fencer registers a device: no plug at all.
    let ok = fence_warden(&["-o", "validate-all", "-a", "127.0.0.1", "--cluster-file", &c.file()], b"");
    assert_eq!(ok.code, 0, "{ok:?}");
    // Pacemaker validates with a made-up plug (`port=node1`): not checked.
    let ok = fence_warden(&[], &c.stdin(nowhere, "action=validate-all\nport=node1\n"));
    assert_eq!(ok.code, 0, "{ok:?}");
    fence_warden(&[], &c.stdin(nowhere, "action=validate-all\nip=no-such-host.invalid\n"))
        .assert_refused("`ip`: controller address `no-such-host.invalid:9`");
}

// ---------------------------------------------------------------------------
// A controller that does not answer.

#[test]
fn an_unreachable_controller_is_a_failure() {
    let c = Cluster::new();
    // A port nobody listens on: bound, then given up.
    let nowhere = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let off = fence_warden(&[], &c.stdin(nowhere, "action=off\nplug=alpha\nlogin_timeout=0.5\npower_timeout=0.5\n"));
    off.assert_refused(&format!("no answer from the controller's operator endpoint at {nowhere} within"));
    let status = fence_warden(&[], &c.stdin(nowhere, "action=status\nplug=alpha\nlogin_timeout=0.5\n"));
    status.assert_refused("no answer from the controller's operator endpoint");
    let monitor = fence_warden(&[], &c.stdin(nowhere, "action=monitor\nlogin_timeout=0.5\n"));
    monitor.assert_refused("no answer");
}

// ---------------------------------------------------------------------------
// Against the played controller.

#[test]
fn off_succeeds_only_once_the_controller_reports_fenced_and_off() {
    let c = Cluster::new();
    let controller = Controller::start(KEY, [UP, UP], Relay::ConfirmsAfter(3));
    let run = fence_warden(&[], &c.stdin(controller.addr, "action=off\nport=alpha\nverbose=1\n"));
    controller.record("fence_warden exited");
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "Success: Powered OFF\n");
    assert!(run.stderr.contains("fence_warden: alpha off confirmed by the controller's sense after "), "{run:?}");
    assert!(run.stderr.contains("`alpha`: fencing, power on"), "verbose shows each state: {run:?}");

    let events = controller.events();
    let confirming = events.iter().position(|e| e == "describe: alpha fenced, power Some(false)");
    let exited = events.iter().position(|e| e == "fence_warden exited");
    assert!(matches!((confirming, exited), (Some(c), Some(x)) if c < x), "{events:?}");
    let before: Vec<&String> = events[..confirming.unwrap()].iter().filter(|e| e.starts_with("describe")).collect();
    assert_eq!(before.len(), 3, "three describes of `fencing` first: {events:?}");
    assert!(before.iter().all(|e| *e == "describe: alpha fencing, power Some(true)"), "{events:?}");
    assert!(events.contains(&"fence 0: accepted".to_owned()), "{events:?}");

    // Again: already fenced, confirmed at the first look.
    let again = fence_warden(
        &["-o", "off", "-n", "alpha", "-a", &controller.addr.to_string(), "--cluster-file", &c.file()],
        b"",
    );
    assert_eq!(again.code, 0, "{again:?}");
    assert!(controller.events().contains(&"fence 0: already_fenced".to_owned()));
}

#[test]
fn off_with_a_relay_that_never_confirms_fails() {
    let c = Cluster::new();
    let controller = Controller::start(KEY, [UP, UP], Relay::NeverConfirms);
    let run = fence_warden(&[], &c.stdin(controller.addr, "action=off\nplug=alpha\npower_timeout=0.5\n"));
    run.assert_refused("`alpha` not confirmed off within 500 ms: last seen fencing, power on");
    assert!(controller.events().contains(&"fence 0: accepted".to_owned()));
}

#[test]
fn on_and_reboot() {
    let c = Cluster::new();
    let controller = Controller::start(KEY, [FENCED, UP], Relay::ConfirmsAfter(1));
    let on = fence_warden(&[], &c.stdin(controller.addr, "action=on\nplug=alpha\nverbose=1\n"));
    assert_eq!((on.code, on.stdout.as_str()), (0, "Success: Powered ON\n"), "{on:?}");
    assert!(on.stderr.contains("fence_warden: alpha on confirmed by the controller's sense after "), "{on:?}");
    assert!(controller.events().contains(&"unfence 0: accepted".to_owned()));

    let reboot = fence_warden(&[], &c.stdin(controller.addr, "plug=alpha\nverbose=1\n"));
    assert_eq!((reboot.code, reboot.stdout.as_str()), (0, "Success: Rebooted\n"), "the default action: {reboot:?}");
    assert!(
        reboot.stderr.contains("alpha off confirmed") && reboot.stderr.contains("alpha on confirmed"),
        "{reboot:?}"
    );
    let events = controller.events();
    let fence = events.iter().rposition(|e| e == "fence 0: accepted").unwrap();
    let unfence = events.iter().rposition(|e| e == "unfence 0: accepted").unwrap();
    assert!(fence < unfence, "{events:?}");
}

#[test]
fn status_list_and_monitor() {
    let c = Cluster::new();
    let controller = Controller::start(KEY, [UP, FENCED], Relay::NeverConfirms);
    let status = |plug: &str| fence_warden(&[], &c.stdin(controller.addr, &format!("action=status\nplug={plug}\n")));
    let alpha = status("alpha");
    assert_eq!((alpha.code, alpha.stdout.as_str(), alpha.stderr.as_str()), (0, "Status: ON\n", ""));
    let beta = status("beta");
    assert_eq!((beta.code, beta.stdout.as_str(), beta.stderr.as_str()), (2, "Status: OFF\n", ""));

    let list = fence_warden(&[], &c.stdin(controller.addr, "action=list\n"));
    assert_eq!((list.code, list.stdout.as_str()), (0, "alpha,\nbeta,\n"), "{list:?}");
    let list = fence_warden(&[], &c.stdin(controller.addr, "action=list-status\n"));
    assert_eq!((list.code, list.stdout.as_str()), (0, "alpha,,on\nbeta,,off\n"), "{list:?}");
    let monitor =
        fence_warden(&["-o", "monitor", "-a", &controller.addr.to_string(), "--cluster-file", &c.file()], b"");
    assert_eq!((monitor.code, monitor.stdout.as_str(), monitor.stderr.as_str()), (0, "", ""));
}

#[test]
fn a_key_the_controller_refuses_is_named() {
    let c = Cluster::new();
    let controller = Controller::start(b"another cluster's key", [UP, UP], Relay::NeverConfirms);
    for action in ["off", "status", "monitor", "list"] {
        let run = fence_warden(&[], &c.stdin(controller.addr, &format!("action={action}\nplug=alpha\n")));
        run.assert_refused(&format!(
            "the controller at {} refused the request's authentication: this key is not the cluster's",
            controller.addr
        ));
    }
    let wrong = c.key("wrong.key", b"another cluster's key", 0o600);
    let own = Controller::start(KEY, [UP, UP], Relay::NeverConfirms);
    let run = fence_warden(&[], &c.stdin(own.addr, &format!("action=status\nplug=alpha\nkey_file={wrong}\n")));
    run.assert_refused("refused the request's authentication: this key is not the cluster's");
    assert!(own.events().contains(&"refused auth".to_owned()));
}
