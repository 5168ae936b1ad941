//! The firmware controller (`firmware/controller-mcu`) under
//! `qemu-system-arm -M mps2-an386`, in place of the Linux controller
//! (DESIGN §6.3), with the board's layout:
//!
//! | UART | socket | what the rig puts there |
//! |---|---|---|
//! | UART0 | `u0.sock` | the console: defmt out (through `defmt-print`), command lines in |
//! | UART1, UART2 | `u1.sock`, `u2.sock` | node 0's and node 1's serial lines |
//! | UART3 | `u3.sock` | nothing (a third node's line) |
//! | UART4 | `u4.sock` | the relay board |
//!
//! QMP (`qmp.sock`) reports `RESET` and `WATCHDOG`; the rig also uses it to
//! start the CPU (QEMU starts paused, so the board is played before the
//! firmware reads it), to halt it (a controller that dies) and to reset
//! the board (the controller boots again, its fence records kept in
//! `.retained`).
//!
//! QEMU runs here without `-icount`: the guest's clock (SysTick, the
//! watchdog) follows the host's, as the agents' does, so the cluster's
//! timing means the same on both sides of the serial lines and the rig's
//! timings compare with the Linux controller's. (The firmware's own test
//! uses `-icount` for a clock that follows instructions instead, with
//! played agents that keep no time of their own.) The firmware polls
//! rather than sleeps, so QEMU keeps one host core busy.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use warden_controller_mcu::emulator::{qemu_args, GuestClock};
use warden_controller_mcu::LINK_UARTS;

use super::console::ConsoleKind;
use super::firmware_log::{FirmwareLine, Names};
use crate::controller::ControllerUnderTest;
use crate::host::tools;
use crate::runs::config::Layout;
use crate::watch::timeline::{Happening, Timeline, BOUND};
use crate::RigError;

/// How long a console request may take to be answered.
const ANSWER_BOUND: Duration = Duration::from_secs(20);

/// The firmware and its host tool.
#[derive(Debug, Clone)]
pub struct Firmware {
    /// The ELF (`cargo fw`).
    pub elf: PathBuf,
    /// `warden-mcu-config`, which makes the configuration blob.
    pub config_tool: PathBuf,
}

/// The ends QEMU serves, for the rig's lines and board.
#[derive(Debug)]
pub struct Ends {
    /// Node `i`'s link.
    pub links: Vec<OwnedFd>,
    /// The relay module's UART.
    pub board: OwnedFd,
}

/// QEMU running the firmware.
#[derive(Debug)]
pub struct QemuController {
    qemu: Child,
    printer: Child,
    console: UnixStream,
    qmp: UnixStream,
    timeline: Timeline,
    names: Names,
    log: Arc<Mutex<Vec<String>>>,
    /// Whether the CPU has run yet (the first start only lets it run).
    started: bool,
}

fn connect(path: &Path, qemu: &mut Child) -> Result<UnixStream, RigError> {
    let deadline = Instant::now() + BOUND;
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return Ok(s),
            Err(e) => {
                if let Ok(Some(status)) = qemu.try_wait() {
                    return Err(RigError::Broken(format!(
                        "qemu-system-arm exited ({status}) before serving {}",
                        path.display()
                    )));
                }
                if Instant::now() > deadline {
                    return Err(RigError::Io { what: format!("connecting {}", path.display()), source: e });
                }
                // QEMU creates the socket when it gets there: look again shortly.
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl QemuController {
    /// Makes the blob from the cluster file, starts QEMU paused with every
    /// UART a socket, and connects them in the order QEMU waits for them.
    /// Returns the controller and the ends the rig's lines and relay board
    /// are to be played on.
    ///
    /// # Errors
    ///
    /// [`RigError`] naming the missing tool, the blob's or QEMU's failure.
    pub fn launch(
        firmware: &Firmware,
        layout: &Layout,
        groups: Vec<String>,
        timeline: Timeline,
    ) -> Result<(Self, Ends), RigError> {
        for tool in [tools::QEMU, tools::DEFMT_PRINT] {
            if tools::find(tool.name).is_none() {
                return Err(RigError::MissingTool { tool: tool.name, install: tool.install });
            }
        }
        if layout.nodes.len() > LINK_UARTS {
            return Err(RigError::Options(format!("the firmware controller has links for {LINK_UARTS} nodes")));
        }
        let dir = layout.run_dir.join("qemu");
        std::fs::create_dir_all(&dir).map_err(RigError::io(format!("creating {}", dir.display())))?;
        let blob = dir.join("config.bin");
        tools::run(Command::new(&firmware.config_tool).arg(layout.cluster_file()).arg("-o").arg(&blob))?;
        let sock = |name: &str| dir.join(format!("{name}.sock"));
        let args = qemu_args(&firmware.elf, &blob, &dir, GuestClock::Host, true);
        let log_path = dir.join("qemu.log");
        let qemu_log =
            std::fs::File::create(&log_path).map_err(RigError::io(format!("creating {}", log_path.display())))?;
        let qemu_err = qemu_log.try_clone().map_err(RigError::io(format!("opening {}", log_path.display())))?;
        let mut qemu = tools::command("qemu-system-arm")
            .args(&args)
            .stdout(qemu_log)
            .stderr(qemu_err)
            .spawn()
            .map_err(RigError::io("starting qemu-system-arm"))?;
        let console = connect(&sock("u0"), &mut qemu)?;
        let mut links = Vec::new();
        for u in 1..=LINK_UARTS {
            let stream = connect(&sock(&format!("u{u}")), &mut qemu)?;
            if u <= layout.nodes.len() {
                links.push(OwnedFd::from(stream));
            }
        }
        let board = OwnedFd::from(connect(&sock("u4"), &mut qemu)?);
        let qmp = connect(&sock("qmp"), &mut qemu)?;

        let mut printer = tools::command(tools::DEFMT_PRINT.name)
            .args(["--log-format", "{t} {L} {s}", "-e"])
            .arg(&firmware.elf)
            .arg("stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(RigError::io("starting defmt-print"))?;
        let names = Names { nodes: layout.nodes.clone(), groups };
        let log = Arc::new(Mutex::new(Vec::new()));
        let log_file = layout.run_dir.join("controller.log");
        // UART0 into defmt-print; its lines, in the Linux controller's words, to the timeline.
        let (Some(mut to_printer), Some(printed)) = (printer.stdin.take(), printer.stdout.take()) else {
            return Err(RigError::Broken("defmt-print's pipes".into()));
        };
        let mut from_console = console.try_clone().map_err(RigError::io("the firmware console"))?;
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = from_console.read(&mut buf) {
                if n == 0 || to_printer.write_all(&buf[..n]).and_then(|()| to_printer.flush()).is_err() {
                    break;
                }
            }
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_file)
            .map_err(RigError::io(format!("opening {}", log_file.display())))?;
        {
            let (timeline, names, log) = (timeline.clone(), names.clone(), Arc::clone(&log));
            std::thread::spawn(move || {
                for line in BufReader::new(printed).lines() {
                    let Ok(line) = line else { break };
                    let at = timeline.now();
                    let _ = writeln!(file, "{line}");
                    lock(&log).push(line.clone());
                    if let Some(parsed) = FirmwareLine::parse(&line) {
                        timeline.push_at(at, Happening::Controller(names.event(&parsed)));
                    }
                }
            });
        }
        // QMP: capabilities, then its events to the timeline.
        let mut qmp_in = BufReader::new(qmp.try_clone().map_err(RigError::io("QMP"))?);
        let mut greeting = String::new();
        qmp_in.read_line(&mut greeting).map_err(RigError::io("QMP greeting"))?;
        let mut qmp = qmp;
        qmp.write_all(b"{\"execute\": \"qmp_capabilities\"}\n").map_err(RigError::io("QMP"))?;
        {
            let timeline = timeline.clone();
            std::thread::spawn(move || {
                let mut line = String::new();
                loop {
                    line.clear();
                    if matches!(qmp_in.read_line(&mut line), Ok(0) | Err(_)) {
                        break;
                    }
                    let Ok(value) = serde_json::from_str::<Value>(&line) else { continue };
                    if let Some(event) = value.get("event").and_then(Value::as_str) {
                        timeline.push(Happening::Emulator(event.to_owned()));
                    }
                }
            });
        }
        let controller = Self { qemu, printer, console, qmp, timeline, names, log, started: false };
        Ok((controller, Ends { links, board }))
    }

    fn qmp(&mut self, command: &str) -> Result<(), RigError> {
        writeln!(self.qmp, "{{\"execute\": \"{command}\"}}").map_err(RigError::io(format!("QMP {command}")))
    }

    /// Sends one console line.
    fn type_line(&mut self, line: &str) -> Result<(), RigError> {
        writeln!(self.console, "{line}").map_err(RigError::io(format!("the firmware console: {line}")))
    }

    fn node_id(&self, name: &str) -> Result<usize, RigError> {
        self.names
            .nodes
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| RigError::Options(format!("unknown node `{name}`")))
    }

    /// The console's answer to an operator command: its `accepted` or
    /// `refused` line.
    fn operator(&mut self, op: &str, line: &str) -> Result<Value, RigError> {
        let since = self.timeline.now();
        self.type_line(line)?;
        let prefix = format!("console: {op} ");
        let answer = self.timeline.wait_for(
            &format!("the firmware's answer to `{line}`"),
            since,
            ANSWER_BOUND,
            |h| matches!(h, Happening::Controller(e) if e.text.starts_with(&prefix)),
            crate::host::signals::check,
        )?;
        let Happening::Controller(e) = answer.what else { unreachable!("matched above") };
        Ok(match e.text.strip_prefix(&prefix).unwrap_or_default() {
            "accepted" => json!({"ok": true}),
            other => json!({"ok": false, "error": other.trim_start_matches("refused: ")}),
        })
    }

    /// `status` on the console, its lines made into the Linux controller's
    /// status JSON (the parts the rig reads: life, power, holds, placement).
    fn status(&mut self) -> Result<Value, RigError> {
        let since = self.timeline.now();
        self.type_line("status")?;
        self.timeline.wait_for(
            "the firmware's status",
            since,
            ANSWER_BOUND,
            |h| matches!(h, Happening::Controller(e) if e.text.starts_with("status counters:")),
            crate::host::signals::check,
        )?;
        let lines: Vec<String> = self
            .timeline
            .since(since)
            .into_iter()
            .filter_map(|e| match e.what {
                Happening::Controller(c) if c.text.starts_with("status ") => Some(c.text),
                _ => None,
            })
            .collect();
        Ok(json!({"ok": true, "status": status_json(&self.names, &lines)}))
    }
}

/// The Linux controller's status JSON from the firmware's `status` lines:
/// `status node I: LIFE[ (standby)], power P, want 0bW, holds 0bH` and
/// `status group G: placed on node N` (or `not placed`).
#[must_use]
pub fn status_json(names: &Names, lines: &[String]) -> Value {
    let mask = |s: &str| u32::from_str_radix(s.trim().trim_start_matches("0b"), 2).unwrap_or(0);
    let mut holds = vec![0u32; names.nodes.len()];
    let mut nodes = Vec::new();
    let mut groups = Vec::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix("status node ") {
            let Some((id, rest)) = rest.split_once(": ") else { continue };
            let Some(i) = id.parse::<usize>().ok().filter(|i| *i < names.nodes.len()) else { continue };
            let fields: Vec<&str> = rest.split(", ").collect();
            let life = fields.first().copied().unwrap_or_default();
            let field = |key: &str| fields.iter().find_map(|f| f.strip_prefix(key)).unwrap_or_default();
            holds[i] = mask(field("holds "));
            let group_names: Vec<&str> = names
                .groups
                .iter()
                .enumerate()
                .filter(|(g, _)| holds[i] & (1 << g) != 0)
                .map(|(_, n)| n.as_str())
                .collect();
            nodes.push(json!({
                "name": names.nodes[i],
                "life": life.trim_end_matches(" (standby)"),
                "standby": life.ends_with("(standby)"),
                "power": field("power "),
                "holds": group_names,
            }));
        } else if let Some(rest) = line.strip_prefix("status group ") {
            let Some((id, rest)) = rest.split_once(": ") else { continue };
            let Some(g) = id.parse::<usize>().ok().filter(|g| *g < names.groups.len()) else { continue };
            let placed = rest.strip_prefix("placed on node ").and_then(|n| n.trim().parse::<usize>().ok());
            groups.push((g, placed));
        }
    }
    let groups: Vec<Value> = groups
        .into_iter()
        .map(|(g, placed)| {
            let held_by: Vec<&str> =
                names.nodes.iter().zip(&holds).filter(|(_, h)| **h & (1 << g) != 0).map(|(n, _)| n.as_str()).collect();
            json!({
                "name": names.groups[g],
                "placed_on": placed.and_then(|n| names.nodes.get(n)),
                "held_by": held_by,
            })
        })
        .collect();
    json!({"nodes": nodes, "groups": groups})
}

fn lock(log: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ControllerUnderTest for QemuController {
    fn kind(&self) -> &'static str {
        "qemu"
    }

    /// The first start lets the CPU run; a later one resets the board
    /// (fence records kept) and lets it run. Waits for the firmware's
    /// "controller started".
    fn start(&mut self) -> Result<(), RigError> {
        let since = self.timeline.now();
        let restart = self.started;
        if restart {
            self.qmp("system_reset")?;
        }
        self.qmp("cont")?;
        self.started = true;
        self.timeline.push(Happening::ControllerStarted { restart });
        let qemu = &mut self.qemu;
        self.timeline
            .wait_for(
                "the firmware's \"controller started\"",
                since,
                BOUND,
                |h| matches!(h, Happening::Controller(e) if e.kind == ConsoleKind::Started),
                || match qemu.try_wait() {
                    Ok(Some(status)) => Err(RigError::Broken(format!("qemu-system-arm exited ({status})"))),
                    _ => crate::host::signals::check(),
                },
            )
            .map(drop)
    }

    /// Halts the CPU: the controller stops dead, as a crash does.
    fn kill(&mut self) -> Result<(), RigError> {
        self.qmp("stop")?;
        self.timeline.push(Happening::ControllerKilled);
        Ok(())
    }

    fn stop(&mut self) {
        let _ = self.qmp("quit");
        let _ = self.qemu.wait();
    }

    /// `status`, and the operator commands by name, on the console (which
    /// takes ids).
    fn ask(&mut self, request: &str) -> Result<Value, RigError> {
        let words: Vec<&str> = request.split_whitespace().collect();
        match words.as_slice() {
            ["status"] => self.status(),
            [op @ ("fence" | "unfence" | "standby" | "online"), node] => {
                let id = self.node_id(node)?;
                self.operator(op, &format!("{op} {id}"))
            }
            ["migrate", group, node] => {
                let g = self.names.groups.iter().position(|n| n == group);
                let g = g.ok_or_else(|| RigError::Options(format!("unknown group `{group}`")))?;
                let id = self.node_id(node)?;
                self.operator("migrate", &format!("migrate {g} {id}"))
            }
            _ => Err(RigError::Options(format!("the firmware console does not take `{request}`"))),
        }
    }

    fn wedge_link(&mut self, node: &str) -> Result<(), RigError> {
        let id = self.node_id(node)?;
        self.type_line(&format!("wedge {id}"))
    }

    fn exited(&mut self) -> Option<String> {
        let status = self.qemu.try_wait().ok().flatten()?;
        Some(format!("qemu-system-arm: {status}"))
    }

    fn log_tail(&self, lines: usize) -> String {
        let log = lock(&self.log);
        log.iter().skip(log.len().saturating_sub(lines)).cloned().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for QemuController {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
        let _ = self.printer.kill();
        let _ = self.printer.wait();
    }
}
