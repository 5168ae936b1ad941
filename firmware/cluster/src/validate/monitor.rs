//! `[[group.monitor]]`: a health check of a kind (tcp, http, command), how
//! often it runs and what failing it does.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::time::Duration;

use super::value::{argv, int_in, min_duration};
use super::Checked;
use crate::duration::format_millis;
use crate::error::Problem;
use crate::escape::unescape;
use crate::model::{CheckConfig, MonitorConfig};
use crate::raw::{RawMonitor, S};

const TCP_KEYS: &[&str] = &["address", "send", "expect"];
const HTTP_KEYS: &[&str] = &["url", "status"];
const COMMAND_KEYS: &[&str] = &["command"];

pub(super) fn check(raw: &S<RawMonitor>) -> Checked<MonitorConfig> {
    let m = raw.get_ref();
    let kind = m.kind.get_ref().as_str();
    let present = m.present();
    let need = |key: &'static str| Problem::below(raw.span(), key, format!("a `{kind}` monitor needs `{key}`"));
    let check = match kind {
        "tcp" => {
            only_keys(&present, kind, TCP_KEYS)?;
            let a = m.address.as_ref().ok_or_else(|| need("address"))?;
            let address = socket_addr(a)?;
            let bytes = |v: &Option<S<String>>| -> Checked<Option<Vec<u8>>> {
                v.as_ref().map(|s| unescape(s.get_ref()).map_err(|e| Problem::at(s.span(), e.to_string()))).transpose()
            };
            match (bytes(&m.send)?, bytes(&m.expect)?) {
                (None, None) => CheckConfig::Tcp { address },
                (send, expect) => CheckConfig::SendExpect {
                    address,
                    send: send.unwrap_or_default(),
                    expect: expect.unwrap_or_default(),
                },
            }
        }
        "http" => {
            only_keys(&present, kind, HTTP_KEYS)?;
            let u = m.url.as_ref().ok_or_else(|| need("url"))?;
            let (address, host, path) = http_url(u)?;
            let status = m.status.as_ref().map_or(Ok(200), |s| int_in(s, 100, 599))?;
            CheckConfig::Http { address, host, path, status: u16::try_from(status).unwrap_or(200) }
        }
        "command" => {
            only_keys(&present, kind, COMMAND_KEYS)?;
            CheckConfig::Command { argv: argv(m.command.as_ref().ok_or_else(|| need("command"))?)? }
        }
        other => {
            return Err(Problem::at(
                m.kind.span(),
                format!("unknown monitor kind `{other}` (known: tcp, http, command)"),
            ))
        }
    };
    let interval = m.interval.as_ref().map_or(Ok(Duration::from_secs(10)), |d| min_duration(d, 1))?;
    let timeout = m.timeout.as_ref().map_or(Ok(Duration::from_secs(5).min(interval)), |d| min_duration(d, 1))?;
    if timeout > interval {
        let span = m.timeout.as_ref().map_or_else(|| raw.span(), S::span);
        return Err(Problem::at(
            span,
            format!(
                "timeout {} is longer than interval {}: checks would overlap",
                format_millis(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
                format_millis(u64::try_from(interval.as_millis()).unwrap_or(u64::MAX))
            ),
        ));
    }
    let failures = m.failures.as_ref().map_or(Ok(3), |f| int_in(f, 1, 1000))?;
    let restarts = m.restarts.as_ref().map_or(Ok(0), |f| int_in(f, 0, 100))?;
    Ok(MonitorConfig {
        check,
        interval,
        timeout,
        failures: u32::try_from(failures).unwrap_or(3),
        restarts: u32::try_from(restarts).unwrap_or(0),
    })
}

/// Refuses keys that belong to another kind.
fn only_keys(present: &[(&'static str, Range<usize>)], kind: &str, allowed: &[&str]) -> Checked<()> {
    for (key, span) in present {
        if !allowed.contains(key) {
            return Err(Problem::at(
                span.clone(),
                format!("`{key}` is not a key of kind `{kind}` (its keys: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn socket_addr(v: &S<String>) -> Checked<SocketAddr> {
    let s = v.get_ref();
    let text = s.strip_prefix("localhost:").map_or_else(|| s.clone(), |port| format!("127.0.0.1:{port}"));
    text.parse().map_err(|_| {
        Problem::at(
            v.span(),
            format!(
                "`{s}` is not IP:PORT (e.g. 127.0.0.1:80 or [::1]:80; names other than localhost are not resolved)"
            ),
        )
    })
}

/// `http://HOST[:PORT][/PATH]` with HOST an IP literal or `localhost`.
fn http_url(v: &S<String>) -> Checked<(SocketAddr, String, String)> {
    let s = v.get_ref();
    let bad = |why: &str| Problem::at(v.span(), format!("`{s}` {why}"));
    let rest = s.strip_prefix("http://").ok_or_else(|| bad("is not an http:// URL (https is not checked)"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(bad("has no host"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("has an unclosed `[`"))?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port: u16 = match port {
        None => 80,
        Some(p) => p.parse().ok().filter(|p| *p != 0).ok_or_else(|| bad("has a bad port"))?,
    };
    let ip: IpAddr = if host == "localhost" {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse().map_err(|_| bad("must name an IP address or localhost (names are not resolved)"))?
    };
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("has spaces or control characters in its path"));
    }
    Ok((SocketAddr::new(ip, port), authority.to_owned(), path.to_owned()))
}
