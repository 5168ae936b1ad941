//! Reading a configuration: from text ([`parse`]) or from a file with its key
//! file checked too ([`load`]).

use std::path::Path;

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
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        origin: origin.clone(),
        path: path.to_owned(),
        source,
    })?;
    let mut config = parse(&text, &origin)?;
    if let Some(key_file) = config.cluster.key_file.as_mut() {
        if key_file.is_relative() {
            let dir = path.parent().unwrap_or_else(|| Path::new("."));
            *key_file = dir.join(&*key_file);
        }
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
