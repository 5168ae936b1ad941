//! The operator endpoint (`[controller] operator = "IP:PORT"`): operator
//! requests over UDP from hosts that run no Warden agent, such as a
//! Pacemaker node's fence agent (`fence_warden`) or `wardenctl
//! --controller`.
//!
//! The frames, sessions and replay protection are the agents' links' own,
//! under the cluster key: every datagram is one frame; its header names
//! [`NodeId::OPERATOR`], not a server. Each client address has a session
//! of its own ([`Responder`], at most [`MAX_SESSIONS`], the least recently
//! used one given up for a new client). A `Hello` opens it and is answered
//! with `Reply { id: 0, outcome: Ok }`; then each `Request` is answered
//! with a `Reply`, or a `Summary` for `Describe`.
//!
//! * A request is carried out at most once. A client that lost the answer
//!   sends the same frame again (same sequence number): it gets the same
//!   answer again, and nothing is done twice.
//! * A datagram that fails authentication is refused and counted, and
//!   answered with the bare bytes [`AUTH_REFUSED`] (not a frame: there is no
//!   key to seal it with), so that the client can say its key differs
//!   instead of "no answer". The answer is shorter than any frame that
//!   earns it, at most [`AUTH_ANSWERS_PER_SECOND`] a second.
//! * Every other refusal (not a frame, another node's header, a session
//!   rule, a body an operator does not send) is counted and not answered.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};

use warden_core::wire::{decode, encode, Auth, Body, FrameError, Message, Op, Reply, Responder, MAX_FRAME};
use warden_core::NodeId;

/// What answers a frame that failed authentication.
pub const AUTH_REFUSED: &[u8] = b"WARDEN-REFUSED auth";
/// Most answers [`AUTH_REFUSED`] a second.
pub const AUTH_ANSWERS_PER_SECOND: u32 = 10;
/// Most client sessions kept at once.
pub const MAX_SESSIONS: usize = 16;
/// Datagrams read per wake-up, so that a flood cannot hold the main loop.
const READS_PER_WAKE: usize = 32;

/// Counters of the endpoint. They saturate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OperatorStats {
    /// Sessions opened (a `Hello` with a new nonce).
    pub sessions: u64,
    /// Requests carried out (and answered).
    pub requests: u64,
    /// Answers sent again for a request repeated after a lost answer.
    pub resent: u64,
    /// Datagrams that failed authentication (wrong key, or corrupted).
    pub refused_auth: u64,
    /// Datagrams that are not a frame at all, or of another version.
    pub refused_frame: u64,
    /// Authentic frames whose header names a server, not the operator.
    pub refused_node: u64,
    /// Authentic frames refused by the session rules (a replay, an old
    /// session, no `Hello` yet).
    pub refused_session: u64,
    /// Authentic frames with a body an operator does not send.
    pub refused_body: u64,
}

/// One client's session.
#[derive(Debug)]
struct Session {
    peer: SocketAddr,
    responder: Responder,
    /// The last request answered: its sequence number and the answer sent.
    answered: Option<(u64, Vec<u8>)>,
    used: std::time::Instant,
}

/// The bound endpoint and its sessions.
#[derive(Debug)]
pub struct OperatorPort {
    socket: UdpSocket,
    listen: SocketAddr,
    sessions: Vec<Session>,
    /// The next session's first nonce: random at start, then moved on.
    next_nonce: u64,
    auth_answers: (std::time::Instant, u32),
    /// What it counted.
    pub stats: OperatorStats,
}

impl OperatorPort {
    /// Binds `listen` (non-blocking). `seed` starts the sessions' nonces:
    /// take it from a random source.
    ///
    /// # Errors
    ///
    /// The OS's error binding the address.
    pub fn bind(listen: SocketAddr, seed: u64) -> io::Result<Self> {
        let socket = UdpSocket::bind(listen)?;
        socket.set_nonblocking(true)?;
        let listen = socket.local_addr()?;
        Ok(Self {
            socket,
            listen,
            sessions: Vec::new(),
            next_nonce: seed | 1,
            auth_answers: (std::time::Instant::now(), 0),
            stats: OperatorStats::default(),
        })
    }

    /// The address it listens on.
    #[must_use]
    pub const fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// Sessions open now.
    #[must_use]
    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The endpoint in the status JSON: where it listens, its sessions and
    /// what it counted.
    #[must_use]
    pub fn status_json(&self) -> serde_json::Value {
        let s = &self.stats;
        serde_json::json!({
            "listen": self.listen.to_string(),
            "sessions_open": self.sessions.len(),
            "sessions": s.sessions,
            "requests": s.requests,
            "resent": s.resent,
            "refused": {
                "auth": s.refused_auth,
                "frame": s.refused_frame,
                "node": s.refused_node,
                "session": s.refused_session,
                "body": s.refused_body,
            },
        })
    }

    /// The socket, to wait on.
    #[must_use]
    pub fn poll_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Reads what has arrived (up to a bound) and answers it; `answer`
    /// carries out one operator request (`id`, `op`) and gives the body
    /// of the answer.
    pub fn serve(&mut self, auth: &Auth, mut answer: impl FnMut(u32, Op) -> Body) {
        let mut buf = [0u8; MAX_FRAME + 1];
        for _ in 0..READS_PER_WAKE {
            // WouldBlock: drained. Anything else (an ICMP error from an
            // earlier answer) is the client's trouble: stop for now.
            let Ok((len, peer)) = self.socket.recv_from(&mut buf) else { return };
            let datagram = buf.get(..len).unwrap_or_default();
            if len > MAX_FRAME {
                self.stats.refused_frame = self.stats.refused_frame.saturating_add(1);
                continue;
            }
            match decode(datagram, auth) {
                Ok(message) => self.take(peer, message, auth, &mut answer),
                Err(FrameError::BadTag) => {
                    self.stats.refused_auth = self.stats.refused_auth.saturating_add(1);
                    self.answer_auth_refused(peer);
                }
                Err(_) => self.stats.refused_frame = self.stats.refused_frame.saturating_add(1),
            }
        }
    }

    fn answer_auth_refused(&mut self, peer: SocketAddr) {
        let now = std::time::Instant::now();
        if now.duration_since(self.auth_answers.0) >= std::time::Duration::from_secs(1) {
            self.auth_answers = (now, 0);
        }
        if self.auth_answers.1 < AUTH_ANSWERS_PER_SECOND {
            self.auth_answers.1 += 1;
            let _ = self.socket.send_to(AUTH_REFUSED, peer);
        }
    }

    fn take(&mut self, peer: SocketAddr, message: Message, auth: &Auth, answer: &mut impl FnMut(u32, Op) -> Body) {
        let header = message.header;
        if header.node != NodeId::OPERATOR {
            self.stats.refused_node = self.stats.refused_node.saturating_add(1);
            return;
        }
        match message.body {
            Body::Hello => {
                let index = self.session_for(peer);
                let Some(session) = self.sessions.get_mut(index) else { return };
                // A new session forgets the last answer; a repeated Hello
                // (its answer lost) keeps it for a request sent again.
                if header.nonce != session.responder.peer_nonce() {
                    self.stats.sessions = self.stats.sessions.saturating_add(1);
                    session.answered = None;
                }
                session.responder.accept_hello(&header);
                let reply = Body::Reply(Reply { id: 0, outcome: Ok(()) });
                let _ = send(&self.socket, session, peer, reply, auth);
            }
            Body::Request(request) => {
                let Some(session) = self.sessions.iter_mut().find(|s| s.peer == peer) else {
                    self.stats.refused_session = self.stats.refused_session.saturating_add(1);
                    return;
                };
                session.used = std::time::Instant::now();
                if let Some((seq, frame)) = &session.answered {
                    if *seq == header.seq && header.nonce == session.responder.peer_nonce() {
                        let _ = self.socket.send_to(frame, peer);
                        self.stats.resent = self.stats.resent.saturating_add(1);
                        return;
                    }
                }
                if session.responder.accept(&header).is_err() {
                    self.stats.refused_session = self.stats.refused_session.saturating_add(1);
                    return;
                }
                self.stats.requests = self.stats.requests.saturating_add(1);
                let body = answer(request.id, request.op);
                // Kept even when this send fails: the client's next try of
                // the same frame gets it, and nothing is done twice.
                if let Some(frame) = send(&self.socket, session, peer, body, auth) {
                    session.answered = Some((header.seq, frame));
                }
            }
            Body::Beat(_)
            | Body::Status(_)
            | Body::Reply(_)
            | Body::Probing
            | Body::Summary(_)
            | Body::History(_)
            | Body::Counters(_) => {
                self.stats.refused_body = self.stats.refused_body.saturating_add(1);
            }
        }
    }

    /// The session of `peer`, made (in place of the least recently used
    /// one when full) if it has none.
    fn session_for(&mut self, peer: SocketAddr) -> usize {
        let now = std::time::Instant::now();
        if let Some(i) = self.sessions.iter().position(|s| s.peer == peer) {
            if let Some(s) = self.sessions.get_mut(i) {
                s.used = now;
            }
            return i;
        }
        let session = Session { peer, responder: Responder::new(self.next_nonce), answered: None, used: now };
        // Far apart, so that one session's `+1` bumps never reach the next's.
        self.next_nonce = self.next_nonce.wrapping_add(1 << 32) | 1;
        if self.sessions.len() < MAX_SESSIONS {
            self.sessions.push(session);
            return self.sessions.len() - 1;
        }
        let oldest = self.sessions.iter().enumerate().min_by_key(|(_, s)| s.used).map_or(0, |(i, _)| i);
        if let Some(slot) = self.sessions.get_mut(oldest) {
            *slot = session;
        }
        oldest
    }
}

/// Seals `body` for `session` and sends it to `peer`; the frame, sent or
/// not (`None` only when it could not be sealed).
fn send(socket: &UdpSocket, session: &mut Session, peer: SocketAddr, body: Body, auth: &Auth) -> Option<Vec<u8>> {
    let message = Message { header: session.responder.header(NodeId::OPERATOR), body };
    let mut frame = [0u8; MAX_FRAME];
    let len = encode(&message, auth, &mut frame).ok()?;
    let frame = frame.get(..len)?.to_vec();
    // A full socket buffer or an ICMP error: the client sends again.
    let _ = socket.send_to(&frame, peer);
    Some(frame)
}
