//! Pacemaker's fencer on the rig's network, as Pacemaker's own regression
//! test (`cts-fencing`) runs it: a one-node Corosync on loopback and
//! `pacemaker-fenced --stand-alone-w-cpg` beside it, in a network
//! namespace the rig made and a mount namespace of their own.
//!
//! Pacemaker runs fence agents from `/usr/sbin` only. The fencer's mount
//! namespace lays a read-only overlay on `/usr/sbin` with `fence_warden`
//! on top, so the host's `/usr/sbin` is never written; Corosync's state
//! directory is a tmpfs there. `stonith_admin` runs in the fencer's own
//! namespaces (`nsenter`), as a Pacemaker node's operator would.
//!
//! Both daemons are ended by their process ids when the fencer is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::tools::{self, Tool};
use crate::RigError;

/// What the fencer needs, and where it comes from.
pub const NEEDED: &[Tool] = &[
    Tool { name: "stonith_admin", install: "apt-get install pacemaker-cli-utils" },
    Tool { name: "corosync", install: "apt-get install corosync" },
    Tool { name: "corosync-cfgtool", install: "apt-get install corosync" },
    Tool { name: "nsenter", install: "apt-get install util-linux" },
    Tool { name: "unshare", install: "apt-get install util-linux" },
];

/// The fencer daemon (not on `$PATH`).
pub const FENCED: &str = "/usr/lib/pacemaker/pacemaker-fenced";

/// Longest wait for the daemons to come up: a bound, not a timing goal.
const BOUND: Duration = Duration::from_secs(60);

/// The running fencer and its Corosync.
#[derive(Debug)]
pub struct Fencer {
    child: Child,
    dir: PathBuf,
}

/// The Corosync configuration: one node on loopback (`cts-fencing`'s).
fn corosync_conf(log: &Path) -> String {
    format!(
        "totem {{\n    version: 2\n    cluster_name: warden-rig\n    crypto_cipher: none\n    crypto_hash: none\n    \
         transport: udp\n}}\n\nnodelist {{\n    node {{\n        nodeid: 1\n        name: fencer\n        \
         ring0_addr: 127.0.0.1\n    }}\n}}\n\nlogging {{\n    to_syslog: no\n    to_stderr: no\n    to_logfile: yes\n    \
         logfile: {}\n}}\n",
        log.display()
    )
}

impl Fencer {
    /// Starts Corosync and the fencer in network namespace `netns`, with
    /// `agent` installed as `/usr/sbin/fence_warden` for them; their files
    /// go to `dir`. Returns once `stonith_admin` is answered.
    ///
    /// # Errors
    ///
    /// [`RigError::MissingTool`] naming what to install, or
    /// [`RigError::Broken`] with the fencer's log when it never answers.
    pub fn start(netns: &str, dir: &Path, agent: &Path) -> Result<Self, RigError> {
        for tool in NEEDED {
            if tools::find(tool.name).is_none() {
                return Err(RigError::MissingTool { tool: tool.name, install: tool.install });
            }
        }
        if !Path::new(FENCED).is_file() {
            return Err(RigError::MissingTool { tool: "pacemaker-fenced", install: "apt-get install pacemaker" });
        }
        let sbin = dir.join("sbin");
        std::fs::create_dir_all(&sbin).map_err(RigError::io(format!("creating {}", sbin.display())))?;
        let installed = sbin.join("fence_warden");
        std::fs::copy(agent, &installed).map_err(RigError::io(format!(
            "copying {} to {}",
            agent.display(),
            installed.display()
        )))?;
        let conf = dir.join("corosync.conf");
        std::fs::write(&conf, corosync_conf(&dir.join("corosync.log")))
            .map_err(RigError::io(format!("writing {}", conf.display())))?;
        let corosync_pid = dir.join("corosync.pid");
        // One shell in the new mount namespace: the overlay, Corosync in the
        // background (its pid written down), a wait for it to answer, then
        // the fencer in the shell's place.
        let script = format!(
            "set -e\n\
             mount -t overlay warden-rig-sbin -o lowerdir={sbin}:/usr/sbin /usr/sbin\n\
             mount -t tmpfs warden-rig-corosync /var/lib/corosync\n\
             COROSYNC_MAIN_CONFIG_FILE={conf} corosync -f >{dir}/corosync.out 2>&1 &\n\
             echo $! > {pid}\n\
             until corosync-cfgtool -s >/dev/null 2>&1; do\n\
               kill -0 $! 2>/dev/null || {{ echo 'corosync exited' >&2; exit 1; }}\n\
               sleep 0.05\n\
             done\n\
             exec {fenced} --stand-alone-w-cpg --logfile {dir}/fenced.log\n",
            sbin = sbin.display(),
            conf = conf.display(),
            dir = dir.display(),
            pid = corosync_pid.display(),
            fenced = FENCED,
        );
        let out = std::fs::File::create(dir.join("fenced.out")).map_err(RigError::io("creating fenced.out"))?;
        let err = out.try_clone().map_err(RigError::io("creating fenced.out"))?;
        let child = tools::command("ip")
            .args(["netns", "exec", netns, "unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", &script])
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(RigError::io("starting Corosync and pacemaker-fenced"))?;
        let mut fencer = Self { child, dir: dir.to_owned() };
        let since = Instant::now();
        loop {
            if let Ok(Some(status)) = fencer.child.try_wait() {
                return Err(RigError::Broken(format!(
                    "pacemaker-fenced (or Corosync before it) exited ({status}):\n{}",
                    fencer.logs()
                )));
            }
            // The fencer answers once it has its Corosync connection.
            if fencer.admin(&["--list-registered"]).is_ok_and(|o| o.status.success()) {
                return Ok(fencer);
            }
            if since.elapsed() > BOUND {
                return Err(RigError::Broken(format!(
                    "pacemaker-fenced did not answer stonith_admin within {} s:\n{}",
                    BOUND.as_secs(),
                    fencer.logs()
                )));
            }
        }
    }

    /// Runs `stonith_admin ARGS` in the fencer's namespaces.
    ///
    /// # Errors
    ///
    /// [`RigError::Command`] when it cannot be started.
    pub fn admin(&self, args: &[&str]) -> Result<Output, RigError> {
        let pid = self.child.id().to_string();
        let mut c = tools::command("nsenter");
        c.args(["--target", &pid, "--mount", "--net", "stonith_admin"]).args(args).stdin(Stdio::null());
        tools::output(&mut c)
    }

    /// Runs `fence_warden` as the fencer would (its namespaces, options on
    /// stdin), for the checks Pacemaker does not make itself.
    ///
    /// # Errors
    ///
    /// [`RigError::Command`] when it cannot be started.
    pub fn agent(&self, stdin: &str) -> Result<Output, RigError> {
        use std::io::Write as _;
        let pid = self.child.id().to_string();
        let mut c = tools::command("nsenter");
        c.args(["--target", &pid, "--mount", "--net", "/usr/sbin/fence_warden"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .map_err(|e| RigError::Command { command: tools::describe(&c), detail: format!("cannot start it: {e}") })?;
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin.as_bytes());
        }
        child.wait_with_output().map_err(|e| RigError::Command { command: tools::describe(&c), detail: e.to_string() })
    }

    /// The fencer's process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The end of the fencer's and Corosync's logs.
    #[must_use]
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for name in ["fenced.out", "fenced.log", "corosync.out", "corosync.log"] {
            let text = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines.get(lines.len().saturating_sub(30)..).unwrap_or_default();
            if !tail.is_empty() {
                out.push_str(&format!("--- {name} (end)\n{}\n", tail.join("\n")));
            }
        }
        out
    }
}

impl Drop for Fencer {
    fn drop(&mut self) {
        let corosync = std::fs::read_to_string(self.dir.join("corosync.pid")).ok();
        let _ = kill(Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(0)), Signal::SIGTERM);
        let _ = self.child.wait();
        if let Some(pid) = corosync.and_then(|p| p.trim().parse::<i32>().ok()) {
            let pid = Pid::from_raw(pid);
            // Ours only if it is still Corosync (the id is not reused yet).
            if super::procs::comm(pid).is_some_and(|c| c == "corosync") {
                let _ = kill(pid, Signal::SIGTERM);
            }
        }
    }
}

/// fence-agents' schema of an agent's metadata (Debian's `fence-agents`).
pub const METADATA_SCHEMA: &str = "/usr/share/cluster/relaxng/metadata.rng";

/// Checks `xml` against [`METADATA_SCHEMA`] with `xmllint`: what it said.
///
/// # Errors
///
/// What is missing (and how to install it), or what `xmllint` refused.
pub fn validate_metadata(xml: &str) -> Result<String, String> {
    use std::io::Write as _;
    if tools::find("xmllint").is_none() {
        return Err("missing `xmllint`: install it with `apt-get install libxml2-utils`".to_owned());
    }
    if !Path::new(METADATA_SCHEMA).is_file() {
        return Err(format!("missing {METADATA_SCHEMA}: install it with `apt-get install fence-agents`"));
    }
    let mut c = tools::command("xmllint");
    c.args(["--noout", "--relaxng", METADATA_SCHEMA, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| format!("xmllint: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(xml.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| format!("xmllint: {e}"))?;
    let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if out.status.success() {
        Ok(said)
    } else {
        Err(said)
    }
}
