//! Why an import is refused, and what it could not carry over.

use std::fmt;
use std::path::PathBuf;

use warden_cluster::{ConfigError, KeyError};

/// One of heartbeat's three files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// `ha.cf`.
    HaCf,
    /// `haresources`.
    Haresources,
    /// `authkeys`.
    Authkeys,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HaCf => "ha.cf",
            Self::Haresources => "haresources",
            Self::Authkeys => "authkeys",
        })
    }
}

/// A directive with no Warden equivalent. Reported, never silently dropped:
/// `ha.cf:LINE: directive `x` not mapped: why`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// The file it is in.
    pub file: Source,
    /// Its 1-based line.
    pub line: usize,
    /// The directive (for authkeys, `N method`; the key is never shown).
    pub directive: String,
    /// Why it is not carried over, and what to do instead.
    pub why: String,
}

impl fmt::Display for Unmapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: directive `{}` not mapped: {}", self.file, self.line, self.directive, self.why)
    }
}

/// An import that cannot produce a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// A file could not be read.
    #[error("{}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// `authkeys` is readable by group or others (or otherwise refused).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A line that must be understood is not.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file.
        file: Source,
        /// 1-based line (0 when the problem is the file as a whole).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// What the importer produced is refused by the configuration checks.
    #[error("the imported configuration is refused: {0}")]
    Refused(ConfigError),
}

impl From<ConfigError> for ImportError {
    fn from(e: ConfigError) -> Self {
        Self::Refused(e)
    }
}
