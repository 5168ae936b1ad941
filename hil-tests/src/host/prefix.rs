//! The rig's naming scheme. Every name a run creates (network namespaces,
//! interfaces, the run directory with its sockets, logs and disk image)
//! starts with its prefix `wr<pid><letter>`, so that a run never touches
//! another's things and a crashed run's leftovers can be found
//! ([`super::leftovers`]).
//!
//! The run directory holds `owner.lock`, locked for the run's whole life:
//! a prefix whose lock is free (or whose directory is gone) belongs to a
//! run that is over.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use nix::fcntl::{Flock, FlockArg};

use crate::RigError;

/// Interface names are at most this long (`IFNAMSIZ - 1`).
const IFNAME_MAX: usize = 15;

/// Runs started by this process so far (the letter of the next one).
static NEXT: AtomicU8 = AtomicU8::new(0);

/// A run's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Prefix(String);

impl Prefix {
    /// A prefix for a new run of this process.
    ///
    /// # Errors
    ///
    /// [`RigError::Broken`] after 26 runs in one process.
    pub fn new() -> Result<Self, RigError> {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        if n >= 26 {
            return Err(RigError::Broken("more than 26 rig runs in one process".into()));
        }
        Ok(Self(format!("wr{}{}", std::process::id(), char::from(b'a' + n))))
    }

    /// The prefix at the start of `name`, if it has the rig's shape
    /// (`wr`, digits, one lowercase letter).
    #[must_use]
    pub fn of(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("wr")?;
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let letter = rest.as_bytes().get(digits).copied()?;
        if digits == 0 || !letter.is_ascii_lowercase() {
            return None;
        }
        Some(Self(name.get(..2 + digits + 1)?.to_owned()))
    }

    /// The prefix itself.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A network namespace's name: `<prefix>-<role>`.
    #[must_use]
    pub fn netns(&self, role: &str) -> String {
        format!("{}-{role}", self.0)
    }

    /// An interface name: `<prefix><suffix>`.
    ///
    /// # Errors
    ///
    /// [`RigError::Broken`] when it would be longer than an interface name may be.
    pub fn interface(&self, suffix: &str) -> Result<String, RigError> {
        let name = format!("{}{suffix}", self.0);
        if name.len() > IFNAME_MAX {
            return Err(RigError::Broken(format!("interface name {name} is longer than {IFNAME_MAX} bytes")));
        }
        Ok(name)
    }

    /// The run directory: `$TMPDIR/<prefix>`.
    #[must_use]
    pub fn run_dir(&self) -> PathBuf {
        std::env::temp_dir().join(&self.0)
    }

    /// Whether the run that owns this prefix is still going (its run
    /// directory's lock is held).
    #[must_use]
    pub fn is_live(&self) -> bool {
        let Ok(file) = File::open(self.run_dir().join(OWNER_LOCK)) else { return false };
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(_released_on_drop) => false,
            Err((_, _)) => true,
        }
    }
}

impl std::fmt::Display for Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The lock file in a run directory.
const OWNER_LOCK: &str = "owner.lock";

/// A run directory, created with its owner lock held; removed (with
/// everything in it) when dropped.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    _lock: Flock<File>,
}

impl RunDir {
    /// Creates the run directory of `prefix` and locks it.
    ///
    /// # Errors
    ///
    /// [`RigError::Io`] naming the directory.
    pub fn create(prefix: &Prefix) -> Result<Self, RigError> {
        let path = prefix.run_dir();
        std::fs::create_dir(&path).map_err(RigError::io(format!("creating the run directory {}", path.display())))?;
        let lock_path = path.join(OWNER_LOCK);
        let file = File::create(&lock_path).map_err(RigError::io(format!("creating {}", lock_path.display())))?;
        let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map_err(|(_, e)| RigError::os(format!("locking {}", lock_path.display()))(e))?;
        Ok(Self { path, _lock: lock })
    }

    /// The directory.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path in it.
    #[must_use]
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_recognised_by_shape() {
        assert_eq!(Prefix::of("wr1234a-alpha").map(|p| p.0), Some("wr1234a".to_owned()));
        assert_eq!(Prefix::of("wr77bn").map(|p| p.0), Some("wr77b".to_owned()));
        assert_eq!(Prefix::of("wr1234"), None, "no letter");
        assert_eq!(Prefix::of("wra"), None, "no pid");
        assert_eq!(Prefix::of("wr12A"), None, "capital");
        assert_eq!(Prefix::of("wdn12x3"), None, "another scheme");
        let p = Prefix("wr4194304z".to_owned());
        assert_eq!(p.interface("s7").unwrap(), "wr4194304zs7");
        assert!(p.interface("toolongsuffix").is_err());
        assert_eq!(p.netns("client"), "wr4194304z-client");
    }
}
