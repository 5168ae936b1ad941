//! Finding and removing what a crashed run left behind: its network
//! namespaces (and the processes in them), its loop device, its run
//! directory, and processes started from its run directory. A prefix is a
//! leftover only when its run is over ([`Prefix::is_live`] is false), so a
//! run never takes another live run's things.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;

use super::netns::NETNS_DIR;
use super::prefix::Prefix;
use super::procs;
use super::tools::{self, ip};
use crate::RigError;

/// One thing left behind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Leftover {
    /// A network namespace.
    Netns(String),
    /// A loop device and its backing file.
    Loop {
        /// `/dev/loopN`.
        device: PathBuf,
        /// The image in a run directory.
        backing: PathBuf,
    },
    /// A run directory.
    RunDir(PathBuf),
    /// A disk image outside the run directory.
    Image(PathBuf),
    /// A process started from a run directory (a controller, an agent).
    Process {
        /// Its id.
        pid: i32,
        /// Its command line.
        cmdline: String,
    },
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Netns(name) => write!(f, "network namespace {name}"),
            Self::Loop { device, backing } => write!(f, "loop device {} ({})", device.display(), backing.display()),
            Self::RunDir(path) => write!(f, "directory {}", path.display()),
            Self::Image(path) => write!(f, "disk image {}", path.display()),
            Self::Process { pid, cmdline } => write!(f, "process {pid} ({cmdline})"),
        }
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The prefix of a namespace the rig names (`<prefix>-<role>`).
fn netns_prefix(name: &str) -> Option<Prefix> {
    Prefix::of(name).filter(|p| name.get(p.as_str().len()..).is_some_and(|rest| rest.starts_with('-')))
}

/// The prefix of a run directory (named exactly so, with its lock file).
fn run_dir_prefix(name: &str) -> Option<Prefix> {
    Prefix::of(name).filter(|p| p.as_str() == name && std::env::temp_dir().join(name).join("owner.lock").exists())
}

/// The prefix of a loop device's backing file: an image named after it
/// (`/dev/shm/<prefix>.img`, or `/dev/shm/<prefix>-<group>.img`) or in its
/// run directory.
fn image_prefix(backing: &Path) -> Option<Prefix> {
    let name = backing.file_name().and_then(|n| n.to_str());
    let stem = name
        .and_then(|n| n.strip_suffix(".img"))
        .map(|s| s.split_once('-').map_or(s, |(p, _)| p))
        .and_then(Prefix::of)
        .filter(|p| name.is_some_and(|n| n == format!("{p}.img") || n.starts_with(&format!("{p}-"))));
    stem.or_else(|| backing.parent().and_then(Path::file_name).and_then(|n| n.to_str()).and_then(Prefix::of))
}

/// Images named after a prefix in the shared-memory filesystem.
fn shm_images() -> Vec<(Prefix, PathBuf)> {
    names_in(Path::new(crate::hardware::disk::SHM))
        .into_iter()
        .map(|n| Path::new(crate::hardware::disk::SHM).join(n))
        .filter_map(|p| image_prefix(&p).filter(|_| p.extension().is_some_and(|e| e == "img")).map(|pre| (pre, p)))
        .collect()
}

/// The prefixes of runs that are over but left something.
fn dead_prefixes() -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for p in names_in(Path::new(NETNS_DIR)).iter().filter_map(|n| netns_prefix(n)) {
        seen.insert(p.as_str().to_owned());
    }
    for p in names_in(&std::env::temp_dir()).iter().filter_map(|n| run_dir_prefix(n)) {
        seen.insert(p.as_str().to_owned());
    }
    for (_, backing) in loop_devices() {
        if let Some(p) = image_prefix(&backing) {
            seen.insert(p.as_str().to_owned());
        }
    }
    for (p, _) in shm_images() {
        seen.insert(p.as_str().to_owned());
    }
    seen.into_iter().filter(|p| Prefix::of(p).is_some_and(|p| !p.is_live())).collect()
}

/// Every loop device with its backing file.
fn loop_devices() -> Vec<(PathBuf, PathBuf)> {
    names_in(Path::new("/sys/block"))
        .into_iter()
        .filter(|n| n.starts_with("loop"))
        .filter_map(|n| {
            let backing = std::fs::read_to_string(format!("/sys/block/{n}/loop/backing_file")).ok()?;
            Some((PathBuf::from("/dev").join(&n), PathBuf::from(backing.trim_end().trim_end_matches(" (deleted)"))))
        })
        .collect()
}

/// Everything runs that are over left behind.
#[must_use]
pub fn find() -> Vec<Leftover> {
    let dead = dead_prefixes();
    let mut found = Vec::new();
    if dead.is_empty() {
        return found;
    }
    let is_dead = |p: Option<Prefix>| p.is_some_and(|p| dead.contains(p.as_str()));
    for name in names_in(Path::new(NETNS_DIR)) {
        if is_dead(netns_prefix(&name)) {
            found.push(Leftover::Netns(name));
        }
    }
    for (device, backing) in loop_devices() {
        if is_dead(image_prefix(&backing)) {
            found.push(Leftover::Loop { device, backing });
        }
    }
    let dirs: Vec<PathBuf> = names_in(&std::env::temp_dir())
        .into_iter()
        .filter(|n| is_dead(run_dir_prefix(n)))
        .map(|n| std::env::temp_dir().join(n))
        .collect();
    for pid in names_in(Path::new("/proc")).iter().filter_map(|n| n.parse::<i32>().ok()) {
        let Some(cmdline) = procs::cmdline(nix::unistd::Pid::from_raw(pid)) else { continue };
        if dirs.iter().any(|d| cmdline.contains(&format!("{}/", d.display()))) {
            found.push(Leftover::Process { pid, cmdline });
        }
    }
    found.extend(dirs.into_iter().map(Leftover::RunDir));
    found.extend(
        shm_images().into_iter().filter(|(p, _)| is_dead(Some(p.clone()))).map(|(_, path)| Leftover::Image(path)),
    );
    found
}

/// Fails when runs that are over left something behind.
///
/// # Errors
///
/// [`RigError::Leftovers`] listing them.
pub fn refuse_if_any() -> Result<(), RigError> {
    let found = find();
    if found.is_empty() {
        Ok(())
    } else {
        Err(RigError::Leftovers(found.iter().map(ToString::to_string).collect()))
    }
}

/// Removes everything runs that are over left behind; returns what was
/// removed, and what could not be, with why.
#[must_use]
pub fn clean() -> (Vec<Leftover>, Vec<(Leftover, String)>) {
    let mut found = find();
    // Processes first (they hold namespaces and mounts), then namespaces,
    // loop devices, and the directories last.
    found.sort_by_key(|l| match l {
        Leftover::Process { .. } => 0,
        Leftover::Netns(_) => 1,
        Leftover::Loop { .. } => 2,
        Leftover::RunDir(_) | Leftover::Image(_) => 3,
    });
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    for item in found {
        let result = match &item {
            Leftover::Process { pid, .. } => {
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), Signal::SIGKILL).map_err(|e| e.to_string())
            }
            Leftover::Netns(name) => {
                let path = Path::new(NETNS_DIR).join(name);
                if let Some(inode) = procs::ns_inode(&path) {
                    procs::signal_all(&procs::in_netns(inode), None, Signal::SIGKILL);
                }
                tools::run(ip(None).args(["netns", "del", name])).map(drop).map_err(|e| e.to_string())
            }
            Leftover::Loop { device, .. } => {
                tools::run(tools::command("losetup").arg("-d").arg(device)).map(drop).map_err(|e| e.to_string())
            }
            Leftover::RunDir(path) => std::fs::remove_dir_all(path).map_err(|e| e.to_string()),
            Leftover::Image(path) => std::fs::remove_file(path).map_err(|e| e.to_string()),
        };
        match result {
            Ok(()) => removed.push(item),
            Err(why) => failed.push((item, why)),
        }
    }
    (removed, failed)
}
