//! Processes found by the network namespace they live in
//! (`/proc/PID/ns/net`), as a power relay that cuts a server finds every
//! process of that server. Only processes in the rig's own namespaces are
//! ever signalled.

use std::path::Path;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The inode that identifies a namespace file (`/run/netns/NAME`,
/// `/proc/PID/ns/net`).
#[must_use]
pub fn ns_inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// The processes whose network namespace is `inode`. Zombies have none
/// and are not listed.
#[must_use]
pub fn in_netns(inode: u64) -> Vec<Pid> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|pid| ns_inode(Path::new(&format!("/proc/{pid}/ns/net"))) == Some(inode))
        .map(Pid::from_raw)
        .collect()
}

/// The command name of `pid` (`/proc/PID/comm`).
#[must_use]
pub fn comm(pid: Pid) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim_end().to_owned())
}

/// The command line of `pid`, arguments joined by spaces.
#[must_use]
pub fn cmdline(pid: Pid) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(raw.split(|b| *b == 0).map(String::from_utf8_lossy).collect::<Vec<_>>().join(" ").trim_end().to_owned())
}

/// Sends `signal` to each of `pids` except `spare`; a process already gone
/// is not an error.
pub fn signal_all(pids: &[Pid], spare: Option<Pid>, signal: Signal) {
    for pid in pids.iter().filter(|p| Some(**p) != spare) {
        let _ = kill(*pid, signal);
    }
}

/// Whether `pid` is still a live (non-zombie) process.
#[must_use]
pub fn is_live(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.trim_start().chars().next()))
        .is_some_and(|state| state != Some('Z') && state != Some('X'))
}
