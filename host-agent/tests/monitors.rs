//! Monitors against local servers on 127.0.0.1 (ephemeral ports).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use warden_agent::drivers::monitor::{Check, Monitor};
use warden_agent::resource::{ErrorKind, Health, Presence, Resource};

const TIMEOUT: Duration = Duration::from_millis(1500);

/// A server that accepts one connection and hands it to `serve`.
fn serve_once<T: Send + 'static>(serve: impl FnOnce(TcpStream) -> T + Send + 'static) -> (SocketAddr, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        serve(stream)
    });
    (addr, handle)
}

/// Reads until `end` has been seen (or the peer closes); returns what was read.
fn read_until(stream: &mut TcpStream, end: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut byte = [0_u8; 1];
    while !got.ends_with(end) {
        match stream.read(&mut byte) {
            Ok(1) => got.push(byte[0]),
            _ => break,
        }
    }
    got
}

fn unhealthy(health: Health) -> String {
    match health {
        Health::Unhealthy(why) => why,
        Health::Healthy => panic!("expected unhealthy"),
    }
}

#[test]
fn tcp_connect_healthy_then_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut monitor = Monitor::tcp(addr, TIMEOUT).unwrap();
    assert_eq!(monitor.monitor().unwrap(), Health::Healthy);
    assert_eq!(monitor.probe().unwrap(), Presence::Active);
    drop(listener);
    let why = unhealthy(monitor.monitor().unwrap());
    assert!(why.contains(&addr.to_string()) && why.contains("connect failed"), "{why}");
    assert_eq!(monitor.probe().unwrap(), Presence::Inactive);
    // start and stop hold nothing and do nothing.
    monitor.start().unwrap();
    monitor.stop().unwrap();
}

#[test]
fn send_expect_text() {
    let (addr, server) = serve_once(|mut stream| {
        let got = read_until(&mut stream, b"\r\n");
        stream.write_all(b"+PONG\r\n").unwrap();
        got
    });
    let mut monitor = Monitor::send_expect(addr, "PING\\r\\n", "PONG", TIMEOUT).unwrap();
    assert_eq!(monitor.monitor().unwrap(), Health::Healthy);
    assert_eq!(server.join().unwrap(), b"PING\r\n");
}

#[test]
fn send_expect_binary_bytes() {
    let (addr, server) = serve_once(|mut stream| {
        let mut got = [0_u8; 4];
        stream.read_exact(&mut got).unwrap();
        stream.write_all(&[0x7f, 0xde, 0xad, 0x00, 0xbe, 0xef]).unwrap();
        got
    });
    let mut monitor = Monitor::send_expect(addr, "\\x00\\x01\\xff\\n", "\\x00\\xbe\\xef", TIMEOUT).unwrap();
    assert_eq!(monitor.monitor().unwrap(), Health::Healthy);
    assert_eq!(server.join().unwrap(), [0x00, 0x01, 0xff, b'\n']);
    match monitor.check() {
        Check::SendExpect { send, expect, .. } => {
            assert_eq!(send, &[0x00, 0x01, 0xff, b'\n']);
            assert_eq!(expect, &[0x00, 0xbe, 0xef]);
        }
        other => panic!("unexpected check {other:?}"),
    }
}

#[test]
fn send_expect_match_split_across_reads() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (addr, server) = serve_once(move |mut stream| {
        read_until(&mut stream, b"\n");
        stream.write_all(b"status: PO").unwrap();
        stream.flush().unwrap();
        // The second half goes out only after the first was sent on its own.
        go_rx.recv_timeout(Duration::from_millis(100)).ok();
        stream.write_all(b"NG ok").unwrap();
    });
    let monitor = Monitor::send_expect(addr, "status\\n", "PONG", TIMEOUT).unwrap();
    assert_eq!(monitor.run().unwrap(), Health::Healthy);
    drop(go_tx);
    server.join().unwrap();
}

#[test]
fn send_expect_wrong_answer_and_silence() {
    let (addr, server) = serve_once(|mut stream| {
        read_until(&mut stream, b"\n");
        stream.write_all(b"-ERR unknown\r\n").unwrap();
    });
    let monitor = Monitor::send_expect(addr, "PING\\n", "PONG", TIMEOUT).unwrap();
    let why = unhealthy(monitor.run().unwrap());
    assert!(why.contains("PONG") && why.contains("-ERR unknown"), "{why}");
    server.join().unwrap();

    // A server that never answers: unhealthy once the timeout has passed, not later.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (addr, server) = serve_once(move |stream| {
        let _ = release_rx.recv_timeout(Duration::from_secs(10));
        drop(stream);
    });
    let monitor = Monitor::send_expect(addr, "PING\\n", "PONG", Duration::from_millis(300)).unwrap();
    let started = Instant::now();
    let why = unhealthy(monitor.run().unwrap());
    let took = started.elapsed();
    assert!(why.contains("timeout"), "{why}");
    assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(3), "took {took:?}");
    release_tx.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn bad_escapes_are_config_errors() {
    let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let err = Monitor::send_expect(addr, "PING\\q", "PONG", TIMEOUT).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    assert!(err.message.contains("send string") && err.message.contains("\\q"), "{}", err.message);
    let err = Monitor::send_expect(addr, "PING", "\\x4", TIMEOUT).unwrap_err();
    assert!(err.message.contains("expect string"), "{}", err.message);
    assert_eq!(Monitor::http(addr, None, "health", 200, TIMEOUT).unwrap_err().kind, ErrorKind::Config);
    assert_eq!(Monitor::http(addr, None, "/", 42, TIMEOUT).unwrap_err().kind, ErrorKind::Config);
    assert_eq!(Monitor::tcp(addr, Duration::ZERO).unwrap_err().kind, ErrorKind::Config);
}

fn http_server(status_line: &'static str) -> (SocketAddr, JoinHandle<String>) {
    serve_once(move |mut stream| {
        let request = String::from_utf8(read_until(&mut stream, b"\r\n\r\n")).unwrap();
        let body = "hello";
        let response = format!("{status_line}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        // One write: the monitor hangs up once it has the status line, so
        // later writes of a response sent piecewise could meet a reset.
        stream.write_all(response.as_bytes()).unwrap();
        request
    })
}

#[test]
fn http_status_200_is_healthy_500_is_not() {
    let (addr, server) = http_server("HTTP/1.1 200 OK");
    let mut monitor = Monitor::http(addr, Some("www.example.test"), "/health?x=1", 200, TIMEOUT).unwrap();
    assert_eq!(monitor.monitor().unwrap(), Health::Healthy);
    let request = server.join().unwrap();
    assert!(request.starts_with("GET /health?x=1 HTTP/1.0\r\n"), "{request}");
    assert!(request.contains("\r\nHost: www.example.test\r\n"), "{request}");

    let (addr, server) = http_server("HTTP/1.0 500 Internal Server Error");
    let mut monitor = Monitor::http(addr, None, "/", 200, TIMEOUT).unwrap();
    let why = unhealthy(monitor.monitor().unwrap());
    assert!(why.contains("status 500, expected 200"), "{why}");
    let request = server.join().unwrap();
    assert!(request.contains(&format!("Host: {addr}")), "{request}");
}

#[test]
fn http_garbage_is_unhealthy() {
    let (addr, server) = http_server("SSH-2.0-OpenSSH_9.6");
    let monitor = Monitor::http(addr, None, "/", 200, TIMEOUT).unwrap();
    let why = unhealthy(monitor.run().unwrap());
    assert!(why.contains("not an HTTP status line") && why.contains("SSH-2.0"), "{why}");
    server.join().unwrap();
}

fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

#[test]
fn command_monitor() {
    let mut ok = Monitor::command(sh("exit 0"), TIMEOUT).unwrap().with_schedule(Duration::from_secs(5), 2);
    assert_eq!((ok.interval, ok.failure_threshold), (Duration::from_secs(5), 2));
    assert_eq!(ok.monitor().unwrap(), Health::Healthy);
    assert_eq!(ok.probe().unwrap(), Presence::Active);

    let mut failing = Monitor::command(sh("echo db down; exit 1"), TIMEOUT).unwrap();
    let why = unhealthy(failing.monitor().unwrap());
    assert!(why.contains("exit 1") && why.contains("db down"), "{why}");
    assert_eq!(failing.probe().unwrap(), Presence::Inactive);

    let started = Instant::now();
    let slow = Monitor::command(sh("sleep 30"), Duration::from_millis(200)).unwrap();
    let why = unhealthy(slow.run().unwrap());
    assert!(why.contains("did not finish"), "{why}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let missing = Monitor::command(vec!["/nonexistent/check-db".into()], TIMEOUT).unwrap();
    assert_eq!(missing.run().unwrap_err().kind, ErrorKind::NotInstalled);
    assert_eq!(Monitor::command(vec![], TIMEOUT).unwrap_err().kind, ErrorKind::Config);
}
