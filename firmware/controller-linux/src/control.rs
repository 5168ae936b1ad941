//! The control socket: a unix stream socket (mode 0600) that answers
//! `status` as JSON and takes operator commands by node and group *names*.
//!
//! One request per line, one JSON answer per line:
//!
//! | request | answer |
//! |---|---|
//! | `status` | `{"ok":true,"status":{...}}` (see [`crate::report::status_json`]) |
//! | `table` | `{"ok":true,"table":"..."}`: the console status table |
//! | `history` | `{"ok":true,"history":{"total":N,"entries":[...]}}`: the last fences and unfences, newest first |
//! | `migrate GROUP NODE` | `{"ok":true}` or `{"ok":false,"error":"..."}` |
//! | `standby NODE`, `online NODE` | the same |
//! | `fence NODE`, `unfence NODE` | the same |
//!
//! A request that cannot be parsed is answered with an error naming what
//! was wrong and changes nothing; `ok: true` means the controller accepted
//! the command (it then takes effect through beats and relays).

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use warden_cluster::ClusterFile;
use warden_core::controller::{CommandError, OPERATOR_COMMANDS};
use warden_core::wire::Op;

/// Longest request line taken.
pub const MAX_REQUEST: usize = 1024;
/// Most clients connected at once; more are turned away.
pub const MAX_CLIENTS: usize = 16;

/// A parsed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The status as JSON.
    Status,
    /// The status table as text.
    Table,
    /// The fence history as JSON.
    History,
    /// An operator command for the controller.
    Op(Op),
}

/// Parses one request line, resolving names against the cluster; operator
/// commands in the core's grammar.
///
/// # Errors
///
/// What is wrong with it, naming the word at fault.
pub fn parse(line: &str, cluster: &ClusterFile) -> Result<Request, String> {
    let mut words = line.split_whitespace();
    let Some(verb) = words.next() else {
        return Err(format!("empty request; known requests: status, table, history, {OPERATOR_COMMANDS}"));
    };
    match Op::parse(verb, words.clone(), cluster) {
        Ok(Some(op)) => return Ok(Request::Op(op)),
        Ok(None) => {}
        Err(e @ CommandError::UnknownNode(_)) => {
            let known: Vec<&str> = cluster.nodes.iter().map(|n| n.name.as_str()).collect();
            return Err(format!("{e} (nodes: {})", known.join(", ")));
        }
        Err(e @ CommandError::UnknownGroup(_)) => {
            let known: Vec<&str> = cluster.groups.iter().map(|g| g.name.as_str()).collect();
            return Err(format!("{e} (groups: {})", known.join(", ")));
        }
        Err(e) => return Err(e.to_string()),
    }
    let request = match verb {
        "status" => Request::Status,
        "table" => Request::Table,
        "history" => Request::History,
        other => {
            return Err(format!(
                "unknown request `{other}`; known requests: status, table, history, {OPERATOR_COMMANDS}"
            ))
        }
    };
    if words.next().is_some() {
        return Err(format!("`{verb}` takes no argument"));
    }
    Ok(request)
}

/// A connected client and its unfinished line.
#[derive(Debug)]
struct Client {
    stream: UnixStream,
    pending: Vec<u8>,
}

/// The listening socket and its clients.
#[derive(Debug)]
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
    clients: Vec<Client>,
    /// Requests refused as malformed or too long.
    pub refused: u32,
}

/// Why the control socket could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// Another controller answers on the socket.
    #[error("control socket {}: another controller is answering on it", .0.display())]
    InUse(PathBuf),
    /// Something else than a socket is at the path.
    #[error("control socket {}: the path exists and is not a socket", .0.display())]
    NotASocket(PathBuf),
    /// The OS refused.
    #[error("control socket {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

impl ControlSocket {
    /// Binds `path` with mode 0600, replacing a stale socket left by a
    /// controller that died, but never a live one or a file that is not a
    /// socket.
    ///
    /// # Errors
    ///
    /// [`ControlError`] naming the path.
    pub fn bind(path: &Path) -> Result<Self, ControlError> {
        let io = |source| ControlError::Io { path: path.to_owned(), source };
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(ControlError::NotASocket(path.to_owned()));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(ControlError::InUse(path.to_owned()));
            }
            std::fs::remove_file(path).map_err(io)?;
        }
        // Created with no permission for group and others from the start.
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
        let bound = UnixListener::bind(path);
        nix::sys::stat::umask(old);
        let listener = bound.map_err(io)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        listener.set_nonblocking(true).map_err(io)?;
        Ok(Self { listener, path: path.to_owned(), clients: Vec::new(), refused: 0 })
    }

    /// The descriptors to wait on: the listener first, then the clients.
    pub fn poll_fds(&self) -> Vec<BorrowedFd<'_>> {
        std::iter::once(self.listener.as_fd()).chain(self.clients.iter().map(|c| c.stream.as_fd())).collect()
    }

    /// Accepts new clients and reads complete request lines; `answer` gets
    /// each line and returns the JSON answer written back.
    pub fn serve(&mut self, mut answer: impl FnMut(&str) -> serde_json::Value) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.clients.len() >= MAX_CLIENTS || stream.set_nonblocking(true).is_err() {
                        let mut s = stream;
                        let _ = write_answer(&mut s, &serde_json::json!({"ok": false, "error": "too many clients"}));
                        continue;
                    }
                    self.clients.push(Client { stream, pending: Vec::new() });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let mut refused = 0;
        self.clients.retain_mut(|client| {
            let mut buf = [0u8; 512];
            let open = loop {
                match client.stream.read(&mut buf) {
                    Ok(0) => break false,
                    Ok(n) => client.pending.extend_from_slice(buf.get(..n).unwrap_or_default()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break false,
                }
            };
            while let Some(end) = client.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = client.pending.drain(..=end).collect();
                let reply = match std::str::from_utf8(&line) {
                    Ok(text) if line.len() <= MAX_REQUEST => answer(text.trim()),
                    _ => {
                        refused += 1;
                        serde_json::json!({"ok": false, "error": "request is not UTF-8 text or is too long"})
                    }
                };
                if write_answer(&mut client.stream, &reply).is_err() {
                    return false;
                }
            }
            if client.pending.len() > MAX_REQUEST {
                refused += 1;
                let error = format!("request longer than {MAX_REQUEST} bytes");
                let _ = write_answer(&mut client.stream, &serde_json::json!({"ok": false, "error": error}));
                return false;
            }
            open
        });
        self.refused = self.refused.saturating_add(refused);
    }
}

/// How long a client may take to accept an answer before it is dropped.
const ANSWER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Writes one answer line in one piece (a line written in many small
/// pieces can fill a unix socket's buffer with overhead), waiting at most
/// [`ANSWER_TIMEOUT`] for a slow client.
fn write_answer(stream: &mut UnixStream, answer: &serde_json::Value) -> io::Result<()> {
    let mut text = answer.to_string();
    text.push('\n');
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    let written = stream.write_all(text.as_bytes());
    stream.set_nonblocking(true)?;
    written
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use warden_core::{GroupId, NodeId};

    use super::*;

    #[test]
    fn requests_by_name() {
        let cluster = crate::fixture::cluster();
        let good: &[(&str, Request)] = &[
            ("status", Request::Status),
            ("  table ", Request::Table),
            ("history", Request::History),
            ("migrate web beta", Request::Op(Op::Migrate { group: GroupId(0), node: NodeId(1) })),
            ("standby alpha", Request::Op(Op::Standby { node: NodeId(0) })),
            ("online alpha", Request::Op(Op::Online { node: NodeId(0) })),
            ("fence beta", Request::Op(Op::Fence { node: NodeId(1) })),
            ("unfence beta", Request::Op(Op::Unfence { node: NodeId(1) })),
        ];
        for (line, want) in good {
            assert_eq!(parse(line, &cluster), Ok(*want), "{line}");
        }
        let bad: &[(&str, &str)] = &[
            ("", "empty request; known requests: status, table, history, migrate GROUP NODE, standby NODE, online NODE, fence NODE, unfence NODE"),
            ("reboot alpha", "unknown request `reboot`; known requests: status, table, history, migrate GROUP NODE, standby NODE, online NODE, fence NODE, unfence NODE"),
            ("migrate web", "`migrate` takes a group and a node: migrate GROUP NODE"),
            ("migrate db alpha", "unknown group `db` (groups: web)"),
            ("migrate web gamma", "unknown node `gamma` (nodes: alpha, beta)"),
            ("fence", "`fence` takes one node: fence NODE"),
            ("unfence alpha beta", "`unfence` takes one node: unfence NODE"),
            ("status now", "`status` takes no argument"),
            ("fence 0", "unknown node `0` (nodes: alpha, beta)"),
        ];
        for (line, want) in bad {
            assert_eq!(parse(line, &cluster).unwrap_err(), *want, "{line:?}");
        }
    }

    #[test]
    fn the_socket_is_private_and_a_live_one_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sock");
        let first = ControlSocket::bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(matches!(ControlSocket::bind(&path), Err(ControlError::InUse(_))));
        // A socket left by a controller that died is replaced.
        std::mem::forget(first);
        let listener_gone = UnixListener::bind(dir.path().join("other.sock")).unwrap();
        drop(listener_gone);
        let stale = dir.path().join("other.sock");
        assert!(ControlSocket::bind(&stale).is_ok());
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        assert!(matches!(ControlSocket::bind(&file), Err(ControlError::NotASocket(_))));
    }
}
