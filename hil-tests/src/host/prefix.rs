//! The rig's naming scheme. Every name a run creates (network namespaces,
//! interfaces, the run directory with its sockets, logs and disk image)
//! starts with its prefix `wr<pid><letter><letter>` (the run's number in
//! this process, `aa`, `ab`, ...), so that a run never touches
//! another's things and a crashed run's leftovers can be found
//! ([`super::leftovers`]).
//!
//! The run directory holds `owner.lock`, locked for the run's whole life:
//! a prefix whose lock is free (or whose directory is gone) belongs to a
//! run that is over.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::fcntl::{Flock, FlockArg};

use crate::RigError;

/// Interface names are at most this long (`IFNAMSIZ - 1`).
const IFNAME_MAX: usize = 15;

/// Runs started by this process so far (the letters of the next one).
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Runs with distinct prefixes in one process; then they come round again
/// (a run's names are gone with it, long before).
const LETTERS: u32 = 26 * 26;

/// A run's prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Prefix(String);

impl Prefix {
    /// A prefix for a new run of this process.
    #[must_use]
    pub fn fresh() -> Self {
        let n = NEXT.fetch_add(1, Ordering::SeqCst) % LETTERS;
        let letter = |k: u32| char::from(b'a' + u8::try_from(k % 26).unwrap_or(0));
        Self(format!("wr{}{}{}", std::process::id(), letter(n / 26), letter(n)))
    }

    /// The prefix at the start of `name`, if it has the rig's shape
    /// (`wr`, digits, two lowercase letters).
    #[must_use]
    pub fn of(name: &str) -> Option<Self> {
        let rest = name.strip_prefix("wr")?;
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let letters = rest.as_bytes().get(digits..digits + 2)?;
        if digits == 0 || !letters.iter().all(u8::is_ascii_lowercase) {
            return None;
        }
        Some(Self(name.get(..2 + digits + 2)?.to_owned()))
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
        assert_eq!(Prefix::of("wr1234aa-alpha").map(|p| p.0), Some("wr1234aa".to_owned()));
        assert_eq!(Prefix::of("wr77bzn").map(|p| p.0), Some("wr77bz".to_owned()));
        assert_eq!(Prefix::of("wr1234"), None, "no letter");
        assert_eq!(Prefix::of("wr1234a"), None, "one letter");
        assert_eq!(Prefix::of("wraa"), None, "no pid");
        assert_eq!(Prefix::of("wr12aA"), None, "capital");
        assert_eq!(Prefix::of("wdn12x3"), None, "another scheme");
        let p = Prefix("wr4194304zz".to_owned());
        assert_eq!(p.interface("up").unwrap(), "wr4194304zzup");
        assert!(p.interface("toolongsuffix").is_err());
        assert_eq!(p.netns("client"), "wr4194304zz-client");
        // Past the letters, prefixes come round again; all have the shape.
        let names: Vec<String> = (0..LETTERS + 2).map(|_| Prefix::fresh().0).collect();
        assert!(names.iter().all(|n| Prefix::of(n).as_ref().map(Prefix::as_str) == Some(n.as_str())), "{names:?}");
        let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), LETTERS as usize);
    }
}
