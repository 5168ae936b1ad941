//! Heartbeat resource scripts and LSB init scripts.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use super::{action_error, check_word};
use crate::drivers::process::{Exit, Invocation};
use crate::resource::{ErrorKind, Health, Presence, Resource, ResourceError};

/// Where scripts are looked for when no directories are configured, in
/// order (heartbeat's `resource.d` first, then the init scripts).
pub const DEFAULT_SCRIPT_DIRS: [&str; 2] = ["/etc/ha.d/resource.d", "/etc/init.d"];

/// A heartbeat resource script or LSB init script.
///
/// Run as `script arg1 arg2 start|stop|status`: arguments from heartbeat's
/// `name::arg1::arg2` come before the action, as heartbeat passed them.
///
/// * `start`: exit 0 is success (LSB asks a script to answer 0 when the
///   service already runs, which makes the step idempotent).
/// * `stop`: exit 0 is success; exit 7 ("not running") is accepted too, since
///   a stopped service is what was asked for.
/// * `status` (the probe): exit 0 is [`Presence::Active`], 3 is
///   [`Presence::Inactive`], anything else (1 "dead but pid file exists",
///   2 "dead but lock file exists", 4 "unknown") is [`Presence::Unknown`].
///
/// Other exit codes of `start`/`stop` are mapped like OCF's (2 and 6 are
/// [`ErrorKind::Config`], 4 [`ErrorKind::Permission`], 5
/// [`ErrorKind::NotInstalled`]). The script is looked up at every call, so
/// it may be installed after the agent starts.
#[derive(Debug, Clone)]
pub struct LsbScript {
    name: String,
    args: Vec<String>,
    dirs: Vec<PathBuf>,
    timeout: Duration,
}

impl LsbScript {
    /// A script from heartbeat's resource syntax `name` or
    /// `name::arg1::arg2`, searched in `dirs` in order (empty: the
    /// [`DEFAULT_SCRIPT_DIRS`]); every action must finish within `timeout`.
    ///
    /// `name` may also be an absolute path, used as is.
    ///
    /// Errors ([`ErrorKind::Config`]): an empty name or argument, a relative
    /// name containing `/`, a zero timeout, a relative directory.
    pub fn new(spec: &str, dirs: Vec<PathBuf>, timeout: Duration) -> Result<Self, ResourceError> {
        let mut parts = spec.split("::");
        let name = parts.next().unwrap_or_default().to_owned();
        if !name.starts_with('/') {
            check_word(&name, "resource script name")?;
        } else if name.contains('\0') {
            return Err(ResourceError::new(
                ErrorKind::Config,
                format!("resource script path {name:?} contains a NUL byte"),
            ));
        }
        let args: Vec<String> = parts.map(str::to_owned).collect();
        if let Some(empty) = args.iter().position(String::is_empty) {
            return Err(ResourceError::new(
                ErrorKind::Config,
                format!("resource {spec:?}: argument {} is empty", empty + 1),
            ));
        }
        if timeout.is_zero() {
            return Err(ResourceError::new(ErrorKind::Config, format!("resource script {name}: timeout is zero")));
        }
        let dirs = if dirs.is_empty() { DEFAULT_SCRIPT_DIRS.iter().map(PathBuf::from).collect() } else { dirs };
        if let Some(dir) = dirs.iter().find(|d| !d.is_absolute()) {
            return Err(ResourceError::new(
                ErrorKind::Config,
                format!("resource script directory {} is not an absolute path", dir.display()),
            ));
        }
        Ok(Self { name, args, dirs, timeout })
    }

    /// The script's name (or path) as configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arguments passed before the action.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The script this resolves to now: the first executable file named
    /// `name` in the directories.
    pub fn resolve(&self) -> Result<PathBuf, ResourceError> {
        let candidates: Vec<PathBuf> = if self.name.starts_with('/') {
            vec![PathBuf::from(&self.name)]
        } else {
            self.dirs.iter().map(|d| d.join(&self.name)).collect()
        };
        let mut not_executable = None;
        for path in &candidates {
            if let Ok(meta) = std::fs::metadata(path) {
                if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                    return Ok(path.clone());
                }
                not_executable.get_or_insert(path);
            }
        }
        let message = match not_executable {
            Some(path) => format!("resource script {} is not an executable file", path.display()),
            None => format!(
                "resource script {} not found in {}",
                self.name,
                self.dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
            ),
        };
        Err(ResourceError::new(ErrorKind::NotInstalled, message))
    }

    fn run(&self, action: &str) -> Result<(Exit, String), ResourceError> {
        let script = self.resolve()?;
        let what = format!("resource script {}{} {action}", script.display(), self.args_text());
        let exit = Invocation::new(&script).args(&self.args).arg(action).timeout(self.timeout).run(&what)?;
        Ok((exit, what))
    }

    fn args_text(&self) -> String {
        self.args.iter().map(|a| format!(" {a}")).collect()
    }

    fn status(&self) -> Result<(Presence, Exit, String), ResourceError> {
        let (exit, what) = self.run("status")?;
        let presence = match exit.code {
            Some(0) => Presence::Active,
            Some(3) => Presence::Inactive,
            _ => Presence::Unknown,
        };
        Ok((presence, exit, what))
    }
}

fn status_meaning(code: Option<i32>) -> &'static str {
    match code {
        Some(1) => "dead but pid file exists",
        Some(2) => "dead but lock file exists",
        Some(4) => "status unknown",
        _ => "unexpected status",
    }
}

impl Resource for LsbScript {
    fn describe(&self) -> String {
        format!("resource script {}{}", self.name, self.args_text())
    }

    fn start(&mut self) -> Result<(), ResourceError> {
        let (exit, what) = self.run("start")?;
        if exit.success() {
            Ok(())
        } else {
            Err(action_error(&exit, &what))
        }
    }

    fn stop(&mut self) -> Result<(), ResourceError> {
        let (exit, what) = self.run("stop")?;
        match exit.code {
            Some(0 | 7) => Ok(()),
            _ => Err(action_error(&exit, &what)),
        }
    }

    fn probe(&mut self) -> Result<Presence, ResourceError> {
        self.status().map(|(presence, _, _)| presence)
    }

    fn monitor(&mut self) -> Result<Health, ResourceError> {
        let (presence, exit, what) = self.status()?;
        Ok(match presence {
            Presence::Active => Health::Healthy,
            Presence::Inactive => Health::Unhealthy(format!("{what}: not running (exit 3){}", exit.output_suffix())),
            Presence::Unknown => Health::Unhealthy(format!(
                "{what}: {} ({}){}",
                exit.describe(),
                status_meaning(exit.code),
                exit.output_suffix()
            )),
        })
    }
}
