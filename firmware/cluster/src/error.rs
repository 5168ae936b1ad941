//! What is wrong with a configuration, and where.

use std::ops::Range;
use std::path::PathBuf;

use super::locate::{column_of, line_of, Index};

/// A configuration refused whole. `Display` names the file, the line and the
/// key: `cluster.toml:12: key `group[0].nodes[1]`: node `c` is not defined`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file (or the key file) could not be read.
    #[error("{origin}: cannot read {}: {source}", path.display())]
    Read {
        /// The configuration file, as named by the caller.
        origin: String,
        /// The file that could not be read.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not TOML.
    #[error("{origin}:{line}:{column}: TOML syntax: {message}")]
    Syntax {
        /// The configuration file, as named by the caller.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the TOML parser expected.
        message: String,
    },
    /// A key is missing, unknown, or holds a value that is refused.
    #[error("{origin}:{line}: key `{key}`: {message}")]
    Invalid {
        /// The configuration file, as named by the caller.
        origin: String,
        /// 1-based line of the key (or of its table when the key is missing).
        line: usize,
        /// Dotted key path, arrays by index: `group[0].resource[2].ip`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// The 1-based line the error points at, when it points at one.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Syntax { line, .. } | Self::Invalid { line, .. } => Some(*line),
            Self::Read { .. } => None,
        }
    }

    /// The key path the error is about, when it is about a key.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } => Some(key),
            Self::Read { .. } | Self::Syntax { .. } => None,
        }
    }
}

/// A problem found while checking, located by span; turned into a
/// [`ConfigError`] once the key path is looked up.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) span: Range<usize>,
    /// A key below the spanned item (for a key that is missing).
    pub(crate) below: Option<String>,
    pub(crate) message: String,
}

impl Problem {
    /// Something wrong with the item at `span`.
    pub(crate) fn at(span: Range<usize>, message: impl Into<String>) -> Self {
        Self { span, below: None, message: message.into() }
    }

    /// The key `key` of the table at `span` is missing (or wrong as a whole).
    pub(crate) fn below(span: Range<usize>, key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { span, below: Some(key.into()), message: message.into() }
    }

    pub(crate) fn into_error(self, text: &str, origin: &str, index: &Index) -> ConfigError {
        let mut key = index.path_at(&self.span);
        if let Some(below) = self.below {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(&below);
        }
        if key.is_empty() {
            key.push_str("(top level)");
        }
        ConfigError::Invalid {
            origin: origin.to_owned(),
            line: line_of(text, self.span.start),
            key,
            message: self.message,
        }
    }
}

/// Turns a serde error from `toml_edit` into a located error, rewording serde's
/// "field" into "key" so the message speaks the file's language.
pub(crate) fn from_toml(err: &toml_edit::de::Error, text: &str, origin: &str) -> ConfigError {
    let span = err.span().unwrap_or(0..0);
    let message = err.message().trim().to_owned();
    if let Some(rest) = message.strip_prefix("missing field `") {
        if let Some(name) = rest.strip_suffix('`') {
            let index = Index::new(text);
            let mut key = index.path_at(&span);
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(name);
            return ConfigError::Invalid {
                origin: origin.to_owned(),
                line: line_of(text, span.start),
                key,
                message: "is required but missing".to_owned(),
            };
        }
    }
    // A document the TOML grammar refuses has no key to name.
    if toml_edit::ImDocument::parse(text).is_err() {
        return ConfigError::Syntax {
            origin: origin.to_owned(),
            line: line_of(text, span.start),
            column: column_of(text, span.start),
            message: message.lines().next().unwrap_or_default().to_owned(),
        };
    }
    let message = if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let expected = expected
            .trim_start_matches(", ")
            .replace("expected one of", "known keys:")
            .replace("expected", "known key:");
        format!("unknown key `{name}` ({expected})")
    } else if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        format!("unknown value `{name}`{expected}")
    } else {
        message
    };
    Problem::at(span, message).into_error(text, origin, &Index::new(text))
}
