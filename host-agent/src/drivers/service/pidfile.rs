//! A pid file that names one process unambiguously: its pid and its start
//! time (field 22 of `/proc/PID/stat`, in clock ticks since boot), so a
//! recycled pid is never taken for the process that wrote it.
//!
//! It lets a supervised command outlive the agent that started it (the
//! agent stops fail-static, holding everything) and still be found, probed
//! and stopped by the next agent or by `warden-agent debug-stop`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::drivers::process::is_alive;

/// A pid file at a path. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PidFile {
    path: PathBuf,
}

/// The start time of process `pid`, `None` when there is no such process.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain ") ", so split at the last one; the
    // fields after it start with field 3 (state), so field 22 is index 19.
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl PidFile {
    pub(crate) fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Records `pid` (with its start time), atomically.
    pub(crate) fn write(&self, pid: u32) -> io::Result<()> {
        let started = start_time(pid).ok_or_else(|| io::Error::other(format!("process {pid} is already gone")))?;
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension("pid.tmp");
        let mut file = fs::File::create(&tmp)?;
        writeln!(file, "{pid} {started}")?;
        file.sync_all()?;
        fs::rename(&tmp, &self.path)
    }

    /// The pid it names, if that process still runs (same pid, same start
    /// time, not a zombie).
    pub(crate) fn live(&self) -> Option<u32> {
        let text = fs::read_to_string(&self.path).ok()?;
        let mut words = text.split_whitespace();
        let pid: u32 = words.next()?.parse().ok()?;
        let started: u64 = words.next()?.parse().ok()?;
        (pid > 1 && start_time(pid) == Some(started) && is_alive(pid)).then_some(pid)
    }

    /// Removes it; a file already gone is fine.
    pub(crate) fn remove(&self) -> io::Result<()> {
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_a_live_process_and_refuses_a_recycled_or_garbled_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = PidFile::new(dir.path().join("x.pid"));
        assert_eq!(file.live(), None);
        let me = std::process::id();
        file.write(me).unwrap();
        assert_eq!(file.live(), Some(me));
        // Same pid, another start time: a recycled pid.
        let started = start_time(me).unwrap();
        fs::write(file.path(), format!("{me} {}\n", started + 1)).unwrap();
        assert_eq!(file.live(), None);
        for garbled in ["", "abc", "12", "1 0", "-5 7"] {
            fs::write(file.path(), garbled).unwrap();
            assert_eq!(file.live(), None, "{garbled:?}");
        }
        file.remove().unwrap();
        file.remove().unwrap();
        assert!(!file.path().exists());
    }
}
