//! The lock that says "an agent runs here": an `flock` on the lock file
//! next to the control socket ([`warden_cluster::AgentSettings::lock_file`]).
//! The daemon holds it for as long as it runs, and the debug commands for
//! as long as they run, so neither acts on the resources behind the other's
//! back. The kernel drops the lock when its holder dies, so a crashed agent
//! never leaves a stale one. The file holds the holder's pid and what it
//! is, for the message of whoever finds it taken.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// A held agent lock; dropping it releases it.
#[derive(Debug)]
pub struct AgentLock {
    _file: Flock<File>,
    path: PathBuf,
}

/// Why the lock could not be taken. Names the lock file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds it.
    #[error("{holder} holds {} (stop it first, or pass --force to act anyway)", path.display())]
    Held {
        /// The lock file.
        path: PathBuf,
        /// Who, as the file says (`warden-agent run (pid 1234)`).
        holder: String,
    },
    /// The lock file cannot be created or locked.
    #[error("lock file {}: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl AgentLock {
    /// Takes the lock at `path` without waiting, for `what` (`run`,
    /// `debug-start web`), creating the file (mode 0600) and its directory.
    pub fn acquire(path: &Path, what: &str) -> Result<Self, LockError> {
        let io_err = |source| LockError::Io { path: path.to_owned(), source };
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io_err)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(io_err)?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "another warden-agent".to_owned() } else { holder.to_owned() };
                return Err(LockError::Held { path: path.to_owned(), holder });
            }
            Err((_, errno)) => return Err(io_err(io::Error::from(errno))),
        };
        file.set_len(0).map_err(io_err)?;
        file.rewind().map_err(io_err)?;
        writeln!(*file, "warden-agent {what} (pid {})", std::process::id()).map_err(io_err)?;
        Ok(Self { _file: file, path: path.to_owned() })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_the_refusal_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run").join("agent.lock");
        let held = AgentLock::acquire(&path, "run").unwrap();
        assert_eq!(held.path(), path);
        // flock locks belong to open file descriptions: a second open in
        // the same process conflicts just as another process would.
        let err = AgentLock::acquire(&path, "debug-start web").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("warden-agent run (pid {}) holds {}", std::process::id(), path.display())),
            "{text}"
        );
        drop(held);
        let again = AgentLock::acquire(&path, "debug-start web").unwrap();
        assert!(fs::read_to_string(&path).unwrap().starts_with("warden-agent debug-start web (pid "));
        drop(again);
    }
}
