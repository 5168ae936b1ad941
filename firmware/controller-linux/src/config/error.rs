//! What is wrong with a controller configuration, and where.

/// A controller configuration refused whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read: {source}")]
    Read {
        /// The file.
        origin: String,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not TOML.
    #[error("{origin}:{line}:{column}: TOML syntax: {message}")]
    Syntax {
        /// The file.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// A key is missing, unknown, or refused.
    #[error("{origin}:{line}: key `{key}`: {message}")]
    Invalid {
        /// The file.
        origin: String,
        /// 1-based line of the key (or of its table when it is missing).
        line: usize,
        /// Dotted key path, arrays by index: `node[1].relay.line`.
        key: String,
        /// What is wrong.
        message: String,
    },
}
