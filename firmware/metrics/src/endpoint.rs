//! The metrics endpoint: `GET /metrics` over HTTP/1.1, one request per
//! connection, served by threads of its own within fixed bounds.
//!
//! * One thread accepts. A connection is handed to a fixed pool of
//!   [`Limits::workers`]; at most [`Limits::waiting`] more wait for one, and
//!   any other is answered `503` without being read, and closed.
//! * A worker reads the request head for at most [`Limits::read_time`] in
//!   all (a client that sends a byte now and then is cut off all the same)
//!   and at most [`Limits::request_bytes`]; `httparse` parses it. It then
//!   writes the answer within [`Limits::write_time`] and closes.
//! * `GET` and `HEAD` of `/metrics` are answered with the page; anything
//!   else gets its status (`400`, `404`, `405`, `408`, `431`) and nothing
//!   more. Each outcome is counted ([`Tally`]).
//!
//! The threads are started by [`Endpoint::start`], before the daemon raises
//! its heartbeat thread to `SCHED_FIFO`, so they keep normal scheduling.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::page::CONTENT_TYPE;

/// The bounds of the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Threads that serve connections.
    pub workers: usize,
    /// Accepted connections that may wait for a worker.
    pub waiting: usize,
    /// Longest request head read.
    pub request_bytes: usize,
    /// Longest time a request head may take to arrive, in all.
    pub read_time: Duration,
    /// Longest time an answer may take to be taken, in all.
    pub write_time: Duration,
}

impl Limits {
    /// Two workers, eight waiting, 8 KiB heads, two seconds each way.
    pub const DEFAULT: Self = Self {
        workers: 2,
        waiting: 8,
        request_bytes: 8 * 1024,
        read_time: Duration::from_secs(2),
        write_time: Duration::from_secs(2),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How connections ended, counted as they end.
#[derive(Debug, Default)]
struct Counts {
    answered: AtomicU64,
    busy: AtomicU64,
    bad_request: AtomicU64,
    too_large: AtomicU64,
    timed_out: AtomicU64,
    not_found: AtomicU64,
    bad_method: AtomicU64,
    closed: AtomicU64,
}

/// How connections ended so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Answered with the page.
    pub answered: u64,
    /// Refused at once: every worker busy and the waiting line full (`503`).
    pub busy: u64,
    /// Not an HTTP request (`400`).
    pub bad_request: u64,
    /// A head longer than [`Limits::request_bytes`] (`431`).
    pub too_large: u64,
    /// A head not whole within [`Limits::read_time`] (`408`).
    pub timed_out: u64,
    /// Another path than `/metrics` (`404`).
    pub not_found: u64,
    /// Another method than `GET` or `HEAD` (`405`).
    pub bad_method: u64,
    /// Closed by the client before a whole head came.
    pub closed: u64,
}

impl Tally {
    /// Each count with its name, as the page shows it.
    pub fn by_result(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("answered", self.answered),
            ("busy", self.busy),
            ("bad_request", self.bad_request),
            ("too_large", self.too_large),
            ("timed_out", self.timed_out),
            ("not_found", self.not_found),
            ("bad_method", self.bad_method),
            ("closed", self.closed),
        ]
        .into_iter()
    }
}

impl Counts {
    fn tally(&self) -> Tally {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Tally {
            answered: get(&self.answered),
            busy: get(&self.busy),
            bad_request: get(&self.bad_request),
            too_large: get(&self.too_large),
            timed_out: get(&self.timed_out),
            not_found: get(&self.not_found),
            bad_method: get(&self.bad_method),
            closed: get(&self.closed),
        }
    }
}

/// What writes the page, given the endpoint's own counts.
pub type PageFn = dyn Fn(&Tally) -> String + Send + Sync;

/// The running endpoint. Dropping it stops accepting; a connection being
/// served ends within the limits.
#[derive(Debug)]
pub struct Endpoint {
    listen: SocketAddr,
    counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// Binds `listen` and starts the threads; `page` writes the page.
    ///
    /// # Errors
    ///
    /// The OS's error binding the address or starting a thread.
    pub fn start(
        listen: SocketAddr,
        limits: Limits,
        page: impl Fn(&Tally) -> String + Send + Sync + 'static,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(listen)?;
        let listen = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let page: Arc<PageFn> = Arc::new(page);
        let (queue, waiting) = mpsc::sync_channel::<TcpStream>(limits.waiting);
        let waiting = Arc::new(Mutex::new(waiting));
        for i in 0..limits.workers.max(1) {
            let (waiting, page, counts) = (Arc::clone(&waiting), Arc::clone(&page), Arc::clone(&counts));
            std::thread::Builder::new()
                .name(format!("metrics-{i}"))
                .spawn(move || work(&waiting, &limits, &*page, &counts))?;
        }
        let (flag, tally) = (Arc::clone(&stop), Arc::clone(&counts));
        let accept = std::thread::Builder::new().name("metrics-accept".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    // Out of descriptors or memory: let it pass, then take the next.
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                match queue.try_send(stream) {
                    Ok(()) => {}
                    Err(TrySendError::Full(stream)) => {
                        tally.busy.fetch_add(1, Ordering::Relaxed);
                        refuse(stream);
                    }
                    Err(TrySendError::Disconnected(_)) => break,
                }
            }
        })?;
        Ok(Self { listen, counts, stop, accept: Some(accept) })
    }

    /// The address it listens on (with the port the OS chose for port 0).
    #[must_use]
    pub const fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// How connections ended so far.
    #[must_use]
    pub fn tally(&self) -> Tally {
        self.counts.tally()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accepting thread with a connection of our own.
        let mut wake = self.listen;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() { Ipv4Addr::LOCALHOST.into() } else { Ipv6Addr::LOCALHOST.into() });
        }
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok() {
            if let Some(t) = self.accept.take() {
                let _ = t.join();
            }
        }
    }
}

/// Answers `503` without reading, if the socket takes it at once.
fn refuse(stream: TcpStream) {
    if stream.set_nonblocking(true).is_ok() {
        let _ = (&stream).write_all(&head(503, "Service Unavailable", 0, ""));
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// A worker: serves connections one after the other until the endpoint stops.
fn work(waiting: &Mutex<Receiver<TcpStream>>, limits: &Limits, page: &PageFn, counts: &Counts) {
    let mut buf = vec![0u8; limits.request_bytes.max(16)];
    loop {
        let next = waiting.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(stream) = next else { return };
        serve(stream, &mut buf, limits, page, counts);
    }
}

/// What a request head came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Page { head_only: bool },
    NotFound,
    BadMethod,
    Bad,
    TooLarge,
    TimedOut,
    Closed,
}

/// Reads the request head within the limits and says what it asks.
fn read_head(stream: &mut TcpStream, buf: &mut [u8], limits: &Limits) -> Asked {
    let deadline = Instant::now() + limits.read_time;
    let mut len = 0;
    loop {
        if len > 0 {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(buf.get(..len).unwrap_or_default()) {
                Ok(httparse::Status::Complete(_)) => {
                    let path = request.path.unwrap_or_default();
                    let path = path.split_once('?').map_or(path, |(p, _)| p);
                    return match (request.method.unwrap_or_default(), path) {
                        (method @ ("GET" | "HEAD"), "/metrics") => Asked::Page { head_only: method == "HEAD" },
                        ("GET" | "HEAD", _) => Asked::NotFound,
                        _ => Asked::BadMethod,
                    };
                }
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => return Asked::TooLarge,
                Err(_) => return Asked::Bad,
            }
        }
        let Some(free) = buf.get_mut(len..).filter(|f| !f.is_empty()) else { return Asked::TooLarge };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Asked::TimedOut;
        }
        match stream.read(free) {
            Ok(0) => return Asked::Closed,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Asked::TimedOut;
            }
            Err(_) => return Asked::Closed,
        }
    }
}

fn serve(mut stream: TcpStream, buf: &mut [u8], limits: &Limits, page: &PageFn, counts: &Counts) {
    let asked = read_head(&mut stream, buf, limits);
    let count = |c: &AtomicU64| {
        c.fetch_add(1, Ordering::Relaxed);
    };
    let answer: Vec<u8> = match asked {
        Asked::Page { head_only } => {
            count(&counts.answered);
            let body = page(&counts.tally());
            let mut answer = head(200, "OK", body.len(), CONTENT_TYPE);
            if !head_only {
                answer.extend_from_slice(body.as_bytes());
            }
            answer
        }
        Asked::NotFound => {
            count(&counts.not_found);
            head(404, "Not Found", 0, "")
        }
        Asked::BadMethod => {
            count(&counts.bad_method);
            head(405, "Method Not Allowed", 0, "")
        }
        Asked::Bad => {
            count(&counts.bad_request);
            head(400, "Bad Request", 0, "")
        }
        Asked::TooLarge => {
            count(&counts.too_large);
            head(431, "Request Header Fields Too Large", 0, "")
        }
        Asked::TimedOut => {
            count(&counts.timed_out);
            head(408, "Request Timeout", 0, "")
        }
        Asked::Closed => {
            count(&counts.closed);
            return;
        }
    };
    write_within(&mut stream, &answer, Instant::now() + limits.write_time);
    let _ = stream.shutdown(Shutdown::Both);
}

/// Writes `bytes` unless the client takes longer than `deadline` for them.
fn write_within(stream: &mut TcpStream, mut bytes: &[u8], deadline: Instant) {
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_write_timeout(Some(left)).is_err() {
            return;
        }
        match stream.write(bytes) {
            Ok(0) => return,
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// A status line and headers; `Allow` with a `405`.
fn head(status: u16, reason: &str, length: usize, content_type: &str) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: {length}\r\nConnection: close\r\n");
    if !content_type.is_empty() {
        h.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    if status == 405 {
        h.push_str("Allow: GET, HEAD\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(limits: Limits) -> Endpoint {
        Endpoint::start("127.0.0.1:0".parse().unwrap(), limits, |tally| format!("answered {}\n", tally.answered))
            .unwrap()
    }

    /// Sends `request` and reads the answer to its end.
    fn ask(to: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(to).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = s.write_all(request);
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[test]
    fn answers_the_page_and_names_what_it_refuses() {
        let e = start(Limits::DEFAULT);
        let to = e.listen();
        let ok = ask(to, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Type: text/plain; version=0.0.4"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nanswered 1\n"), "the page sees its own request counted: {ok}");
        let head = ask(to, b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n") && head.ends_with("\r\n\r\n"), "{head}");
        assert!(ask(to, b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
        let post = ask(to, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405 ") && post.contains("Allow: GET, HEAD"), "{post}");
        assert!(ask(to, b"\x16\x03\x01 not http at all\r\n\r\n").starts_with("HTTP/1.1 400 "));
        let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        assert!(ask(to, huge.as_bytes()).starts_with("HTTP/1.1 431 "));
        let many: String = (0..40).map(|i| format!("X{i}: y\r\n")).collect();
        assert!(ask(to, format!("GET /metrics HTTP/1.1\r\n{many}\r\n").as_bytes()).starts_with("HTTP/1.1 431 "));
        let t = e.tally();
        assert_eq!((t.answered, t.not_found, t.bad_method, t.bad_request, t.too_large), (2, 1, 1, 1, 2), "{t:?}");
    }

    #[test]
    fn a_crowd_is_refused_at_once_not_queued_behind_a_slow_client() {
        // A read time long enough that the slow client still holds the
        // worker after the crowd, on a loaded machine too.
        let e = start(Limits { workers: 1, waiting: 1, read_time: Duration::from_secs(60), ..Limits::DEFAULT });
        let to = e.listen();
        // A client that never finishes its head holds the only worker;
        // one more connection may wait; the rest are refused at once.
        let mut slow = TcpStream::connect(to).unwrap();
        slow.write_all(b"GET /metr").unwrap();
        let crowd: Vec<TcpStream> = (0..20)
            .map(|_| {
                let mut s = TcpStream::connect(to).unwrap();
                s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
                s
            })
            .collect();
        // Once every one of them is accepted (all but one refused), the slow
        // client gives up and the worker takes whoever waited.
        let since = Instant::now();
        while e.tally().busy < 19 {
            assert!(since.elapsed() < Duration::from_secs(30), "the crowd was never refused: {:?}", e.tally());
            std::thread::yield_now();
        }
        slow.shutdown(Shutdown::Write).unwrap();
        let mut answers = Vec::new();
        for mut s in crowd {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            answers.push(answer.lines().next().unwrap_or_default().to_owned());
        }
        let refused = answers.iter().filter(|a| a.starts_with("HTTP/1.1 503 ")).count();
        let served = answers.iter().filter(|a| a.starts_with("HTTP/1.1 200 ")).count();
        assert_eq!(refused + served, 20, "{answers:?}");
        assert!(refused >= 19, "at most the waiting connection served: {answers:?}");
        let t = e.tally();
        assert_eq!((t.busy, t.answered), (refused as u64, served as u64), "{t:?}");
        // Served again once the worker has let the slow client go.
        let since = Instant::now();
        loop {
            let answer = ask(to, b"GET /metrics HTTP/1.1\r\n\r\n");
            if answer.starts_with("HTTP/1.1 200 OK") {
                break;
            }
            assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
            assert!(since.elapsed() < Duration::from_secs(30), "never served again: {:?}", e.tally());
        }
    }

    #[test]
    fn a_head_that_trickles_in_is_cut_off_at_the_read_time() {
        let e = start(Limits { read_time: Duration::from_millis(200), ..Limits::DEFAULT });
        let mut slow = TcpStream::connect(e.listen()).unwrap();
        slow.write_all(b"GET /metr").unwrap();
        slow.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut answer = String::new();
        let _ = slow.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
        assert_eq!(e.tally().timed_out, 1);
    }
}
