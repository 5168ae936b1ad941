//! Monitors: checks that a service does its job, not only that it runs.
//!
//! A [`Monitor`] is a [`Resource`] placed in a group after the service it
//! watches. Its `start` and `stop` do nothing (a check holds nothing on the
//! system); `probe` and `monitor` both run the check: healthy is
//! [`Presence::Active`] / [`Health::Healthy`], unhealthy is
//! [`Presence::Inactive`] / [`Health::Unhealthy`] with the reason. So a
//! monitor should check the *local* service (its real address or
//! `127.0.0.1`, as Piranha's nanny watched real addresses), never a floating
//! address: through a floating address a standby node would see its peer's
//! service and probe the group as partly held.
//!
//! Checks (each bounded by the monitor's timeout):
//! * TCP connect;
//! * send/expect (Piranha's nanny): connect, send bytes, and look for the
//!   expected bytes in what is read before the timeout; both strings take
//!   escapes (`\n`, `\r`, `\t`, `\0`, `\\`, `\xHH`), so binary protocols work;
//! * HTTP: a plain HTTP/1.0 `GET`, healthy when the status code is the
//!   expected one (no TLS);
//! * a command: healthy when it exits 0.
//!
//! The interval and failure threshold travel with the monitor
//! ([`Monitor::interval`], [`Monitor::failure_threshold`]); a
//! [`GroupMonitor`] applies them when the monitor sits in a group: it checks
//! once per interval and turns unhealthy only after that many failures in a
//! row.

mod member;

pub use member::GroupMonitor;
pub use warden_cluster::{escape, unescape, EscapeError};

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::drivers::process::Invocation;
use crate::resource::{ErrorKind, Health, Presence, Resource, ResourceError};

/// How many bytes a send/expect check keeps while searching (a sliding
/// window: the search goes on through longer answers until the timeout).
const EXPECT_WINDOW: usize = 64 * 1024;

/// The longest HTTP status line accepted.
const STATUS_LINE_MAX: usize = 8 * 1024;

/// How much of an unexpected answer is quoted in a message.
const QUOTE_MAX: usize = 120;

/// What a monitor checks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Check {
    /// A TCP connection to `addr` can be opened.
    Tcp {
        /// Where to connect.
        addr: SocketAddr,
    },
    /// Connect to `addr`, send `send`, read until `expect` shows up.
    SendExpect {
        /// Where to connect.
        addr: SocketAddr,
        /// Bytes to send (may be empty: just read).
        send: Vec<u8>,
        /// Bytes to find in the answer (empty: sending was enough).
        expect: Vec<u8>,
    },
    /// `GET path` over HTTP/1.0, answered with `status`.
    Http {
        /// Where to connect.
        addr: SocketAddr,
        /// The `Host` header.
        host: String,
        /// The request path, starting with `/`.
        path: String,
        /// The status code that means healthy.
        status: u16,
    },
    /// A command that exits 0 when healthy.
    Command {
        /// The command line (`argv[0]` a path or a name in `PATH`).
        argv: Vec<String>,
    },
}

/// A health check with its schedule. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    check: Check,
    timeout: Duration,
    /// How often the protocol half runs it (default 10 s).
    pub interval: Duration,
    /// How many failures in a row make the group fail (default 3).
    pub failure_threshold: u32,
}

fn config_error(message: String) -> ResourceError {
    ResourceError::new(ErrorKind::Config, message)
}

impl Monitor {
    fn new(check: Check, timeout: Duration) -> Result<Self, ResourceError> {
        let monitor = Self { check, timeout, interval: Duration::from_secs(10), failure_threshold: 3 };
        if timeout.is_zero() {
            return Err(config_error(format!("{}: timeout is zero", monitor.describe())));
        }
        Ok(monitor)
    }

    /// Healthy when a TCP connection to `addr` opens within `timeout`.
    ///
    /// Errors ([`ErrorKind::Config`]): a zero timeout.
    pub fn tcp(addr: SocketAddr, timeout: Duration) -> Result<Self, ResourceError> {
        Self::new(Check::Tcp { addr }, timeout)
    }

    /// Piranha's send/expect: connect to `addr`, send `send`, and be healthy
    /// when `expect` appears in what is read within `timeout`. Both strings
    /// take the escapes of [`unescape`].
    ///
    /// Errors ([`ErrorKind::Config`]): a bad escape (naming which string and
    /// where), a zero timeout.
    pub fn send_expect(addr: SocketAddr, send: &str, expect: &str, timeout: Duration) -> Result<Self, ResourceError> {
        let send = unescape(send).map_err(|e| config_error(format!("monitor of {addr}: send string: {e}")))?;
        let expect = unescape(expect).map_err(|e| config_error(format!("monitor of {addr}: expect string: {e}")))?;
        Self::new(Check::SendExpect { addr, send, expect }, timeout)
    }

    /// Healthy when `GET path` to `addr` answers `status` within `timeout`.
    /// `host` is the `Host` header (default: the address).
    ///
    /// Errors ([`ErrorKind::Config`]): a path not starting with `/` or
    /// containing whitespace or control characters, such a host, a status
    /// outside 100..=599, a zero timeout.
    pub fn http(
        addr: SocketAddr,
        host: Option<&str>,
        path: &str,
        status: u16,
        timeout: Duration,
    ) -> Result<Self, ResourceError> {
        let clean = |s: &str| !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if !path.starts_with('/') || !clean(path) {
            return Err(config_error(format!(
                "HTTP monitor of {addr}: path {path:?} must start with '/' and have no spaces or control characters"
            )));
        }
        let host = match host {
            Some(host) if host.is_empty() || !clean(host) => {
                return Err(config_error(format!("HTTP monitor of {addr}: bad Host header {host:?}")));
            }
            Some(host) => host.to_owned(),
            None => match addr {
                SocketAddr::V4(v4) => format!("{}:{}", v4.ip(), v4.port()),
                SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
            },
        };
        if !(100..=599).contains(&status) {
            return Err(config_error(format!("HTTP monitor of {addr}: status {status} is not an HTTP status code")));
        }
        Self::new(Check::Http { addr, host, path: path.to_owned(), status }, timeout)
    }

    /// Healthy when `argv` exits 0 within `timeout` (its process group is
    /// killed if it does not).
    ///
    /// Errors ([`ErrorKind::Config`]): an empty argv or program, a zero timeout.
    pub fn command(argv: Vec<String>, timeout: Duration) -> Result<Self, ResourceError> {
        if argv.first().is_none_or(String::is_empty) {
            return Err(config_error("command monitor: argv is empty".to_owned()));
        }
        Self::new(Check::Command { argv }, timeout)
    }

    /// Sets how often it runs and after how many failures in a row the group
    /// fails (for the protocol half).
    #[must_use]
    pub fn with_schedule(mut self, interval: Duration, failure_threshold: u32) -> Self {
        self.interval = interval;
        self.failure_threshold = failure_threshold;
        self
    }

    /// What it checks.
    pub fn check(&self) -> &Check {
        &self.check
    }

    /// The deadline of one check.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs the check once. A check that fails (including by timing out)
    /// is `Ok(Health::Unhealthy(..))`; an error means the check itself could
    /// not be run (e.g. the command is not installed).
    pub fn run(&self) -> Result<Health, ResourceError> {
        let deadline = Instant::now() + self.timeout;
        let name = self.describe();
        let unhealthy = |why: String| Ok(Health::Unhealthy(format!("{name}: {why}")));
        match &self.check {
            Check::Tcp { addr } => match connect(*addr, deadline) {
                Ok(_) => Ok(Health::Healthy),
                Err(e) => unhealthy(format!("connect failed: {e}")),
            },
            Check::SendExpect { addr, send, expect } => match send_expect(*addr, send, expect, deadline) {
                Ok(None) => Ok(Health::Healthy),
                Ok(Some(why)) => unhealthy(why),
                Err(e) => unhealthy(e.to_string()),
            },
            Check::Http { addr, host, path, status } => match http_status(*addr, host, path, deadline) {
                Ok(Ok(got)) if got == *status => Ok(Health::Healthy),
                Ok(Ok(got)) => unhealthy(format!("status {got}, expected {status}")),
                Ok(Err(why)) => unhealthy(why),
                Err(e) => unhealthy(e.to_string()),
            },
            Check::Command { argv } => {
                let Some(invocation) = Invocation::from_argv(argv) else {
                    return Err(config_error("command monitor: argv is empty".to_owned()));
                };
                match invocation.timeout(self.timeout).run(&name) {
                    Ok(exit) if exit.success() => Ok(Health::Healthy),
                    Ok(exit) => unhealthy(format!("{}{}", exit.describe(), exit.output_suffix())),
                    Err(e) if e.kind == ErrorKind::Timeout => Ok(Health::Unhealthy(e.message)),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
    } else {
        Ok(left)
    }
}

fn connect(addr: SocketAddr, deadline: Instant) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, remaining(deadline)?)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Reads once, bounded by the deadline. `Ok(0)` is end of stream.
fn read_some(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    stream.set_read_timeout(Some(remaining(deadline)?))?;
    match stream.read(buf) {
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            Err(io::Error::new(io::ErrorKind::TimedOut, "timed out waiting for the answer"))
        }
        other => other,
    }
}

fn write_all(stream: &mut TcpStream, bytes: &[u8], deadline: Instant) -> io::Result<()> {
    stream.set_write_timeout(Some(remaining(deadline)?))?;
    stream.write_all(bytes)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// `Ok(None)` when the expected bytes were seen, `Ok(Some(why))` when not.
fn send_expect(addr: SocketAddr, send: &[u8], expect: &[u8], deadline: Instant) -> io::Result<Option<String>> {
    let mut stream = connect(addr, deadline)?;
    if !send.is_empty() {
        write_all(&mut stream, send, deadline)?;
    }
    if expect.is_empty() {
        return Ok(None);
    }
    let mut window: Vec<u8> = Vec::new();
    let mut head: Vec<u8> = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        let n = match read_some(&mut stream, &mut chunk, deadline) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return Ok(Some(format!("{} not seen before the timeout; got {}", quote(expect), quote(&head))));
            }
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(Some(format!("{} not seen before the connection closed; got {}", quote(expect), quote(&head))));
        }
        let bytes = chunk.get(..n).unwrap_or_default();
        let room = QUOTE_MAX.saturating_sub(head.len());
        head.extend_from_slice(bytes.get(..room.min(n)).unwrap_or_default());
        window.extend_from_slice(bytes);
        if contains(&window, expect) {
            return Ok(None);
        }
        if window.len() > EXPECT_WINDOW {
            // Keep only what could still be the start of a match.
            let keep = expect.len().saturating_sub(1);
            window.drain(..window.len() - keep);
        }
    }
}

fn quote(bytes: &[u8]) -> String {
    let shown = bytes.get(..QUOTE_MAX.min(bytes.len())).unwrap_or_default();
    let more = if bytes.len() > QUOTE_MAX { "..." } else { "" };
    format!("\"{}{more}\"", escape(shown))
}

/// `Ok(Ok(code))` for a well-formed status line, `Ok(Err(why))` for an
/// answer that is not HTTP.
fn http_status(addr: SocketAddr, host: &str, path: &str, deadline: Instant) -> io::Result<Result<u16, String>> {
    let mut stream = connect(addr, deadline)?;
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: warden-agent\r\nConnection: close\r\n\r\n");
    write_all(&mut stream, request.as_bytes(), deadline)?;
    let mut answer: Vec<u8> = Vec::new();
    let mut chunk = [0_u8; 1024];
    let line_end = loop {
        if let Some(end) = answer.iter().position(|&b| b == b'\n') {
            break end;
        }
        if answer.len() > STATUS_LINE_MAX {
            return Ok(Err(format!("status line longer than {STATUS_LINE_MAX} bytes")));
        }
        let n = read_some(&mut stream, &mut chunk, deadline)?;
        if n == 0 {
            return Ok(Err(format!("connection closed before a status line; got {}", quote(&answer))));
        }
        answer.extend_from_slice(chunk.get(..n).unwrap_or_default());
    };
    let line = answer.get(..line_end).unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_whitespace();
    let version = words.next().unwrap_or_default();
    let code = words.next().and_then(|c| if c.len() == 3 { c.parse::<u16>().ok() } else { None });
    match code {
        Some(code) if version.starts_with("HTTP/") => Ok(Ok(code)),
        _ => Ok(Err(format!("not an HTTP status line: {}", quote(line)))),
    }
}

impl Resource for Monitor {
    fn describe(&self) -> String {
        match &self.check {
            Check::Tcp { addr } => format!("TCP monitor of {addr}"),
            Check::SendExpect { addr, .. } => format!("send/expect monitor of {addr}"),
            Check::Http { addr, path, .. } => format!("HTTP monitor of http://{addr}{path}"),
            Check::Command { argv } => format!("command monitor `{}`", argv.join(" ")),
        }
    }

    /// Nothing to do: a check holds nothing.
    fn start(&mut self) -> Result<(), ResourceError> {
        Ok(())
    }

    /// Nothing to do: a check holds nothing.
    fn stop(&mut self) -> Result<(), ResourceError> {
        Ok(())
    }

    /// Runs the check: healthy is active, unhealthy inactive.
    fn probe(&mut self) -> Result<Presence, ResourceError> {
        Ok(match self.run()? {
            Health::Healthy => Presence::Active,
            Health::Unhealthy(_) => Presence::Inactive,
        })
    }

    fn monitor(&mut self) -> Result<Health, ResourceError> {
        self.run()
    }
}
