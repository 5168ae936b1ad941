//! The client of the controller's operator endpoint (`[controller]
//! operator`): operator requests over UDP under the cluster key, from a
//! host that runs no agent. `fence_warden` and `wardenctl --controller`
//! use it.
//!
//! A [`Client`] opens a session (`Hello`, answered by `Reply { id: 0 }`),
//! then sends one request at a time and waits for its answer. A frame
//! that gets no answer is sent again, the same frame (the controller
//! answers a repeated request again without carrying it out twice), until
//! the deadline; no answer by then is [`ClientError::NoAnswer`] (or
//! [`ClientError::KeyRefused`] when the controller's bare refusal of the
//! key came meanwhile), never a success.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use warden_core::wire::{
    decode, encode, Auth, Body, HistoryAnswer, Initiator, Message, Op, Refusal, Request, Summary, MAX_FRAME,
};
use warden_core::NodeId;

/// What the controller answers a frame that failed authentication
/// (`warden_controller_linux::operator::AUTH_REFUSED`).
pub const AUTH_REFUSED: &[u8] = b"WARDEN-REFUSED auth";
/// The operator endpoint's usual port.
pub const DEFAULT_PORT: u16 = 7694;
/// How long a frame waits for its answer before it is sent again.
const RESEND: Duration = Duration::from_millis(200);

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The address could not be resolved.
    #[error("controller address `{0}`: not IP:PORT or HOST:PORT that resolves")]
    Address(String),
    /// Nothing authentic came back in time.
    #[error(
        "no answer from the controller's operator endpoint at {peer} within {} ms: the controller is down or unreachable, \
         or `[controller] operator` is not set there",
        waited.as_millis()
    )]
    NoAnswer {
        /// Where it was sent.
        peer: SocketAddr,
        /// How long it waited.
        waited: Duration,
    },
    /// The controller refused the frames' authentication.
    #[error(
        "the controller at {peer} refused the request's authentication: this key is not the cluster's \
         (the controller counts it under operator.refused.auth)"
    )]
    KeyRefused {
        /// Where it was sent.
        peer: SocketAddr,
    },
    /// The OS refused the socket.
    #[error("operator endpoint {peer}: {source}")]
    Io {
        /// Where it was sent.
        peer: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A session with one controller's operator endpoint.
#[derive(Debug)]
pub struct Client {
    socket: UdpSocket,
    peer: SocketAddr,
    auth: Auth,
    session: Initiator,
    next_id: u32,
    deadline: Instant,
}

/// Resolves `address` (`IP:PORT`, `HOST:PORT`, or an address without a
/// port, which takes [`DEFAULT_PORT`]).
///
/// # Errors
///
/// [`ClientError::Address`] naming it.
pub fn resolve(address: &str) -> Result<SocketAddr, ClientError> {
    let bad = || ClientError::Address(address.to_owned());
    if let Ok(a) = address.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = address.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    let with_port = if address.contains(':') { address.to_owned() } else { format!("{address}:{DEFAULT_PORT}") };
    with_port.to_socket_addrs().map_err(|_| bad())?.next().ok_or_else(bad)
}

impl Client {
    /// Opens a session with the endpoint at `peer`; every request made on
    /// it must be answered before `deadline`.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: no answer by the deadline, the key refused, the
    /// socket refused.
    pub fn connect(peer: SocketAddr, auth: Auth, deadline: Instant) -> Result<Self, ClientError> {
        let io = |source| ClientError::Io { peer, source };
        let any: SocketAddr =
            if peer.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
        let socket = UdpSocket::bind(any).map_err(io)?;
        socket.connect(peer).map_err(io)?;
        let mut client = Self { socket, peer, auth, session: Initiator::new(random_nonce()), next_id: 1, deadline };
        let hello = client.session.hello(NodeId::OPERATOR);
        client.exchange(hello, |m| matches!(m.body, Body::Reply(r) if r.id == 0))?;
        Ok(client)
    }

    /// Carries out `op` (not `Describe`): `Ok(Ok(()))` accepted, `Ok(Err)`
    /// refused by the controller, and why.
    ///
    /// # Errors
    ///
    /// [`ClientError`] when no answer came.
    pub fn request(&mut self, op: Op) -> Result<Result<(), Refusal>, ClientError> {
        let id = self.take_id();
        let message =
            Message { header: self.session.header(NodeId::OPERATOR), body: Body::Request(Request { id, op }) };
        let answer = self.exchange(message, |m| matches!(m.body, Body::Reply(r) if r.id == id))?;
        match answer.body {
            Body::Reply(r) => Ok(r.outcome),
            _ => Ok(Err(Refusal::Unsafe)),
        }
    }

    /// The cluster as the controller sees it.
    ///
    /// # Errors
    ///
    /// [`ClientError`] when no answer came.
    pub fn describe(&mut self) -> Result<Summary, ClientError> {
        let id = self.take_id();
        let message = Message {
            header: self.session.header(NodeId::OPERATOR),
            body: Body::Request(Request { id, op: Op::Describe }),
        };
        let answer = self.exchange(message, |m| matches!(m.body, Body::Summary(s) if s.id == id))?;
        match answer.body {
            Body::Summary(s) => Ok(s),
            _ => Err(ClientError::NoAnswer { peer: self.peer, waited: Duration::ZERO }),
        }
    }

    /// Entry `back` of the controller's fence history (0: the newest).
    ///
    /// # Errors
    ///
    /// [`ClientError`] when no answer came.
    pub fn history(&mut self, back: u8) -> Result<HistoryAnswer, ClientError> {
        let id = self.take_id();
        let message = Message {
            header: self.session.header(NodeId::OPERATOR),
            body: Body::Request(Request { id, op: Op::History { back } }),
        };
        let answer = self.exchange(message, |m| matches!(m.body, Body::History(h) if h.id == id))?;
        match answer.body {
            Body::History(h) => Ok(h),
            _ => Err(ClientError::NoAnswer { peer: self.peer, waited: Duration::ZERO }),
        }
    }

    /// Where it talks to.
    #[must_use]
    pub const fn peer(&self) -> SocketAddr {
        self.peer
    }

    fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Sends `message` (again every [`RESEND`]) until an authentic answer
    /// of this session for which `wanted` holds comes, or the deadline.
    fn exchange(&mut self, message: Message, wanted: impl Fn(&Message) -> bool) -> Result<Message, ClientError> {
        let peer = self.peer;
        let io = |source| ClientError::Io { peer, source };
        let mut frame = [0u8; MAX_FRAME];
        let len = encode(&message, &self.auth, &mut frame)
            .map_err(|e| io(std::io::Error::other(format!("request not encoded: {e}"))))?;
        let frame = frame.get(..len).unwrap_or_default();
        let started = Instant::now();
        let mut buf = [0u8; MAX_FRAME + 1];
        // The refusal is not authenticated (anyone could send it): it is
        // believed only if nothing authentic comes by the deadline.
        let mut key_refused = false;
        loop {
            let now = Instant::now();
            if now >= self.deadline {
                return Err(if key_refused {
                    ClientError::KeyRefused { peer }
                } else {
                    ClientError::NoAnswer { peer, waited: now.saturating_duration_since(started) }
                });
            }
            // ECONNREFUSED from an earlier send (nobody listens): keep trying until the deadline.
            let _ = self.socket.send(frame);
            let resend_at = (now + RESEND).min(self.deadline);
            while let Some(left) = resend_at.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
                self.socket.set_read_timeout(Some(left)).map_err(io)?;
                let n = match self.socket.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                        break
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        std::thread::sleep(left.min(RESEND));
                        break;
                    }
                    Err(e) => return Err(io(e)),
                };
                let got = buf.get(..n).unwrap_or_default();
                if got == AUTH_REFUSED {
                    key_refused = true;
                    continue;
                }
                let Ok(answer) = decode(got, &self.auth) else { continue };
                if answer.header.node != NodeId::OPERATOR || !wanted(&answer) {
                    continue;
                }
                if self.session.accept(&answer.header).is_ok() {
                    return Ok(answer);
                }
            }
        }
    }
}

/// A nonce for a new session: random, never 0.
fn random_nonce() -> u64 {
    use std::io::Read as _;
    let mut bytes = [0u8; 8];
    let from_urandom = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_ok();
    if !from_urandom {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        bytes = (t.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
    }
    u64::from_le_bytes(bytes) | 1
}
