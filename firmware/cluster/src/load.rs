//! Reading a configuration: from text ([`parse`]) or from a file with its key
//! file checked too ([`load`]).

use std::path::{Path, PathBuf};

use super::error::{from_toml, ConfigError, Problem};
use super::key::read_key;
use super::locate::{line_of, Index};
use super::model::ClusterFile;
use super::raw;
use super::validate::validate;

/// Parses and checks a configuration given as text. `origin` names it in
/// errors (usually the file name). The key file is neither resolved nor read.
pub fn parse(text: &str, origin: &str) -> Result<ClusterFile, ConfigError> {
    let raw = raw::read(text).map_err(|e| from_toml(&e, text, origin))?;
    validate(&raw).map_err(|p: Problem| p.into_error(text, origin, &Index::new(text)))
}

/// Reads, parses and checks the configuration file at `path`, then checks
/// the key file: a relative `key_file` is taken from the configuration's
/// directory, and the file must be private to its owner (no group or other
/// permission bits), non-empty and at most [`super::MAX_KEY_LEN`] bytes.
pub fn load(path: &Path) -> Result<ClusterFile, ConfigError> {
    let (origin, text) = read_file(path)?;
    let mut config = parse(&text, &origin)?;
    if let Some(key_file) = config.cluster.key_file.as_mut() {
        beside(path, key_file);
        read_key(key_file).map_err(|e| {
            let line = Index::new(&text).span_of("cluster.key_file").map_or(1, |s| line_of(&text, s.start));
            ConfigError::Invalid {
                origin: origin.clone(),
                line,
                key: "cluster.key_file".to_owned(),
                message: e.to_string(),
            }
        })?;
    }
    Ok(config)
}

/// The text of the configuration file at `path`, and the name errors give
/// it.
pub(crate) fn read_file(path: &Path) -> Result<(String, String), ConfigError> {
    let origin = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((origin, text)),
        Err(source) => Err(ConfigError::Read { origin, path: path.to_owned(), source }),
    }
}

/// A relative path written in the file at `file` is taken from that file's
/// directory.
pub(crate) fn beside(file: &Path, written: &mut PathBuf) {
    if written.is_relative() {
        *written = file.parent().unwrap_or_else(|| Path::new(".")).join(&*written);
    }
}
