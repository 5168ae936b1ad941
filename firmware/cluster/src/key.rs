//! The key file (authkeys' role): private to its owner, as heartbeat
//! insisted, or refused.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use warden_core::wire::{Auth, Key};

use crate::model::{AuthKind, Cluster};

/// Largest key accepted: what a frame key can hold (one SHA-256 block),
/// so a key the agent and the controller could not use is refused at load.
pub const MAX_KEY_LEN: usize = warden_core::wire::MAX_KEY_LEN;

/// Why a key file is refused. Each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// It cannot be opened or read.
    #[error("key file {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// Group or others have some access to it.
    #[error("key file {} has mode {mode:04o}: it must not be accessible by group or others (chmod 600 {})", path.display(), path.display())]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// It is not a regular file.
    #[error("key file {} is not a regular file", path.display())]
    NotAFile {
        /// The file.
        path: PathBuf,
    },
    /// It holds nothing (after the trailing newline).
    #[error("key file {} is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// It is larger than [`MAX_KEY_LEN`].
    #[error("key file {} is larger than {MAX_KEY_LEN} bytes", path.display())]
    TooLong {
        /// The file.
        path: PathBuf,
    },
    /// `auth = "hmac"` and no `key_file` (a file checked by [`crate::load`]
    /// never gets here).
    #[error("auth is hmac but no key_file is given")]
    NoKeyFile,
    /// The wire refuses the key.
    #[error("key file {}: {reason}", path.display())]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why, in the wire's words.
        reason: String,
    },
}

/// The frame protection the cluster file chose, with its key read from the
/// key file: what every link of the cluster speaks.
///
/// # Errors
///
/// [`KeyError`] naming the key file, or [`KeyError::NoKeyFile`].
pub fn frame_auth(cluster: &Cluster) -> Result<Auth, KeyError> {
    match (cluster.auth, &cluster.key_file) {
        (AuthKind::Crc, _) => Ok(Auth::Crc),
        (AuthKind::Hmac, None) => Err(KeyError::NoKeyFile),
        (AuthKind::Hmac, Some(path)) => {
            let bytes = read_key(path)?;
            let key = Key::new(&bytes).map_err(|e| KeyError::Refused { path: path.clone(), reason: e.to_string() })?;
            Ok(Auth::Hmac(key))
        }
    }
}

/// Opens `path` and refuses it unless it is a regular file that group and
/// others cannot access (no bit of `0o077`). The check is made on the open
/// handle, so the file read is the file checked.
pub fn open_private(path: &Path) -> Result<File, KeyError> {
    let read = |error| KeyError::Read { path: path.to_owned(), error };
    let file = File::open(path).map_err(read)?;
    let meta = file.metadata().map_err(read)?;
    if !meta.is_file() {
        return Err(KeyError::NotAFile { path: path.to_owned() });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed { path: path.to_owned(), mode });
    }
    Ok(file)
}

/// Reads the cluster key: the file's bytes less one trailing newline.
pub fn read_key(path: &Path) -> Result<Vec<u8>, KeyError> {
    let file = open_private(path)?;
    let mut key = Vec::new();
    let limit = u64::try_from(MAX_KEY_LEN).unwrap_or(u64::MAX) + 2;
    file.take(limit).read_to_end(&mut key).map_err(|error| KeyError::Read { path: path.to_owned(), error })?;
    if key.ends_with(b"\n") {
        key.pop();
        if key.ends_with(b"\r") {
            key.pop();
        }
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong { path: path.to_owned() });
    }
    if key.is_empty() {
        return Err(KeyError::Empty { path: path.to_owned() });
    }
    Ok(key)
}
