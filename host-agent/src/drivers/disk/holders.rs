//! Finding and ending the processes that hold a mounted filesystem.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A process using something on the filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its pid.
    pub pid: u32,
    /// Its command name.
    pub comm: String,
    /// Its scheduler state when last looked at (`D` cannot be killed until
    /// the kernel lets go of it).
    pub state: char,
    /// Its start time since boot (clock ticks), to tell it from a later
    /// process that reuses the pid.
    start: u64,
}

impl Holder {
    /// `1234 (sleep, state S)`, for messages.
    pub fn describe(&self) -> String {
        format!("{} ({}, state {})", self.pid, self.comm, self.state)
    }
}

/// Command name, state and start time from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(String, char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    // starttime is field 22 of stat; `rest` began at field 3 (state).
    let start = rest.nth(18)?.parse().ok()?;
    Some((comm, state, start))
}

fn is_under(path: &Path, mount_point: &Path) -> bool {
    path.starts_with(mount_point)
}

/// The target of a `/proc/PID/...` link, without a ` (deleted)` suffix.
fn link_target(link: &Path) -> Option<PathBuf> {
    let target = fs::read_link(link).ok()?;
    let text = target.to_string_lossy();
    Some(match text.strip_suffix(" (deleted)") {
        Some(stripped) => PathBuf::from(stripped),
        None => target,
    })
}

/// Whether a `/proc/PID/maps` text maps a file of the device `dev`.
fn maps_device(maps: &str, dev: (u32, u32)) -> bool {
    maps.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let Some(device) = fields.nth(3) else {
            return false;
        };
        let inode = fields.next().unwrap_or("0");
        let Some((major, minor)) = device.split_once(':') else {
            return false;
        };
        inode != "0"
            && u32::from_str_radix(major, 16).ok() == Some(dev.0)
            && u32::from_str_radix(minor, 16).ok() == Some(dev.1)
    })
}

/// Whether process `pid` uses something under `mount_point` (a filesystem
/// whose `st_dev` is `dev`): its working directory, root, executable, an
/// open file, or a mapped file.
///
/// Paths are compared as the agent sees them, so a process in another mount
/// namespace may be missed; its hold then shows as `EBUSY` from `umount`,
/// which is reported, never hidden.
fn holds(pid: u32, mount_point: &Path, dev: (u32, u32)) -> bool {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let by_link = ["cwd", "root", "exe"]
        .iter()
        .filter_map(|name| link_target(&base.join(name)))
        .any(|target| is_under(&target, mount_point));
    if by_link {
        return true;
    }
    if let Ok(fds) = fs::read_dir(base.join("fd")) {
        let open = fds.flatten().filter_map(|fd| link_target(&fd.path())).any(|target| is_under(&target, mount_point));
        if open {
            return true;
        }
    }
    fs::read_to_string(base.join("maps")).is_ok_and(|maps| maps_device(&maps, dev))
}

/// Every process (but the agent itself) that holds the filesystem mounted
/// at `mount_point` with device number `dev`.
pub(super) fn find(mount_point: &Path, dev: (u32, u32)) -> Vec<Holder> {
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut holders: Vec<Holder> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|&pid| pid != me)
        .filter(|&pid| holds(pid, mount_point, dev))
        .filter_map(|pid| {
            let (comm, state, start) = stat(pid)?;
            // A zombie holds nothing any more.
            (state != 'Z').then_some(Holder { pid, comm, state, start })
        })
        .collect();
    holders.sort_by_key(|h| h.pid);
    holders
}

/// Whether `holder` is still that same process and has not exited.
fn alive(holder: &Holder) -> Option<char> {
    let (_, state, start) = stat(holder.pid)?;
    (start == holder.start && state != 'Z' && state != 'X').then_some(state)
}

/// Sends `signal` to every holder that is still the same process.
pub(super) fn signal(holders: &[Holder], signal: Signal) {
    for holder in holders {
        if alive(holder).is_some() {
            if let Ok(raw) = i32::try_from(holder.pid) {
                let _ = kill(Pid::from_raw(raw), signal);
            }
        }
    }
}

/// Waits until every holder has exited or `limit` has passed; returns those
/// still alive, with their current state.
pub(super) fn wait_gone(holders: &[Holder], limit: Duration) -> Vec<Holder> {
    let deadline = Instant::now() + limit;
    loop {
        let survivors: Vec<Holder> =
            holders.iter().filter_map(|h| alive(h).map(|state| Holder { state, ..h.clone() })).collect();
        let now = Instant::now();
        if survivors.is_empty() || now >= deadline {
            return survivors;
        }
        thread::sleep(Duration::from_millis(10).min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_match_by_device() {
        let maps = "7f00-7f01 r--p 00000000 07:03 12 /mnt/data/lib.so\n7f02-7f03 rw-p 00000000 00:00 0 [heap]\n";
        assert!(maps_device(maps, (7, 3)));
        assert!(!maps_device(maps, (7, 4)));
        assert!(!maps_device("7f02-7f03 rw-p 00000000 00:00 0\n", (0, 0)));
    }

    #[test]
    fn reads_our_own_stat() {
        let (_, state, start) = stat(std::process::id()).unwrap();
        assert!(matches!(state, 'R' | 'S'));
        assert!(start > 0);
        assert!(is_under(Path::new("/mnt/data/x"), Path::new("/mnt/data")));
        assert!(!is_under(Path::new("/mnt/database"), Path::new("/mnt/data")));
    }
}
