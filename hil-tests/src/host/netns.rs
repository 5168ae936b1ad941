//! Named network namespaces (`ip netns add`), deleted when dropped.

use std::fs::File;
use std::path::PathBuf;

use nix::sched::{setns, CloneFlags};

use super::procs;
use super::tools::{self, ip};
use crate::RigError;

/// Where `ip netns` keeps its namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// A network namespace the rig created.
#[derive(Debug)]
pub struct Netns {
    name: String,
    inode: u64,
}

impl Netns {
    /// Creates the namespace `name` with its loopback up.
    ///
    /// # Errors
    ///
    /// [`RigError::Command`] when `ip` refuses.
    pub fn create(name: &str) -> Result<Self, RigError> {
        tools::run(ip(None).args(["netns", "add", name]))?;
        let path = PathBuf::from(NETNS_DIR).join(name);
        let Some(inode) = procs::ns_inode(&path) else {
            let _ = tools::run(ip(None).args(["netns", "del", name]));
            return Err(RigError::Broken(format!(
                "network namespace {name} was added but {} is not there",
                path.display()
            )));
        };
        let ns = Self { name: name.to_owned(), inode };
        tools::run(ip(Some(name)).args(["link", "set", "lo", "up"]))?;
        Ok(ns)
    }

    /// Its name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its file (`/run/netns/NAME`).
    #[must_use]
    pub fn path(&self) -> PathBuf {
        PathBuf::from(NETNS_DIR).join(&self.name)
    }

    /// The inode that identifies it in `/proc/PID/ns/net`.
    #[must_use]
    pub fn inode(&self) -> u64 {
        self.inode
    }

    /// Moves the calling thread into it (for the rest of the thread's life;
    /// sockets the thread opens from then on belong to it).
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] naming the namespace.
    pub fn enter(&self) -> Result<(), RigError> {
        enter_path(&self.path())
    }
}

/// Moves the calling thread into the network namespace at `path`.
///
/// # Errors
///
/// [`RigError::Io`] naming the namespace.
pub fn enter_path(path: &std::path::Path) -> Result<(), RigError> {
    let file = File::open(path).map_err(RigError::io(format!("opening network namespace {}", path.display())))?;
    setns(file, CloneFlags::CLONE_NEWNET)
        .map_err(RigError::os(format!("entering network namespace {}", path.display())))
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Nothing of ours may outlive it: a process left in it would keep it alive.
        let pids = procs::in_netns(self.inode);
        procs::signal_all(&pids, None, nix::sys::signal::Signal::SIGKILL);
        let _ = tools::run(ip(None).args(["netns", "del", &self.name]));
    }
}
