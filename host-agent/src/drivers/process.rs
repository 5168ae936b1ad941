//! Running an outside command (a resource script, `systemctl`, `e2fsck`) with a
//! deadline, its output captured and bounded.
//!
//! The command runs in a process group of its own, so a timeout kills the
//! whole tree it started, not only the first process. Its stdout and stderr go
//! to one anonymous in-memory file rather than a pipe: a daemon started by a
//! script may keep the descriptor open long after the script has exited, and
//! with a pipe it would either keep us waiting for end-of-file or die of
//! `SIGPIPE` once we close our end.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::resource::{ErrorKind, ResourceError};

/// How much of a command's output is kept for error messages (the end of it,
/// where the reason for a failure usually is).
pub const OUTPUT_CAP: usize = 4096;

/// How long to wait for a killed process group's leader to be reaped before
/// leaving that to a background thread. `SIGKILL` normally takes effect at
/// once; a process stuck in uninterruptible sleep does not, and the caller
/// must not hang on it.
const REAP_AFTER_KILL: Duration = Duration::from_secs(2);

/// A command to run: program, arguments, extra environment, deadline.
#[derive(Debug, Clone)]
pub struct Invocation {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    timeout: Duration,
    output_cap: usize,
}

/// How a command that ran to its end finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// Its exit code, when it exited rather than being killed by a signal.
    pub code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// The end of its combined stdout and stderr (at most the output cap),
    /// trimmed; lossy UTF-8.
    pub output: String,
}

impl Exit {
    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// `exit 3` or `killed by signal 9`, for messages.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => "unknown exit".to_owned(),
        }
    }

    /// ` (output: ...)` when there was any output, else empty; for messages.
    pub fn output_suffix(&self) -> String {
        output_suffix(&self.output)
    }
}

/// ` (output: ...)` when `output` is not empty, else an empty string.
pub fn output_suffix(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!(" (output: {output})")
    }
}

impl Invocation {
    /// A command running `program` (a path, or a bare name looked up in
    /// `PATH`) with no arguments and a 60 s deadline.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            timeout: Duration::from_secs(60),
            output_cap: OUTPUT_CAP,
        }
    }

    /// A command from an argv vector (`argv[0]` is the program). `None` when
    /// the vector is empty.
    pub fn from_argv<S: AsRef<OsStr>>(argv: &[S]) -> Option<Self> {
        let (program, args) = argv.split_first()?;
        Some(Self::new(PathBuf::from(program.as_ref())).args(args))
    }

    /// Adds one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    #[must_use]
    pub fn args<S: AsRef<OsStr>>(mut self, args: &[S]) -> Self {
        self.args.extend(args.iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the command (on top of the agent's own).
    #[must_use]
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env.push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Sets the deadline.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how many bytes of output are kept (the last ones).
    #[must_use]
    pub fn output_cap(mut self, cap: usize) -> Self {
        self.output_cap = cap;
        self
    }

    /// The program this runs.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Runs it to its end or its deadline. `what` names it in errors (e.g.
    /// `LSB script /etc/init.d/httpd start`).
    ///
    /// Errors: [`ErrorKind::NotInstalled`] when the program does not exist,
    /// [`ErrorKind::Permission`] when it may not be executed,
    /// [`ErrorKind::Timeout`] when the deadline passed (the whole process
    /// group has then been sent `SIGKILL`), [`ErrorKind::Failed`] for other
    /// failures to run it. A command that runs and exits non-zero is not an
    /// error here: the caller decides what its exit code means.
    pub fn run(&self, what: &str) -> Result<Exit, ResourceError> {
        let capture = capture_file(what)?;
        let mut command = self.command();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(clone_file(&capture, what)?))
            .stderr(Stdio::from(clone_file(&capture, what)?));
        let mut child = command.spawn().map_err(|e| spawn_error(&e, what))?;
        // Our copies of the capture descriptors were moved into `command`;
        // drop it so only the child (and what it starts) hold them.
        drop(command);
        let deadline = Instant::now() + self.timeout;
        match wait_until(&mut child, deadline) {
            Ok(Some(status)) => Ok(exit_of(status, read_tail(&capture, self.output_cap))),
            Ok(None) => {
                kill_group(&mut child);
                let output = read_tail(&capture, self.output_cap);
                Err(ResourceError::new(
                    ErrorKind::Timeout,
                    format!(
                        "{what} did not finish within {} ms; its process group was killed{}",
                        self.timeout.as_millis(),
                        output_suffix(&output)
                    ),
                ))
            }
            Err(e) => {
                kill_group(&mut child);
                Err(ResourceError::new(ErrorKind::Failed, format!("{what}: waiting for it failed: {e}")))
            }
        }
    }

    /// A `std::process::Command` for this invocation in a new process group,
    /// with stdio left to the caller.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args).process_group(0);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }
}

/// The [`ResourceError`] for a command that could not be started.
pub fn spawn_error(e: &io::Error, what: &str) -> ResourceError {
    let kind = match e.kind() {
        io::ErrorKind::NotFound => ErrorKind::NotInstalled,
        io::ErrorKind::PermissionDenied => ErrorKind::Permission,
        _ => ErrorKind::Failed,
    };
    ResourceError::new(kind, format!("{what}: cannot run it: {e}"))
}

/// The scheduler state letter of a process (`R`, `S`, `D`, `Z`, ...) from
/// `/proc/PID/stat`, or `None` when there is no such process.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may itself contain ') ', so split at the last one.
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.chars().next()
}

/// True when a process with this pid exists and has not exited (a zombie has).
pub fn is_alive(pid: u32) -> bool {
    matches!(process_state(pid), Some(state) if state != 'Z' && state != 'X')
}

fn capture_file(what: &str) -> Result<File, ResourceError> {
    memfd_create(c"warden-output", MemFdCreateFlag::MFD_CLOEXEC)
        .map(File::from)
        .map_err(|e| ResourceError::new(ErrorKind::Failed, format!("{what}: cannot create an output buffer: {e}")))
}

fn clone_file(file: &File, what: &str) -> Result<File, ResourceError> {
    file.try_clone()
        .map_err(|e| ResourceError::new(ErrorKind::Failed, format!("{what}: cannot duplicate the output buffer: {e}")))
}

/// Polls the child until it exits or the deadline passes (`Ok(None)`). The
/// poll interval grows from 1 ms to 20 ms: short scripts answer fast, long
/// ones cost little.
fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Kills the child's whole process group and reaps the child, waiting at
/// most [`REAP_AFTER_KILL`]; past that a background thread reaps it so no
/// zombie is left behind and the caller is not held up.
fn kill_group(child: &mut Child) {
    if let Ok(raw) = i32::try_from(child.id()) {
        // The child is not reaped yet, so its pid (= group id) cannot have
        // been reused.
        let _ = killpg(Pid::from_raw(raw), Signal::SIGKILL);
    }
    match wait_until(child, Instant::now() + REAP_AFTER_KILL) {
        Ok(Some(_)) | Err(_) => {}
        Ok(None) => {
            let pid = child.id();
            let spawned = thread::Builder::new().name(format!("reap-{pid}")).spawn(move || {
                let _ = nix::sys::wait::waitpid(Pid::from_raw(pid as i32), None);
            });
            drop(spawned);
        }
    }
}

fn exit_of(status: ExitStatus, output: String) -> Exit {
    Exit { code: status.code(), signal: status.signal(), output }
}

/// The last `cap` bytes written to the capture file, as trimmed text.
fn read_tail(file: &File, cap: usize) -> String {
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(cap as u64);
    let size = usize::try_from(len - start).unwrap_or(cap);
    let mut buf = vec![0_u8; size];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], start + filled as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    buf.truncate(filled);
    let text = String::from_utf8_lossy(&buf);
    let text = text.trim();
    if start > 0 {
        format!("...{text}")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_exit_code() {
        let exit =
            Invocation::new("/bin/sh").args(&["-c", "echo out; echo err >&2; exit 3"]).run("test script").unwrap();
        assert_eq!(exit.code, Some(3));
        assert_eq!(exit.output, "out\nerr");
    }

    #[test]
    fn output_is_bounded_to_its_tail() {
        let exit = Invocation::new("/bin/sh")
            .args(&["-c", "i=0; while [ $i -lt 100 ]; do echo line$i; i=$((i+1)); done"])
            .output_cap(16)
            .run("test script")
            .unwrap();
        assert!(exit.output.starts_with("..."), "{}", exit.output);
        assert!(exit.output.ends_with("line99"), "{}", exit.output);
        assert!(exit.output.len() <= 16 + 3);
    }

    #[test]
    fn missing_program_is_not_installed() {
        let err = Invocation::new("/nonexistent/warden-test-program").run("probe script").unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotInstalled);
        assert!(err.message.contains("probe script"), "{}", err.message);
    }

    #[test]
    fn deadline_kills_and_reports_timeout() {
        let started = Instant::now();
        let err = Invocation::new("/bin/sh")
            .args(&["-c", "echo begun; sleep 30"])
            .timeout(Duration::from_millis(200))
            .run("slow script")
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Timeout);
        assert!(err.message.contains("slow script") && err.message.contains("begun"), "{}", err.message);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
