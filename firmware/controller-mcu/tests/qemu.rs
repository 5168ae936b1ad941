//! The firmware under QEMU (`qemu-system-arm -M mps2-an386`, `-icount
//! shift=7,align=off,sleep=off`), every UART a unix socket, QMP on another.
//! This test plays two agents on UART1 and UART2 and the relay board on
//! UART4, and reads the firmware's defmt log from UART0 through
//! `defmt-print`.
//!
//! The controller places the group on its home node; when that node's
//! agent goes silent it writes the fence record, switches the node's relay
//! off (the board sees it), confirms it through the report query and places
//! the group on the other node, and answers that node's Describe with a
//! summary saying so. Then the console's `wedge` command disables a link's
//! transmitter: that link driver stalls, the watchdog is no longer fed, QMP
//! reports the watchdog's reset, and the firmware boots again, reads the
//! fence record from `.retained`, keeps the fenced node off and moves
//! nothing. The firmware reports its stack's high-water mark in `status`
//! before and after the reset; the test prints the larger for `size.sh`.
//!
//! Assertions are on order and on the firmware's own clock (the timestamp
//! of its log lines), never on wall time. Every wait is on an event (a log
//! line, a frame, a board event, a QMP event); the bound on each wait only
//! turns a hang into a failure. The played agents keep no timers either:
//! under `-icount sleep=off` the firmware's clock runs many times faster
//! than the host's when the host is idle, and slower when it is busy.
//!
//! Needs `qemu-system-arm` (`apt-get install -y qemu-system-arm`) and
//! `defmt-print` (`cargo install defmt-print --locked`).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use warden_bsp::linux::relay_board;
use warden_bsp::relay::{Board, BoardEvent};
use warden_bsp::Channel;
use warden_controller_mcu::emulator::{qemu_args, GuestClock};
use warden_core::controller::Life;
use warden_core::wire::{
    encode, Auth, Beat, Body, Decoder, Initiator, Key, Message, Op, Request, Role, SessionError, Status, Summary,
    MAX_FRAME,
};
use warden_core::{GroupId, GroupSet, NodeId};

const KEY: &[u8] = b"the firmware test key, 32 bytes.";
const WEB: GroupId = GroupId(0);
/// Upper bound of any single wait: a failure, never a timing assertion.
const BOUND: Duration = Duration::from_secs(90);
/// Keepalive, warntime and deadtime of the test cluster, in firmware ms.
const KEEPALIVE_MS: u64 = 1000;
const WARNTIME_MS: u64 = 4000;
const DEADTIME_MS: u64 = 8000;

/// One QEMU at a time: two would share the machine's two cores.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn auth() -> Auth {
    Auth::Hmac(Key::new(KEY).unwrap())
}

/// A decoded firmware log line.
#[derive(Debug, Clone)]
struct LogLine {
    /// The firmware's clock: ms since its boot.
    ms: u64,
    text: String,
}

/// An agent played by the test on its UART's socket.
///
/// Its session keeps the real agent's rules (`warden_agent_proto::Agent`):
/// it says Hello once at start; a Beat the session rules refuse (other than
/// a replay) means the controller restarted or its session moved on, and
/// starts a new handshake; while that handshake is unanswered, each refused
/// Beat is answered with the same Hello again, which the controller takes
/// as no change. So everything it sends answers something the controller
/// sent (the controller beats every node once per keepalive, heard from or
/// not), and it keeps the firmware's pace: no timer of its own runs on the
/// host's clock, which under `-icount sleep=off` bears no fixed relation
/// to the firmware's.
struct Agent {
    node: NodeId,
    stream: UnixStream,
    bytes: mpsc::Receiver<Vec<u8>>,
    session: Initiator,
    decoder: Decoder,
    holds: GroupSet,
    silent: bool,
    /// Accepted beats: role and want.
    beats: Vec<(Role, GroupSet)>,
    /// Accepted summaries (answers to `Op::Describe`).
    summaries: Vec<Summary>,
    /// Counters for the failure report.
    counts: AgentCounts,
}

/// What a played agent saw and did, for the failure report.
#[derive(Debug, Default, Clone, Copy)]
struct AgentCounts {
    /// Bytes received.
    bytes_in: usize,
    /// Beats decoded.
    beats: usize,
    /// Beats the session rules refused.
    beats_refused: usize,
    /// Handshakes started (the first one included).
    handshakes: usize,
    /// Hellos sent.
    hellos: usize,
}

impl Agent {
    fn new(node: u8, stream: UnixStream) -> Self {
        let (tx, bytes) = mpsc::channel();
        let mut reader = stream.try_clone().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let mut agent = Self {
            node: NodeId(node),
            stream,
            bytes,
            session: Initiator::new(7000 + u64::from(node)),
            decoder: Decoder::new(),
            holds: GroupSet::EMPTY,
            silent: false,
            beats: Vec::new(),
            summaries: Vec::new(),
            counts: AgentCounts { handshakes: 1, ..AgentCounts::default() },
        };
        agent.hello();
        agent
    }

    fn send(&mut self, message: &Message) {
        let mut frame = [0u8; MAX_FRAME];
        let n = encode(message, &auth(), &mut frame).unwrap();
        let _ = self.stream.write_all(&frame[..n]);
    }

    /// Hello with the current handshake's nonce.
    fn hello(&mut self) {
        let hello = self.session.hello(self.node);
        self.send(&hello);
        self.counts.hellos += 1;
    }

    /// Relays an operator's `wardenctl status`: a Describe request.
    fn describe(&mut self, id: u32) {
        let request =
            Message { header: self.session.header(self.node), body: Body::Request(Request { id, op: Op::Describe }) };
        self.send(&request);
    }

    /// Takes what the controller sent; a silent agent reads and drops it,
    /// as a dead server's serial port would.
    fn pump(&mut self) {
        while let Ok(bytes) = self.bytes.try_recv() {
            if self.silent {
                continue;
            }
            self.counts.bytes_in += bytes.len();
            let mut messages = Vec::new();
            self.decoder.feed(&bytes, &auth(), |r| {
                if let Ok(m) = r {
                    messages.push(m);
                }
            });
            for m in messages {
                self.receive(m);
            }
        }
    }

    fn receive(&mut self, message: Message) {
        if let Body::Summary(summary) = message.body {
            if self.session.accept(&message.header).is_ok() {
                self.summaries.push(summary);
            }
            return;
        }
        let Body::Beat(Beat { want, role, .. }) = message.body else { return };
        self.counts.beats += 1;
        match self.session.accept(&message.header) {
            Ok(()) => {}
            Err(SessionError::Replay { .. }) => {
                self.counts.beats_refused += 1;
                return;
            }
            Err(_) => {
                self.counts.beats_refused += 1;
                if self.session.is_established() {
                    self.session.start_handshake();
                    self.counts.handshakes += 1;
                }
                self.hello();
                return;
            }
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

/// The test cluster file: two nodes on relay channels 0 and 1, one group
/// homed on node 0.
fn write_cluster(dir: &Path) -> PathBuf {
    let key = dir.join("cluster.key");
    std::fs::write(&key, KEY).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let cluster = dir.join("cluster.toml");
    std::fs::write(
        &cluster,
        format!(
            r#"
[cluster]
name = "mcu"
key_file = "cluster.key"

[timing]
keepalive = "{KEEPALIVE_MS}ms"
warntime = "{WARNTIME_MS}ms"
deadtime = "{DEADTIME_MS}ms"
initdead = "12s"
release_timeout = "10s"
fence_timeout = "10s"
failback_delay = "10s"

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
        ),
    )
    .unwrap();
    cluster
}

/// Makes the configuration blob with the crate's host tool.
fn make_blob(dir: &Path) -> PathBuf {
    let cluster = write_cluster(dir);
    let blob = dir.join("config.bin");
    let out =
        Command::new(env!("CARGO_BIN_EXE_warden-mcu-config")).arg(&cluster).arg("-o").arg(&blob).output().unwrap();
    assert!(out.status.success(), "warden-mcu-config: {}", String::from_utf8_lossy(&out.stderr));
    blob
}

/// Connects to a socket QEMU serves, once it exists.
fn connect(path: &Path, qemu: &mut Child) -> UnixStream {
    let start = Instant::now();
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return s,
            Err(e) => {
                if let Some(status) = qemu.try_wait().unwrap() {
                    panic!("qemu exited ({status}) before serving {}", path.display());
                }
                assert!(start.elapsed() < BOUND, "{} never served: {e}", path.display());
                // Waiting for QEMU to create the socket: poll its existence.
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// QEMU, its sockets and everything played on them; all of it is stopped
/// and removed on drop, on success or failure.
struct Rig {
    dir: tempfile::TempDir,
    qemu: Child,
    printer: Child,
    console: UnixStream,
    log_rx: mpsc::Receiver<LogLine>,
    /// Every log line seen, in order.
    log: Vec<LogLine>,
    qmp_rx: mpsc::Receiver<String>,
    /// QMP event names seen, in order, with the log length when each arrived.
    qmp: Vec<(String, usize)>,
    agents: Vec<Agent>,
    board_rx: mpsc::Receiver<BoardEvent>,
    /// Relay board events seen, in order.
    board: Vec<BoardEvent>,
    board_stop: Arc<AtomicBool>,
    /// The relay module is silent: what it writes is lost (an unplugged
    /// module, a broken cable).
    board_mute: Arc<AtomicBool>,
    _serial: std::sync::MutexGuard<'static, ()>,
}

/// The relay board's end of its UART, which loses what the board writes
/// while `mute` is set.
struct BoardPort {
    stream: UnixStream,
    mute: Arc<AtomicBool>,
}

impl Read for BoardPort {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for BoardPort {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.mute.load(Ordering::Relaxed) {
            return Ok(buf.len());
        }
        self.stream.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

impl std::os::fd::AsFd for BoardPort {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

impl Rig {
    /// Boots the firmware with the blob `blob` makes from the cluster file.
    fn start(edit_blob: impl FnOnce(&mut Vec<u8>)) -> Self {
        let serial = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        common::require("qemu-system-arm", "apt-get install -y qemu-system-arm");
        common::require("defmt-print", "cargo install defmt-print --locked");
        let elf = common::firmware();
        let dir = tempfile::tempdir().unwrap();
        let blob = make_blob(dir.path());
        let mut bytes = std::fs::read(&blob).unwrap();
        edit_blob(&mut bytes);
        std::fs::write(&blob, &bytes).unwrap();

        let sock = |name: &str| dir.path().join(format!("{name}.sock"));
        let args = qemu_args(elf, &blob, dir.path(), GuestClock::Instructions, false);
        let qemu_log = std::fs::File::create(dir.path().join("qemu.log")).unwrap();
        let mut qemu = Command::new("qemu-system-arm")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(qemu_log.try_clone().unwrap())
            .stderr(qemu_log)
            .spawn()
            .unwrap();

        // QEMU waits for each UART's client in turn.
        let u0 = connect(&sock("u0"), &mut qemu);
        let u1 = connect(&sock("u1"), &mut qemu);
        let u2 = connect(&sock("u2"), &mut qemu);
        let u3 = connect(&sock("u3"), &mut qemu);
        let u4 = connect(&sock("u4"), &mut qemu);
        let qmp = connect(&sock("qmp"), &mut qemu);
        drop(u3);

        // UART0 into defmt-print, its lines back here.
        let mut printer = Command::new("defmt-print")
            .args(["--log-format", "{t} {L} {s}", "-e"])
            .arg(elf)
            .arg("stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut to_printer = printer.stdin.take().unwrap();
        let mut from_console = u0.try_clone().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = from_console.read(&mut buf) {
                if n == 0 || to_printer.write_all(&buf[..n]).and_then(|()| to_printer.flush()).is_err() {
                    break;
                }
            }
        });
        let (log_tx, log_rx) = mpsc::channel();
        let printed = printer.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(printed).lines() {
                let Ok(line) = line else { break };
                let mut words = line.splitn(3, ' ');
                let ms = words.next().and_then(|t| t.parse().ok());
                let text = words.nth(1).unwrap_or_default().trim().to_owned();
                if let Some(ms) = ms {
                    if log_tx.send(LogLine { ms, text }).is_err() {
                        break;
                    }
                }
            }
        });

        // QMP: capabilities, then events.
        let (qmp_tx, qmp_rx) = mpsc::channel();
        let mut qmp_out = qmp.try_clone().unwrap();
        thread::spawn(move || {
            let mut reader = BufReader::new(qmp);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = qmp_out.write_all(b"{\"execute\": \"qmp_capabilities\"}\n");
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
                if let Some(event) = value.get("event").and_then(|e| e.as_str()) {
                    if qmp_tx.send(event.to_owned()).is_err() {
                        break;
                    }
                }
            }
        });

        // The relay board: both servers powered, as the rig starts.
        let (board_tx, board_rx) = mpsc::channel();
        let board_stop = Arc::new(AtomicBool::new(false));
        let stop = board_stop.clone();
        let board_mute = Arc::new(AtomicBool::new(false));
        let mut u4 = BoardPort { stream: u4, mute: board_mute.clone() };
        thread::spawn(move || {
            let mut board = Board::new([true, true]);
            let _ = relay_board::serve(&mut board, &mut u4, &stop, |_, e| {
                let _ = board_tx.send(e);
            });
        });

        Self {
            dir,
            qemu,
            printer,
            console: u0,
            log_rx,
            log: Vec::new(),
            qmp_rx,
            qmp: Vec::new(),
            agents: vec![Agent::new(0, u1), Agent::new(1, u2)],
            board_rx,
            board: Vec::new(),
            board_stop,
            board_mute,
            _serial: serial,
        }
    }

    /// One round: wait for a log line (or a short while), then answer the
    /// agents' frames and collect board and QMP events.
    fn step(&mut self) {
        if let Ok(line) = self.log_rx.recv_timeout(Duration::from_millis(10)) {
            self.log.push(line);
        }
        while let Ok(line) = self.log_rx.try_recv() {
            self.log.push(line);
        }
        for a in &mut self.agents {
            a.pump();
        }
        while let Ok(e) = self.board_rx.try_recv() {
            self.board.push(e);
        }
        while let Ok(e) = self.qmp_rx.try_recv() {
            self.qmp.push((e, self.log.len()));
        }
    }

    fn dump(&self) -> String {
        let qemu = std::fs::read_to_string(self.dir.path().join("qemu.log")).unwrap_or_default();
        let log: Vec<String> = self.log.iter().map(|l| format!("{:>8} {}", l.ms, l.text)).collect();
        let replies = self.board.iter().filter(|e| matches!(e, BoardEvent::Reply(_))).count();
        format!(
            "firmware log:\n{}\nagents: {:?}\nqmp (event, log lines seen): {:?}\nrelay switches: {:?} (and {replies} report answers)\nqemu: {qemu}",
            log.join("\n"),
            self.agents.iter().map(|a| (a.node.0, a.counts)).collect::<Vec<_>>(),
            self.qmp,
            self.switches()
        )
    }

    /// Steps until `done` holds, or fails with everything seen.
    fn until(&mut self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        while !done(self) {
            if let Some(status) = self.qemu.try_wait().unwrap() {
                panic!("qemu exited ({status}) while waiting for {what}\n{}", self.dump());
            }
            assert!(start.elapsed() < BOUND, "never saw {what}\n{}", self.dump());
            self.step();
        }
    }

    /// Index of the first log line at or after `from` containing `needle`.
    fn find(&self, from: usize, needle: &str) -> Option<usize> {
        self.log.iter().skip(from).position(|l| l.text.contains(needle)).map(|i| i + from)
    }

    /// Waits for a log line at or after `from` containing `needle`; returns its index.
    fn wait_line(&mut self, from: usize, needle: &str) -> usize {
        self.until(&format!("the log line `{needle}`"), |r| r.find(from, needle).is_some());
        self.find(from, needle).unwrap()
    }

    /// Asks the console for `status` and returns the stack high-water mark
    /// the firmware reports in it.
    fn stack_high_water(&mut self) -> usize {
        let before = self.log.len();
        self.type_line("status");
        let at = self.wait_line(before, "status memory: stack used");
        let text = &self.log[at].text;
        let bytes = text
            .split_once("stack used ")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok());
        match bytes {
            Some(n) if n > 0 => n,
            _ => panic!("the firmware did not report its stack high-water mark: `{text}`\n{}", self.dump()),
        }
    }

    fn type_line(&mut self, line: &str) {
        self.console.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    fn switches(&self) -> Vec<(Channel, bool)> {
        self.board
            .iter()
            .filter_map(|e| match e {
                BoardEvent::Switched { channel, on } => Some((*channel, *on)),
                _ => None,
            })
            .collect()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if std::env::var_os("WARDEN_SHOW_LOG").is_some() {
            eprintln!("{}", self.dump());
        }
        self.board_stop.store(true, Ordering::Relaxed);
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
        let _ = self.printer.kill();
        let _ = self.printer.wait();
        // The temporary directory (sockets, blob, key, QEMU's log) goes with `dir`.
    }
}

#[test]
fn fences_the_silent_holder_and_keeps_it_off_across_a_watchdog_reset() {
    let mut rig = Rig::start(|_| {});
    let booted = rig.wait_line(0, "boot ");
    assert!(rig.log[booted].text.starts_with("boot 1:"), "a fresh QEMU starts at boot 1: {}", rig.log[booted].text);
    rig.wait_line(booted, "fence store .retained: generation 0");
    rig.wait_line(booted, "controller started");

    // Placement: the group goes home, to node 0; no relay moves.
    rig.until("group 0 on node 0", |r| r.agents[0].holds.contains(WEB));
    let placed_home = rig.wait_line(booted, "group 0 placed on node 0");
    assert!(!rig.agents[1].holds.contains(WEB));
    assert_eq!(rig.switches(), vec![], "a relay switched before any failure");

    // Node 0's agent goes silent: fence record, relay off, confirmation, takeover.
    rig.agents[0].silent = true;
    rig.until("node 0's relay switched off", |r| !r.switches().is_empty());
    assert_eq!(rig.switches(), vec![(Channel(0), false)]);
    let switched_at = rig.board.iter().position(|e| matches!(e, BoardEvent::Switched { .. })).unwrap();
    let fenced = rig.wait_line(placed_home, "node 0 is fenced: power sensed off");
    rig.until("group 0 on node 1", |r| r.agents[1].holds.contains(WEB));
    let taken_over = rig.wait_line(placed_home, "group 0 placed on node 1");
    // The board answered the report query for channel 0 with "off" after the switch.
    let off_report = [0xA0, 0x01, 0x00, 0xA1];
    assert!(
        rig.board[switched_at..].contains(&BoardEvent::Reply(off_report)),
        "no report query answered `off` for channel 0 after the switch: {:?}",
        rig.board
    );
    let late = rig.find(placed_home, "node 0 is late").expect("no late line");
    let dead = rig.find(placed_home, "node 0 is dead").expect("no dead line");
    let record = rig.find(placed_home, "node 0: fence record written (fenced)").expect("no fence record line");
    let relay = rig.find(placed_home, "node 0: relay commanded off").expect("no relay line");
    assert!(late < dead && record < relay && relay < fenced && fenced < taken_over, "out of order\n{}", rig.dump());
    // On the firmware's clock: late and dead are warntime and deadtime after
    // the last frame, so they are at least deadtime - warntime apart.
    let (late_ms, dead_ms) = (rig.log[late].ms, rig.log[dead].ms);
    assert!(
        dead_ms - late_ms + KEEPALIVE_MS >= DEADTIME_MS - WARNTIME_MS,
        "late at {late_ms} ms, dead at {dead_ms} ms"
    );
    assert!(rig.log[record].ms <= rig.log[relay].ms && rig.log[relay].ms <= rig.log[taken_over].ms);

    // An operator's `wardenctl status` through node 1's agent: the summary
    // says node 0 is fenced and off, and group 0 is on node 1.
    rig.agents[1].describe(41);
    rig.until("the summary answering node 1's Describe", |r| !r.agents[1].summaries.is_empty());
    let summary = rig.agents[1].summaries[0];
    assert_eq!((summary.id, summary.nodes, summary.groups), (41, 2, 1), "{summary:?}");
    assert_eq!(summary.placed_on(WEB), Some(NodeId(1)), "{summary:?}");
    let node0 = summary.node(NodeId(0)).unwrap();
    assert_eq!((node0.life, node0.powered, node0.fence_record), (Life::Fenced, Some(false), true), "{summary:?}");
    // The stack's high-water mark after boot, placement, fence, takeover and a Describe.
    let stack_boot_1 = rig.stack_high_water();

    // Wedge node 1's link: its driver stalls, the watchdog is not fed, QMP sees the reset.
    let before_wedge = rig.log.len();
    rig.type_line("wedge 1");
    let wedged = rig.wait_line(before_wedge, "console: wedge: node 1");
    let withheld = rig.wait_line(wedged, "watchdog NOT fed");
    rig.until("QMP's WATCHDOG event", |r| r.qmp.iter().any(|(e, _)| e == "WATCHDOG"));
    rig.until("QMP's RESET event", |r| r.qmp.iter().any(|(e, _)| e == "RESET"));
    let reboot = rig.wait_line(withheld, "boot 2:");
    let last_ms_before = rig.log[reboot - 1].ms;
    assert!(
        rig.log[reboot].ms < last_ms_before,
        "the firmware's clock did not restart: boot 2 at {} ms, last line before at {last_ms_before} ms",
        rig.log[reboot].ms
    );
    let events: Vec<&str> = rig.qmp.iter().map(|(e, _)| e.as_str()).collect();
    let dog = events.iter().position(|e| *e == "WATCHDOG").unwrap();
    assert!(events[dog..].contains(&"RESET"), "QMP events: {events:?}");

    // Boot 2: the record came through the reset; the fenced node stays off; nothing moves.
    rig.wait_line(reboot, "fence store .retained: generation 1");
    rig.wait_line(reboot, "node 0: relay channel 0, fence record fenced, power sensed off");
    rig.wait_line(reboot, "node 1: relay channel 1, fence record not fenced, power sensed on");
    let restarted = rig.wait_line(reboot, "controller started");
    let switches_before = rig.switches().len();
    rig.agents[1].beats.clear();
    rig.until("ten member beats to node 1", |r| {
        r.agents[1].beats.iter().filter(|(role, _)| *role == Role::Member).count() >= 10
    });
    for (role, want) in &rig.agents[1].beats {
        if *role == Role::Member {
            assert!(want.contains(WEB), "the restart asked node 1 to release group 0: {:?}", rig.agents[1].beats);
        }
    }
    let before_status = rig.log.len();
    let stack_boot_2 = rig.stack_high_water();
    rig.wait_line(before_status, "status node 0: fenced, power off");
    rig.wait_line(before_status, "status group 0: placed on node 1");
    // For the size report (size.sh): the high-water of the whole run.
    println!(
        "firmware stack high-water: {} bytes (boot 1: {stack_boot_1}, boot 2: {stack_boot_2})",
        stack_boot_1.max(stack_boot_2)
    );
    assert_eq!(rig.switches().len(), switches_before, "the reboot toggled a relay: {:?}", rig.switches());
    assert!(rig.find(restarted, "release asked").is_none(), "the reboot moved a group\n{}", rig.dump());
    assert!(rig.find(restarted, "placed on node 0").is_none(), "the reboot moved a group\n{}", rig.dump());
}

#[test]
fn a_corrupt_configuration_blob_halts_loudly_and_the_watchdog_resets() {
    // One payload byte flipped: the checksum no longer matches.
    let mut rig = Rig::start(|blob| blob[20] ^= 0x10);
    let booted = rig.wait_line(0, "boot 1:");
    let refused = rig.wait_line(booted, "configuration blob at 0x3f000 refused: checksum");
    // Loud: said again while halted, feeding nothing.
    rig.wait_line(refused + 1, "configuration blob at 0x3f000 refused: checksum");
    rig.until("QMP's WATCHDOG event", |r| r.qmp.iter().any(|(e, _)| e == "WATCHDOG"));
    let reboot = rig.wait_line(refused, "boot 2:");
    rig.wait_line(reboot, "configuration blob at 0x3f000 refused: checksum");
    assert!(rig.find(0, "controller started").is_none(), "a controller started on a corrupt blob\n{}", rig.dump());
    assert!(rig.board.iter().all(|e| !matches!(e, BoardEvent::Switched { .. })), "a relay switched: {:?}", rig.board);
}

/// The relay module goes silent: the main loop never waits on it, so the
/// links are still served and the watchdog still fed, no node looks late,
/// and no pass of the loop comes near the module's answer timeout.
#[test]
fn a_silent_relay_module_never_holds_the_main_loop() {
    let mut rig = Rig::start(|_| {});
    let booted = rig.wait_line(0, "controller started");
    rig.until("group 0 on node 0", |r| r.agents[0].holds.contains(WEB));

    rig.board_mute.store(true, Ordering::Relaxed);
    let muted = rig.log.len();
    rig.wait_line(muted, "node 0: cannot read power");
    rig.wait_line(muted, "node 1: cannot read power");
    // The links are served meanwhile: beats keep coming to both nodes.
    let beats = [rig.agents[0].beats.len(), rig.agents[1].beats.len()];
    rig.until("three more beats to each node", |r| {
        r.agents[0].beats.len() >= beats[0] + 3 && r.agents[1].beats.len() >= beats[1] + 3
    });
    let before = rig.log.len();
    rig.type_line("status");
    let at = rig.wait_line(before, "status loop: longest pass");
    let text = rig.log[at].text.clone();
    let longest: u64 = text
        .split_once("longest pass ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no figure in `{text}`"));
    // The module's answer timeout is 500 ms: a loop that waited for it once
    // would show it here.
    assert!(longest < 250, "a pass of the main loop took {longest} ms with the module silent\n{}", rig.dump());
    assert!(rig.qmp.iter().all(|(e, _)| e != "WATCHDOG"), "the watchdog fired\n{}", rig.dump());
    for line in ["is late", "is dead", "fencing node"] {
        assert!(rig.find(booted, line).is_none(), "`{line}` with the module silent\n{}", rig.dump());
    }

    rig.board_mute.store(false, Ordering::Relaxed);
    let unmuted = rig.log.len();
    rig.wait_line(unmuted, "power readable again");
}
