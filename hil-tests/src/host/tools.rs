//! The outside programs the rig runs, the Debian package of each, and
//! running them with errors that say what failed and what it printed.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::RigError;

/// A program the rig runs and how to install it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    /// The program.
    pub name: &'static str,
    /// The command that installs it.
    pub install: &'static str,
}

/// Every program a rig run needs.
pub const NEEDED: &[Tool] = &[
    Tool { name: "ip", install: "apt-get install iproute2" },
    Tool { name: "mkfs.ext4", install: "apt-get install e2fsprogs" },
    Tool { name: "e2fsck", install: "apt-get install e2fsprogs" },
    Tool { name: "debugfs", install: "apt-get install e2fsprogs" },
    Tool { name: "losetup", install: "apt-get install mount" },
];

/// The CPU hog `soak --stress` prefers (busy threads otherwise).
pub const STRESS: Tool = Tool { name: "stress-ng", install: "apt-get install stress-ng" };

/// Prometheus's checker of metrics pages, for the metrics checks.
pub const PROMTOOL: Tool = Tool { name: "promtool", install: "apt-get install prometheus" };

/// The emulator of `--controller qemu`.
pub const QEMU: Tool = Tool { name: "qemu-system-arm", install: "apt-get install qemu-system-arm" };

/// The firmware's log decoder, for `--controller qemu`.
pub const DEFMT_PRINT: Tool = Tool { name: "defmt-print", install: "cargo install defmt-print --locked" };

/// Directories searched besides `$PATH` (root's sbin directories are not
/// always on a test runner's path).
const SBIN: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// Where `cargo install` puts programs (`defmt-print`), not always on
/// `sudo`'s path.
fn cargo_bin() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin"))
}

/// Where `name` is installed, if it is.
#[must_use]
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN.iter().map(PathBuf::from))
        .chain(cargo_bin())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Checks that we are root and that every [`NEEDED`] tool is installed.
///
/// # Errors
///
/// [`RigError::NotRoot`], or [`RigError::MissingTool`] for the first
/// missing tool, saying how to install it.
pub fn preflight() -> Result<(), RigError> {
    if !nix::unistd::geteuid().is_root() {
        return Err(RigError::NotRoot);
    }
    for tool in NEEDED {
        if find(tool.name).is_none() {
            return Err(RigError::MissingTool { tool: tool.name, install: tool.install });
        }
    }
    Ok(())
}

/// A command for `program`, found on the path or in the sbin directories.
#[must_use]
pub fn command(program: &str) -> Command {
    let mut c = Command::new(find(program).unwrap_or_else(|| PathBuf::from(program)));
    c.stdin(Stdio::null());
    c
}

/// The command line, for messages.
#[must_use]
pub fn describe(c: &Command) -> String {
    let program = Path::new(c.get_program()).file_name().unwrap_or(c.get_program());
    std::iter::once(program).chain(c.get_args()).map(OsStr::to_string_lossy).collect::<Vec<_>>().join(" ")
}

/// Runs `c` to its end and returns its stdout.
///
/// # Errors
///
/// [`RigError::Command`] with the command line, the exit status and stderr.
pub fn run(c: &mut Command) -> Result<String, RigError> {
    let out = output(c)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(c, &out))
    }
}

/// Runs `c` to its end; any exit status is returned.
///
/// # Errors
///
/// [`RigError::Command`] when it cannot be started.
pub fn output(c: &mut Command) -> Result<Output, RigError> {
    c.output().map_err(|e| RigError::Command { command: describe(c), detail: format!("cannot start it: {e}") })
}

/// The error for a command that ended badly.
#[must_use]
pub fn failed(c: &Command, out: &Output) -> RigError {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stderr = stderr.trim();
    RigError::Command {
        command: describe(c),
        detail: if stderr.is_empty() { out.status.to_string() } else { format!("{}: {stderr}", out.status) },
    }
}

/// `ip` in network namespace `netns` (`None`: the rig's own).
#[must_use]
pub fn ip(netns: Option<&str>) -> Command {
    let mut c = command("ip");
    if let Some(ns) = netns {
        c.args(["-n", ns]);
    }
    c
}

/// Runs `ip -batch -` in `netns` with these lines: one process for many
/// changes, which matters on the power-off path.
///
/// # Errors
///
/// [`RigError::Command`] naming the namespace and the lines.
pub fn ip_batch(netns: Option<&str>, lines: &[String]) -> Result<(), RigError> {
    IpBatch::start(netns, lines)?.finish()
}

/// An `ip -batch` under way (see [`ip_batch`]): started, its lines
/// written, not yet waited for.
#[derive(Debug)]
pub struct IpBatch {
    child: std::process::Child,
    what: String,
}

impl IpBatch {
    /// Starts `ip -batch -` in `netns` and writes it `lines`.
    ///
    /// # Errors
    ///
    /// [`RigError::Command`] when `ip` cannot be started or fed.
    pub fn start(netns: Option<&str>, lines: &[String]) -> Result<Self, RigError> {
        use std::io::Write as _;
        let mut c = ip(netns);
        c.args(["-batch", "-"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        let described = describe(&c);
        let what = || format!("{described} <<< {}", lines.join("; "));
        let mut child =
            c.spawn().map_err(|e| RigError::Command { command: what(), detail: format!("cannot start it: {e}") })?;
        if let Some(mut stdin) = child.stdin.take() {
            let text = lines.join("\n") + "\n";
            stdin
                .write_all(text.as_bytes())
                .map_err(|e| RigError::Command { command: what(), detail: e.to_string() })?;
        }
        Ok(Self { child, what: what() })
    }

    /// The `ip` process (which enters the namespace it changes).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for it to end.
    ///
    /// # Errors
    ///
    /// [`RigError::Command`] when it failed, with what `ip` said.
    pub fn finish(self) -> Result<(), RigError> {
        let what = self.what;
        let out = self
            .child
            .wait_with_output()
            .map_err(|e| RigError::Command { command: what.clone(), detail: e.to_string() })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(RigError::Command {
                command: what,
                detail: format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim()),
            })
        }
    }
}
