//! A plain command the agent runs and respawns itself.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::pidfile::PidFile;
use crate::drivers::process::{is_alive, spawn_error, Invocation};
use crate::resource::{ErrorKind, Health, Presence, Resource, ResourceError};

/// The exit code by which a supervised command says "do not respawn me"
/// (heartbeat's `respawn` convention).
pub const NO_RESPAWN_EXIT: i32 = 100;

/// How long `stop` waits for the process to be gone after `SIGKILL`.
const KILL_WAIT: Duration = Duration::from_secs(5);

/// When to respawn a supervised command that exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Respawn {
    /// Delay before the first respawn after a quick exit.
    pub initial_backoff: Duration,
    /// The delay doubles on every quick exit in a row, up to this.
    pub max_backoff: Duration,
    /// A run at least this long counts as healthy: the next exit starts the
    /// backoff again from `initial_backoff`.
    pub stable_after: Duration,
}

impl Default for Respawn {
    /// 1 s, doubling up to 60 s, reset after 30 s of running.
    fn default() -> Self {
        Self {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            stable_after: Duration::from_secs(30),
        }
    }
}

impl Respawn {
    /// The delay before respawn number `quick_exits` (1 for the first) of a
    /// run of quick exits.
    pub fn delay(&self, quick_exits: u32) -> Duration {
        let doublings = quick_exits.saturating_sub(1).min(30);
        self.initial_backoff.saturating_mul(1 << doublings).min(self.max_backoff)
    }
}

/// Where a supervised command stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupervisedState {
    /// Not wanted, nothing running.
    Stopped,
    /// Running as process `pid` (the leader of its own process group).
    Running {
        /// Its process id.
        pid: u32,
    },
    /// It exited and will be respawned after the backoff.
    BackingOff {
        /// How it last ended (`exit 1`, `killed by signal 9`, a spawn error).
        last_exit: String,
        /// When the respawn is due.
        until: Instant,
    },
    /// It exited with code 100 and is not respawned.
    GaveUp {
        /// How it ended.
        last_exit: String,
    },
}

#[derive(Debug)]
struct Inner {
    want: bool,
    state: SupervisedState,
    spawns: u64,
}

#[derive(Debug)]
struct Shared {
    inner: Mutex<Inner>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits on the condition variable while `busy` holds, at most `limit`.
    fn wait_while<'a>(
        &self,
        mut guard: MutexGuard<'a, Inner>,
        limit: Duration,
        busy: impl Fn(&Inner) -> bool,
    ) -> MutexGuard<'a, Inner> {
        let deadline = Instant::now() + limit;
        while busy(&guard) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            guard = self.changed.wait_timeout(guard, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        }
        guard
    }
}

/// A plain command the agent runs itself and respawns when it exits, with
/// exponential backoff ([`Respawn`]); an exit with code 100 means "do not
/// respawn", as with heartbeat's `respawn`.
///
/// The command runs in a process group of its own, stdin from `/dev/null`,
/// stdout and stderr shared with the agent (so they land in the agent's log).
/// A supervisor thread waits for it; reaping and signalling are serialised by
/// one lock, so a pid is never signalled after it could have been reused.
///
/// * `start` spawns it (errors from the spawn itself are returned);
///   starting a supervised command that is running or backing off does nothing.
/// * `stop` stops respawning, sends `SIGTERM` to the group, waits up to
///   the grace period, then `SIGKILL`, and waits up to 5 s more; a process
///   that still will not die is an [`ErrorKind::Busy`] error.
/// * `probe`: [`Presence::Active`] while the process lives,
///   [`Presence::Unknown`] while it is backing off before a respawn (it will
///   be back), [`Presence::Inactive`] when stopped or given up.
///
/// With a pid file ([`SupervisedCommand::with_pid_file`]) the running
/// process is recorded, so another `SupervisedCommand` for the same command
/// (the next agent after a restart, or `warden-agent debug-stop`) finds it:
/// `probe` and `monitor` see it, `start` leaves it running, `stop` ends its
/// process group (`SIGTERM`, the grace period, `SIGKILL`). Such an adopted
/// process is not the caller's child, so it is not respawned: when it exits
/// the monitor says so and the group restarts it under supervision.
///
/// Dropping it stops the command (a caller that must leave the command
/// running, like an agent stopping fail-static, forgets the value instead).
#[derive(Debug)]
pub struct SupervisedCommand {
    argv: Vec<String>,
    invocation: Invocation,
    respawn: Respawn,
    stop_grace: Duration,
    /// Respawn when the process exits (heartbeat's `respawn`); exit 100
    /// stops respawning either way.
    respawns: bool,
    pid_file: Option<PidFile>,
    /// Where its output goes instead of the caller's stdout and stderr.
    log_file: Option<PathBuf>,
    shared: Arc<Shared>,
    supervisor: Option<JoinHandle<()>>,
}

impl SupervisedCommand {
    /// The command `argv` (`argv[0]` a path or a name looked up in `PATH`),
    /// respawned per `respawn`, given `stop_grace` between `SIGTERM` and
    /// `SIGKILL` on stop.
    ///
    /// Errors ([`ErrorKind::Config`]): an empty argv or program, a NUL byte,
    /// a zero initial backoff or a maximum below it.
    pub fn new(argv: Vec<String>, respawn: Respawn, stop_grace: Duration) -> Result<Self, ResourceError> {
        let Some(program) = argv.first() else {
            return Err(ResourceError::new(ErrorKind::Config, "supervised command: argv is empty"));
        };
        if program.is_empty() {
            return Err(ResourceError::new(ErrorKind::Config, "supervised command: program name is empty"));
        }
        if argv.iter().any(|a| a.contains('\0')) {
            return Err(ResourceError::new(
                ErrorKind::Config,
                format!("supervised command {program}: an argument contains a NUL byte"),
            ));
        }
        if respawn.initial_backoff.is_zero() || respawn.max_backoff < respawn.initial_backoff {
            return Err(ResourceError::new(
                ErrorKind::Config,
                format!(
                    "supervised command {program}: respawn backoff must start above zero and not exceed its maximum \
                     (initial {} ms, max {} ms)",
                    respawn.initial_backoff.as_millis(),
                    respawn.max_backoff.as_millis()
                ),
            ));
        }
        let invocation = Invocation::from_argv(&argv)
            .ok_or_else(|| ResourceError::new(ErrorKind::Config, "supervised command: argv is empty"))?;
        Ok(Self {
            argv,
            invocation,
            respawn,
            stop_grace,
            respawns: true,
            pid_file: None,
            log_file: None,
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner { want: false, state: SupervisedState::Stopped, spawns: 0 }),
                changed: Condvar::new(),
            }),
            supervisor: None,
        })
    }

    /// Records the running process in `path` (see the type's doc).
    #[must_use]
    pub fn with_pid_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.pid_file = Some(PidFile::new(path));
        self
    }

    /// Appends the command's stdout and stderr to `path` (created with its
    /// directory) instead of sharing the caller's: for a caller that exits
    /// while the command runs on, such as a debug command whose output
    /// someone reads to its end.
    #[must_use]
    pub fn with_log_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.log_file = Some(path.into());
        self
    }

    /// Never respawns: an exit ends it as exit 100 would.
    #[must_use]
    pub fn without_respawn(mut self) -> Self {
        self.respawns = false;
        self
    }

    /// The process a pid file names, when this value does not supervise it
    /// (it was started by an earlier agent or command) and it still runs.
    pub fn adopted(&self) -> Option<u32> {
        if self.is_supervising() {
            return None;
        }
        self.pid_file.as_ref().and_then(PidFile::live)
    }

    /// Where it stands now.
    pub fn state(&self) -> SupervisedState {
        self.shared.lock().state.clone()
    }

    /// How many times it has been spawned since this value was made.
    pub fn spawns(&self) -> u64 {
        self.shared.lock().spawns
    }

    /// The running process's pid, if it runs.
    pub fn pid(&self) -> Option<u32> {
        match self.shared.lock().state {
            SupervisedState::Running { pid } => Some(pid),
            _ => None,
        }
    }

    /// The respawn policy.
    pub fn respawn(&self) -> Respawn {
        self.respawn
    }

    /// Waits up to `limit` for the state to satisfy `done`; returns the state
    /// then. For callers (and tests) that wait on the supervisor's events.
    pub fn wait_for(&self, limit: Duration, done: impl Fn(&SupervisedState) -> bool) -> SupervisedState {
        let guard = self.shared.wait_while(self.shared.lock(), limit, |inner| !done(&inner.state));
        guard.state.clone()
    }

    /// True while the supervisor thread runs (the command runs or waits to be
    /// respawned).
    pub fn is_supervising(&self) -> bool {
        self.supervisor.as_ref().is_some_and(|h| !h.is_finished())
    }

    fn name(&self) -> String {
        format!("supervised command {}", self.argv.join(" "))
    }

    fn join_supervisor(&mut self) {
        if let Some(handle) = self.supervisor.take() {
            let _ = handle.join();
        }
    }

    /// Ends an adopted process's group: `SIGTERM`, the grace period,
    /// `SIGKILL`, [`KILL_WAIT`]. It is not our child, so its end is seen in
    /// `/proc` (it turns into a zombie of its new parent, or vanishes).
    fn stop_adopted(&self, pid: u32) -> Result<(), ResourceError> {
        let Some(file) = self.pid_file.as_ref() else { return Ok(()) };
        let group = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
        let gone = |limit: Duration| {
            let deadline = Instant::now() + limit;
            while file.live() == Some(pid) {
                if Instant::now() >= deadline {
                    return false;
                }
                thread::sleep(Duration::from_millis(10));
            }
            true
        };
        let _ = killpg(group, Signal::SIGTERM);
        if !gone(self.stop_grace) {
            let _ = killpg(group, Signal::SIGKILL);
            if !gone(KILL_WAIT) {
                return Err(ResourceError::new(
                    ErrorKind::Busy,
                    format!(
                        "{}: process {pid} (from {}) would not die after SIGKILL",
                        self.name(),
                        file.path().display()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn forget_pid(&self) -> Result<(), ResourceError> {
        match &self.pid_file {
            Some(file) => file.remove().map_err(|e| {
                ResourceError::new(
                    ErrorKind::Failed,
                    format!("{}: cannot remove {}: {e}", self.name(), file.path().display()),
                )
            }),
            None => Ok(()),
        }
    }
}

/// What the supervisor thread needs besides the shared state.
#[derive(Debug, Clone)]
struct Supervision {
    invocation: Invocation,
    respawn: Respawn,
    respawns: bool,
    pid_file: Option<PidFile>,
    log_file: Option<PathBuf>,
    what: String,
}

impl Supervision {
    /// Records a new process in the pid file. A pid file that cannot be
    /// written costs only the ability to find the process after a restart.
    fn record(&self, pid: Pid) {
        if let Some(file) = &self.pid_file {
            let _ = file.write(pid.as_raw().unsigned_abs());
        }
    }

    fn forget(&self) {
        if let Some(file) = &self.pid_file {
            let _ = file.remove();
        }
    }
}

fn spawn(invocation: &Invocation, what: &str, log: Option<&Path>) -> Result<Pid, ResourceError> {
    let mut command = invocation.command();
    command.stdin(Stdio::null());
    if let Some(path) = log {
        let open = || -> std::io::Result<(File, File)> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            Ok((file.try_clone()?, file))
        };
        let (out, err) = open().map_err(|e| {
            ResourceError::new(ErrorKind::Failed, format!("{what}: cannot open its log {}: {e}", path.display()))
        })?;
        command.stdout(out).stderr(err);
    }
    let child = command.spawn().map_err(|e| spawn_error(&e, what))?;
    // The child is reaped by the supervisor with waitpid; dropping the
    // handle neither kills nor waits.
    let pid = i32::try_from(child.id())
        .map_err(|_| ResourceError::new(ErrorKind::Failed, format!("{what}: pid out of range")))?;
    Ok(Pid::from_raw(pid))
}

fn describe_status(status: Result<WaitStatus, Errno>) -> (String, Option<i32>) {
    match status {
        Ok(WaitStatus::Exited(_, code)) => (format!("exit {code}"), Some(code)),
        Ok(WaitStatus::Signaled(_, signal, _)) => (format!("killed by {signal}"), None),
        Ok(other) => (format!("{other:?}"), None),
        Err(e) => (format!("lost track of it: {e}"), None),
    }
}

/// The supervisor thread: waits for the process, reaps it, respawns it
/// after the backoff, until it is no longer wanted or exits with 100.
fn supervise(shared: Arc<Shared>, run: Supervision, first: Pid) {
    let Supervision { ref invocation, respawn, ref what, .. } = run;
    let mut running = Some((first, Instant::now()));
    let mut quick_exits: u32 = 0;
    let mut spawn_failure = String::new();
    loop {
        let mut inner;
        let last_exit = match running.take() {
            Some((pid, started)) => {
                // Wait without reaping, so the pid stays ours while `stop`
                // may still signal it; then reap and record under the lock.
                while let Err(Errno::EINTR) = waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {}
                inner = shared.lock();
                let (last_exit, code) = describe_status(waitpid(pid, None));
                if code == Some(NO_RESPAWN_EXIT) || (!run.respawns && inner.want) {
                    run.forget();
                    inner.state = SupervisedState::GaveUp { last_exit };
                    shared.changed.notify_all();
                    return;
                }
                if started.elapsed() >= respawn.stable_after {
                    quick_exits = 0;
                }
                last_exit
            }
            None => {
                inner = shared.lock();
                std::mem::take(&mut spawn_failure)
            }
        };
        if !inner.want {
            run.forget();
            inner.state = SupervisedState::Stopped;
            shared.changed.notify_all();
            return;
        }
        quick_exits = quick_exits.saturating_add(1);
        let until = Instant::now() + respawn.delay(quick_exits);
        inner.state = SupervisedState::BackingOff { last_exit, until };
        shared.changed.notify_all();
        inner = shared.wait_while(inner, until.saturating_duration_since(Instant::now()), |i| i.want);
        if !inner.want {
            run.forget();
            inner.state = SupervisedState::Stopped;
            shared.changed.notify_all();
            return;
        }
        match spawn(invocation, what, run.log_file.as_deref()) {
            Ok(pid) => {
                run.record(pid);
                inner.state = SupervisedState::Running { pid: pid.as_raw().unsigned_abs() };
                inner.spawns += 1;
                running = Some((pid, Instant::now()));
            }
            Err(e) => {
                inner.state = SupervisedState::BackingOff { last_exit: e.message.clone(), until: Instant::now() };
                spawn_failure = e.message;
            }
        }
        shared.changed.notify_all();
    }
}

impl Resource for SupervisedCommand {
    fn describe(&self) -> String {
        self.name()
    }

    fn start(&mut self) -> Result<(), ResourceError> {
        if self.is_supervising() && self.shared.lock().want {
            return Ok(());
        }
        if self.adopted().is_some() {
            // Started by an earlier agent and still running: leave it be.
            return Ok(());
        }
        self.join_supervisor();
        let what = self.name();
        let mut inner = self.shared.lock();
        let pid = spawn(&self.invocation, &what, self.log_file.as_deref())?;
        if let Some(file) = &self.pid_file {
            if let Err(e) = file.write(pid.as_raw().unsigned_abs()) {
                let _ = killpg(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
                return Err(ResourceError::new(
                    ErrorKind::Failed,
                    format!("{what}: cannot write {} (command stopped again): {e}", file.path().display()),
                ));
            }
        }
        inner.want = true;
        inner.state = SupervisedState::Running { pid: pid.as_raw().unsigned_abs() };
        inner.spawns += 1;
        drop(inner);
        let shared = Arc::clone(&self.shared);
        let run = Supervision {
            invocation: self.invocation.clone(),
            respawn: self.respawn,
            respawns: self.respawns,
            pid_file: self.pid_file.clone(),
            log_file: self.log_file.clone(),
            what,
        };
        let handle = thread::Builder::new()
            .name(format!("supervise-{}", pid.as_raw()))
            .spawn(move || supervise(shared, run, pid));
        match handle {
            Ok(handle) => {
                self.supervisor = Some(handle);
                Ok(())
            }
            Err(e) => {
                let _ = killpg(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
                let mut inner = self.shared.lock();
                inner.want = false;
                inner.state = SupervisedState::Stopped;
                drop(inner);
                let _ = self.forget_pid();
                Err(ResourceError::new(ErrorKind::Failed, format!("{}: cannot start its supervisor: {e}", self.name())))
            }
        }
    }

    fn stop(&mut self) -> Result<(), ResourceError> {
        if let Some(pid) = self.adopted() {
            self.stop_adopted(pid)?;
            return self.forget_pid();
        }
        let running = |inner: &Inner| matches!(inner.state, SupervisedState::Running { .. });
        let mut inner = self.shared.lock();
        inner.want = false;
        self.shared.changed.notify_all();
        if let SupervisedState::Running { pid } = inner.state {
            let group = Pid::from_raw(pid as i32);
            let _ = killpg(group, Signal::SIGTERM);
            inner = self.shared.wait_while(inner, self.stop_grace, running);
            if running(&inner) {
                let _ = killpg(group, Signal::SIGKILL);
                inner = self.shared.wait_while(inner, KILL_WAIT, running);
            }
            if running(&inner) {
                return Err(ResourceError::new(
                    ErrorKind::Busy,
                    format!("{}: process {pid} would not die after SIGKILL", self.name()),
                ));
            }
        }
        drop(inner);
        // The supervisor has reaped the process (or was backing off) and has
        // seen `want` cleared, so it is returning.
        self.join_supervisor();
        self.shared.lock().state = SupervisedState::Stopped;
        self.forget_pid()
    }

    fn probe(&mut self) -> Result<Presence, ResourceError> {
        if self.adopted().is_some() {
            return Ok(Presence::Active);
        }
        Ok(match self.state() {
            SupervisedState::Running { pid } if is_alive(pid) => Presence::Active,
            // Exited and about to be reaped, or waiting to be respawned.
            SupervisedState::Running { .. } | SupervisedState::BackingOff { .. } => Presence::Unknown,
            SupervisedState::Stopped | SupervisedState::GaveUp { .. } => Presence::Inactive,
        })
    }

    fn monitor(&mut self) -> Result<Health, ResourceError> {
        if self.adopted().is_some() {
            return Ok(Health::Healthy);
        }
        Ok(match self.state() {
            SupervisedState::Running { pid } if is_alive(pid) => Health::Healthy,
            SupervisedState::Running { pid } => Health::Unhealthy(format!("{}: process {pid} exited", self.name())),
            SupervisedState::BackingOff { last_exit, until } => Health::Unhealthy(format!(
                "{} ended ({last_exit}); respawn in {} ms",
                self.name(),
                until.saturating_duration_since(Instant::now()).as_millis()
            )),
            SupervisedState::GaveUp { last_exit } if self.respawns => {
                Health::Unhealthy(format!("{} ended ({last_exit}) and asked not to be respawned", self.name()))
            }
            SupervisedState::GaveUp { last_exit } => {
                Health::Unhealthy(format!("{} ended ({last_exit}); it is not respawned", self.name()))
            }
            SupervisedState::Stopped => Health::Unhealthy(format!("{} is not running", self.name())),
        })
    }
}

impl Drop for SupervisedCommand {
    fn drop(&mut self) {
        if self.is_supervising() || self.shared.lock().want {
            let _ = self.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let respawn = Respawn {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            stable_after: Duration::from_secs(1),
        };
        let delays: Vec<u128> = (1..=5).map(|n| respawn.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 500, 500]);
        assert_eq!(respawn.delay(u32::MAX), Duration::from_millis(500));
    }

    #[test]
    fn a_process_named_by_the_pid_file_is_adopted_and_stopped() {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cmd.pid");
        // Started "by an earlier agent": not supervised by the value below.
        let mut earlier = std::process::Command::new("sleep").arg("300").process_group(0).spawn().unwrap();
        let pid = earlier.id();
        PidFile::new(&path).write(pid).unwrap();

        let argv = vec!["sleep".to_owned(), "300".to_owned()];
        let mut command =
            SupervisedCommand::new(argv, Respawn::default(), Duration::from_secs(2)).unwrap().with_pid_file(&path);
        assert_eq!(command.adopted(), Some(pid));
        assert_eq!(command.probe().unwrap(), Presence::Active);
        assert_eq!(command.monitor().unwrap(), Health::Healthy);
        command.start().unwrap();
        assert_eq!(command.spawns(), 0, "a running adopted process is not started twice");
        command.stop().unwrap();
        // SIGTERM ended it; it is a zombie until its parent (here, the test) reaps it.
        assert!(!is_alive(pid));
        assert!(earlier.wait().unwrap().signal().is_some());
        assert!(!path.exists());
        assert_eq!(command.adopted(), None);
        assert_eq!(command.probe().unwrap(), Presence::Inactive);
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert_eq!(
            SupervisedCommand::new(vec![], Respawn::default(), Duration::ZERO).unwrap_err().kind,
            ErrorKind::Config
        );
        let zero = Respawn { initial_backoff: Duration::ZERO, ..Respawn::default() };
        assert_eq!(SupervisedCommand::new(vec!["x".into()], zero, Duration::ZERO).unwrap_err().kind, ErrorKind::Config);
    }
}
