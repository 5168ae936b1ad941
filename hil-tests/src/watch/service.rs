//! `warden-rig serve`: the service the group runs, a supervised command.
//! One request per line, one answer per line:
//!
//! | request | answer |
//! |---|---|
//! | `ping` | `pong SERVER` (the server it runs on); `sick SERVER` while the rig's `SERVER.sick` flag is up in `--faults DIR` |
//! | `write N` | `ok N` once the record `N` is appended to `records.log` on the shared disk **and fsync'd**; `error ...` otherwise |
//!
//! Anything else is answered with an error naming what was wrong; a line
//! longer than [`MAX_LINE`] or not UTF-8 is answered so, and the client is
//! disconnected.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use crate::host::keeper::SERVER_ENV;
use crate::runs::config::{FaultFlag, RECORDS};
use crate::RigError;

/// Longest request line.
pub const MAX_LINE: usize = 64;

/// A request, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `ping`.
    Ping,
    /// `write N`.
    Write(u64),
}

/// Parses one request line.
///
/// # Errors
///
/// What is wrong with it.
pub fn parse(line: &str) -> Result<Request, String> {
    match line.split_whitespace().collect::<Vec<_>>().as_slice() {
        ["ping"] => Ok(Request::Ping),
        ["write", n] => n.parse().map(Request::Write).map_err(|_| format!("`{n}` is not a record number")),
        [] => Err("empty request (known: ping, write N)".to_owned()),
        [other, ..] => Err(format!("unknown request `{other}` (known: ping, write N)")),
    }
}

/// Serves on `listen`, appending records under `dir`, until killed; sick
/// while `faults/SERVER.sick` exists.
///
/// # Errors
///
/// [`RigError::Io`] naming the file or address that could not be had.
pub fn serve(dir: &Path, listen: SocketAddr, faults: Option<&Path>) -> Result<(), RigError> {
    let path = dir.join(RECORDS);
    let records = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(RigError::io(format!("opening {}", path.display())))?;
    let records = Arc::new(Mutex::new(records));
    let listener = TcpListener::bind(listen).map_err(RigError::io(format!("listening on {listen}")))?;
    let server: Arc<str> = std::env::var(SERVER_ENV).unwrap_or_else(|_| "unknown".to_owned()).into();
    eprintln!("warden-rig serve: {server} serving on {listen}, records in {}", path.display());
    let sick: Option<Arc<Path>> = faults.map(|d| d.join(format!("{server}.{}", FaultFlag::Sick.extension())).into());
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let (records, server, sick) = (Arc::clone(&records), Arc::clone(&server), sick.clone());
        let _ = std::thread::Builder::new().spawn(move || answer(stream, &records, &server, sick.as_deref()));
    }
    Ok(())
}

fn answer(stream: TcpStream, records: &Mutex<File>, server: &str, sick: Option<&Path>) {
    let _ = stream.set_nodelay(true);
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    while let Some(line) = read_request(&mut reader) {
        let reply = match line {
            Err(e) => {
                let _ = out.write_all(format!("error {e}\n").as_bytes());
                return;
            }
            Ok(text) => match parse(&text) {
                Ok(Request::Ping) if sick.is_some_and(Path::exists) => format!("sick {server}"),
                Ok(Request::Ping) => format!("pong {server}"),
                Ok(Request::Write(n)) => match append(records, n) {
                    Ok(()) => format!("ok {n}"),
                    Err(e) => format!("error record {n}: {e}"),
                },
                Err(e) => format!("error {e}"),
            },
        };
        // One write per answer: a line in pieces would wait on Nagle's algorithm.
        if out.write_all(format!("{reply}\n").as_bytes()).is_err() {
            return;
        }
    }
}

/// Appends record `n` and waits until it is on the disk.
fn append(records: &Mutex<File>, n: u64) -> std::io::Result<()> {
    let mut file = records.lock().unwrap_or_else(PoisonError::into_inner);
    file.write_all(format!("{n}\n").as_bytes())?;
    file.sync_data()
}

/// The next request line of at most [`MAX_LINE`] bytes: `Err` for one too
/// long or not UTF-8, `None` at the end of the stream.
fn read_request(reader: &mut impl std::io::BufRead) -> Option<Result<String, String>> {
    use std::io::{BufRead as _, Read as _};
    let mut buf = Vec::new();
    let limit = u64::try_from(MAX_LINE + 1).unwrap_or(u64::MAX);
    match reader.by_ref().take(limit).read_until(b'\n', &mut buf) {
        Ok(0) | Err(_) => None,
        Ok(_) if !buf.ends_with(b"\n") && buf.len() > MAX_LINE => {
            Some(Err(format!("request longer than {MAX_LINE} bytes")))
        }
        Ok(_) => {
            Some(String::from_utf8(buf).map(|s| s.trim_end().to_owned()).map_err(|_| "request is not UTF-8".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(parse("ping"), Ok(Request::Ping));
        assert_eq!(parse(" write 42 "), Ok(Request::Write(42)));
        assert_eq!(parse("write -1"), Err("`-1` is not a record number".into()));
        assert_eq!(parse("write"), Err("unknown request `write` (known: ping, write N)".into()));
        assert_eq!(parse(""), Err("empty request (known: ping, write N)".into()));
    }

    #[test]
    fn records_are_appended_and_answered_in_order() {
        let dir = std::env::temp_dir().join(format!("warden-rig-serve-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = Mutex::new(OpenOptions::new().create(true).append(true).open(dir.join(RECORDS)).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            let long = "x".repeat(MAX_LINE + 10);
            write!(s, "ping\nwrite 7\nwrite 8\nfrobnicate\n{long}\n").unwrap();
            s.shutdown(std::net::Shutdown::Write).unwrap();
            let mut answers = String::new();
            std::io::Read::read_to_string(&mut s, &mut answers).unwrap();
            answers
        });
        let (stream, _) = listener.accept().unwrap();
        let sick = dir.join("alpha.sick");
        answer(stream, &file, "alpha", Some(&sick));
        let answers = client.join().unwrap();
        let lines: Vec<&str> = answers.lines().collect();
        assert_eq!(
            lines[..4],
            ["pong alpha", "ok 7", "ok 8", "error unknown request `frobnicate` (known: ping, write N)"]
        );
        assert_eq!(lines[4], format!("error request longer than {MAX_LINE} bytes"));
        assert_eq!(std::fs::read_to_string(dir.join(RECORDS)).unwrap(), "7\n8\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
