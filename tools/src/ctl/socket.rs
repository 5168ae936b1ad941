//! Which control socket `wardenctl` talks to: `--socket`, else the
//! `[agent]` table of `--config`, else `$WARDEN_SOCKET`, else the default.

use std::path::{Path, PathBuf};

use warden_cluster::{self as config, AgentSettings};

/// Where the socket path came from (said in errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketChoice {
    /// `--socket PATH`.
    Flag(PathBuf),
    /// The `[agent]` table of this configuration file.
    Config(PathBuf, PathBuf),
    /// `$WARDEN_SOCKET`.
    Env(PathBuf),
    /// The documented default.
    Default(PathBuf),
}

impl SocketChoice {
    /// The socket's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            Self::Flag(p) | Self::Config(_, p) | Self::Env(p) | Self::Default(p) => p,
        }
    }

    /// How the path was chosen, for messages.
    #[must_use]
    pub fn origin(&self) -> String {
        match self {
            Self::Flag(_) => "from --socket".into(),
            Self::Config(file, _) => format!("from the [agent] table of {}", file.display()),
            Self::Env(_) => "from WARDEN_SOCKET".into(),
            Self::Default(_) => "the default; use --socket or --config to choose another".into(),
        }
    }
}

/// Chooses the socket.
///
/// # Errors
///
/// The configuration file's error (file, line and key) when `config` is
/// given and cannot be read or is invalid.
pub fn choose_socket(
    socket: Option<&Path>,
    config_file: Option<&Path>,
    env: Option<&str>,
) -> Result<SocketChoice, config::ConfigError> {
    if let Some(p) = socket {
        return Ok(SocketChoice::Flag(p.to_owned()));
    }
    if let Some(file) = config_file {
        let text = std::fs::read_to_string(file).map_err(|source| config::ConfigError::Read {
            origin: file.display().to_string(),
            path: file.to_owned(),
            source,
        })?;
        let c = config::parse(&text, &file.display().to_string())?;
        return Ok(SocketChoice::Config(file.to_owned(), c.agent.socket));
    }
    if let Some(p) = env.filter(|p| !p.is_empty()) {
        return Ok(SocketChoice::Env(PathBuf::from(p)));
    }
    Ok(SocketChoice::Default(PathBuf::from(AgentSettings::DEFAULT_SOCKET)))
}
