//! `warden-rig keeper`: the first process of a booted server. It stands
//! for the server's hardware and init, not for anything under test:
//!
//! * it enters the server's network namespace and makes the server's own
//!   mount namespace (mounts propagate in from the host, never out; `/sys`
//!   shows the server's interfaces), so the server's mounts are its own;
//! * it starts the agent there and reaps every process of the server (it
//!   is their subreaper), so a server's processes never become zombies of
//!   the rig;
//! * it lives until the server loses power, when the rig kills it last;
//! * it takes normal scheduling first: the rig's real-time priority is
//!   for its wires, not for what runs on the servers;
//! * it clears the signal mask it inherits from the rig (which blocks
//!   SIGINT and SIGTERM for its own signal thread): a server's first
//!   process starts with none blocked, as init does.
//!
//! It must run single-threaded until the namespaces are set up.

use std::ffi::OsString;
use std::fs::File;
use std::path::Path;
use std::process::Command;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};

use crate::RigError;

/// The environment variable that tells the service which server it runs on.
pub const SERVER_ENV: &str = "WARDEN_RIG_SERVER";

/// Sets up the server's namespaces, starts `program args` with
/// [`SERVER_ENV`] = `server`, and reaps until killed.
///
/// # Errors
///
/// [`RigError`] when a namespace or the program cannot be had.
pub fn run(netns: &Path, server: &str, program: &OsString, args: &[OsString]) -> Result<(), RigError> {
    nix::sys::signal::SigSet::all().thread_unblock().map_err(RigError::os("clearing the inherited signal mask"))?;
    super::realtime::normal_scheduling()
        .map_err(|e| RigError::Broken(format!("{server}'s keeper cannot take normal scheduling: {e}")))?;
    let file = File::open(netns).map_err(RigError::io(format!("opening {}", netns.display())))?;
    setns(file, CloneFlags::CLONE_NEWNET).map_err(RigError::os(format!("entering {}", netns.display())))?;
    unshare(CloneFlags::CLONE_NEWNS).map_err(RigError::os("making the server's mount namespace"))?;
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_SLAVE, None::<&str>)
        .map_err(RigError::os("making / a slave mount"))?;
    umount2("/sys", MntFlags::MNT_DETACH).map_err(RigError::os("detaching the host's /sys"))?;
    mount(Some("sysfs"), "/sys", Some("sysfs"), MsFlags::empty(), None::<&str>)
        .map_err(RigError::os("mounting the server's /sys"))?;
    nix::sys::prctl::set_child_subreaper(true).map_err(RigError::os("becoming the server's subreaper"))?;

    let agent = Command::new(program)
        .args(args)
        .env(SERVER_ENV, server)
        .spawn()
        .map_err(RigError::io(format!("starting {}", Path::new(program).display())))?;
    let agent = nix::unistd::Pid::from_raw(i32::try_from(agent.id()).unwrap_or(0));
    println!("keeper: {server} booted, agent pid {agent}");
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == agent => {
                println!("keeper: {server}: the agent exited with status {code}");
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == agent => {
                println!("keeper: {server}: the agent was killed by {signal}");
            }
            Ok(_) | Err(Errno::EINTR) => {}
            // No process left but this one: the server idles until its power goes.
            Err(_) => nix::unistd::pause(),
        }
    }
}
