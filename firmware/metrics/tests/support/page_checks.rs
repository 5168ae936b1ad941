//! What the daemons' process tests ask of a metrics page: a scrape over
//! plain TCP, a sample's value, `promtool check metrics`, and a row in
//! `docs/metrics.md` for every family. Included by those tests with
//! `#[path]` (it is no test target of its own).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Longest wait for an answer: a bound against hanging, not a timing goal.
const ANSWER_BOUND: Duration = Duration::from_secs(30);

/// `docs/metrics.md`.
pub(crate) const METRICS_DOC: &str = include_str!("../../../../docs/metrics.md");

/// Sends `request` on a new connection and reads the answer to its end
/// (empty if the endpoint closed it unanswered).
pub(crate) fn http(to: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(to).unwrap();
    s.set_read_timeout(Some(ANSWER_BOUND)).unwrap();
    let _ = s.write_all(request);
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// `GET /metrics`: the page, if it was answered `200`.
pub(crate) fn scrape(to: SocketAddr) -> Option<String> {
    let answer = http(to, b"GET /metrics HTTP/1.1\r\nHost: warden\r\n\r\n");
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200 ").then(|| body.to_owned())
}

/// The value of `series` (its name and labels as the page writes them).
pub(crate) fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// `promtool check metrics` on `page`; fails naming the package when
/// promtool is missing.
pub(crate) fn promtool_check_metrics(page: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("promtool: {e}: apt-get install prometheus (it ships promtool)"));
    child.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{page}");
}

/// Fails unless every family on `page` has its row in `docs/metrics.md`.
pub(crate) fn every_family_documented(page: &str) {
    let missing: Vec<&str> = page
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split_whitespace().next())
        .filter(|name| !METRICS_DOC.contains(&format!("| `{name}` |")))
        .collect();
    assert!(missing.is_empty(), "docs/metrics.md has no row for: {missing:?}");
}
