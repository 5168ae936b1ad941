//! The server side of the control socket ([`crate::control`]): a
//! non-blocking Unix listener in the main loop's `poll` set, with its
//! connections. Lines are read whole (at most [`MAX_LINE`] bytes), parsed
//! at the edge, and answered in order: while a connection waits for the
//! controller's answer to a relayed request, its next lines wait too.
//!
//! The socket is created mode 0600 in its directory; an old socket file is
//! replaced (the lock the daemon holds proves no other agent uses it) and
//! the file is removed when the server is dropped.

use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use warden_control::{ControlReply, ControlRequest, ErrorKind, MAX_LINE};

/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 16;

/// What a connection asked.
#[derive(Debug)]
pub(crate) enum Asked {
    /// A valid request.
    Request(ControlRequest),
    /// A line that is not one; the reply says why.
    Invalid(String),
}

#[derive(Debug)]
struct Connection {
    id: u64,
    stream: UnixStream,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Waiting for the answer to a relayed request: read no further lines.
    waiting: bool,
    /// The peer closed its side, or the line was too long: close once the
    /// output is flushed.
    closing: bool,
}

/// The listening socket and its connections.
#[derive(Debug)]
pub(crate) struct ControlServer {
    listener: UnixListener,
    path: PathBuf,
    connections: Vec<Connection>,
    next_id: u64,
    rejects: u64,
}

impl ControlServer {
    /// Listens at `path` (mode 0600), creating its directory.
    pub(crate) fn bind(path: &Path) -> io::Result<Self> {
        let with_path = |e: io::Error| io::Error::new(e.kind(), format!("control socket {}: {e}", path.display()));
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(with_path)?;
        }
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(with_path(e)),
            _ => {}
        }
        let listener = UnixListener::bind(path).map_err(with_path)?;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(with_path)?;
        listener.set_nonblocking(true).map_err(with_path)?;
        Ok(Self { listener, path: path.to_owned(), connections: Vec::new(), next_id: 0, rejects: 0 })
    }

    /// Requests refused as malformed so far.
    pub(crate) fn rejects(&self) -> u64 {
        self.rejects
    }

    /// The listener's descriptor.
    pub(crate) fn listener_fd(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Each connection's descriptor and whether it has output waiting.
    pub(crate) fn connection_fds(&self) -> Vec<(u64, BorrowedFd<'_>, bool)> {
        self.connections.iter().map(|c| (c.id, c.stream.as_fd(), !c.output.is_empty())).collect()
    }

    /// Takes every pending connection.
    pub(crate) fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            if self.connections.len() >= MAX_CONNECTIONS || stream.set_nonblocking(true).is_err() {
                continue; // dropped: closed at once
            }
            self.next_id += 1;
            self.connections.push(Connection {
                id: self.next_id,
                stream,
                input: Vec::new(),
                output: Vec::new(),
                waiting: false,
                closing: false,
            });
        }
    }

    /// Reads what connection `id` sent.
    pub(crate) fn read(&mut self, id: u64) {
        let Some(c) = self.connections.iter_mut().find(|c| c.id == id) else { return };
        let mut buf = [0u8; 4096];
        loop {
            match c.stream.read(&mut buf) {
                Ok(0) => {
                    c.closing = true;
                    break;
                }
                Ok(n) => {
                    c.input.extend_from_slice(buf.get(..n).unwrap_or_default());
                    if c.input.len() > MAX_LINE && !c.input.contains(&b'\n') {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    c.closing = true;
                    c.input.clear();
                    break;
                }
            }
        }
    }

    /// The next complete line of every connection that is not waiting, parsed.
    pub(crate) fn take_requests(&mut self) -> Vec<(u64, Asked)> {
        let mut asked = Vec::new();
        for c in &mut self.connections {
            if c.waiting {
                continue;
            }
            let Some(end) = c.input.iter().position(|b| *b == b'\n') else {
                if c.input.len() > MAX_LINE {
                    c.input.clear();
                    c.closing = true;
                    self.rejects += 1;
                    asked.push((c.id, Asked::Invalid(format!("request line longer than {MAX_LINE} bytes"))));
                }
                continue;
            };
            let line: Vec<u8> = c.input.drain(..=end).collect();
            let text = String::from_utf8_lossy(line.get(..end).unwrap_or_default()).trim().to_owned();
            if text.is_empty() {
                continue;
            }
            let parsed = if line.len() > MAX_LINE + 1 {
                Asked::Invalid(format!("request line longer than {MAX_LINE} bytes"))
            } else {
                match serde_json::from_str::<ControlRequest>(&text) {
                    Ok(r) => Asked::Request(r),
                    Err(e) => Asked::Invalid(format!("not a request: {e}")),
                }
            };
            if matches!(parsed, Asked::Invalid(_)) {
                self.rejects += 1;
            }
            asked.push((c.id, parsed));
        }
        asked
    }

    /// Marks connection `id` as waiting for a relayed answer (or not).
    pub(crate) fn set_waiting(&mut self, id: u64, waiting: bool) {
        if let Some(c) = self.connections.iter_mut().find(|c| c.id == id) {
            c.waiting = waiting;
        }
    }

    /// Whether any connection has a complete line it can act on now.
    pub(crate) fn has_lines(&self) -> bool {
        self.connections.iter().any(|c| !c.waiting && (c.input.contains(&b'\n') || c.input.len() > MAX_LINE))
    }

    /// Queues `reply` for connection `id` and tries to send it.
    pub(crate) fn reply(&mut self, id: u64, reply: &ControlReply) {
        let Some(c) = self.connections.iter_mut().find(|c| c.id == id) else { return };
        let line = serde_json::to_string(reply).unwrap_or_else(|e| {
            serde_json::to_string(&ControlReply::Error { kind: ErrorKind::BadRequest, message: e.to_string() })
                .unwrap_or_default()
        });
        c.output.extend_from_slice(line.as_bytes());
        c.output.push(b'\n');
        self.flush(id);
    }

    /// Sends what connection `id` has queued, as far as it takes it.
    pub(crate) fn flush(&mut self, id: u64) {
        let Some(c) = self.connections.iter_mut().find(|c| c.id == id) else { return };
        while !c.output.is_empty() {
            match c.stream.write(&c.output) {
                Ok(0) => break,
                Ok(n) => {
                    c.output.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    c.output.clear();
                    c.closing = true;
                    break;
                }
            }
        }
    }

    /// Closes connections that are done (peer gone, nothing left to send,
    /// nothing awaited). Returns the ids of those that went away while a
    /// relayed request was still pending, so the caller forgets them.
    pub(crate) fn reap(&mut self) -> Vec<u64> {
        let mut gone = Vec::new();
        self.connections.retain(|c| {
            let done = c.closing && c.output.is_empty() && !c.waiting && !c.input.contains(&b'\n');
            let dropped = c.closing && c.waiting;
            if dropped {
                gone.push(c.id);
            }
            !(done || dropped)
        });
        gone
    }

    /// Answers every connection with `reply` (the daemon is stopping).
    pub(crate) fn close_all(&mut self, reply: &ControlReply) {
        let waiting: Vec<u64> = self.connections.iter().filter(|c| c.waiting).map(|c| c.id).collect();
        for id in waiting {
            self.reply(id, reply);
        }
        self.connections.clear();
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
