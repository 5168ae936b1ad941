//! Checks of single values that several tables share: names, ranges,
//! durations, paths, hosts, interfaces and command lines.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::Checked;
use crate::duration::{format_millis, Millis};
use crate::error::Problem;
use crate::raw::S;

pub(super) fn int_in(v: &S<i64>, lo: i64, hi: i64) -> Checked<i64> {
    let x = *v.get_ref();
    if (lo..=hi).contains(&x) {
        Ok(x)
    } else {
        Err(Problem::at(v.span(), format!("{x} is out of range {lo}..={hi}")))
    }
}

pub(super) fn min_duration(d: &S<Millis>, min_ms: u64) -> Checked<Duration> {
    let ms = d.get_ref().0;
    if ms < min_ms {
        Err(Problem::at(d.span(), format!("{} is too short: at least {}", format_millis(ms), format_millis(min_ms))))
    } else {
        Ok(d.get_ref().std())
    }
}

pub(super) fn name(v: &S<String>, what: &str) -> Checked<String> {
    let s = v.get_ref();
    let ok = (1..=64).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(s.clone())
    } else {
        Err(Problem::at(
            v.span(),
            format!(
                "{what} name `{s}` must be 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit"
            ),
        ))
    }
}

pub(super) fn host(v: &S<String>) -> Checked<String> {
    let s = v.get_ref();
    if s.parse::<IpAddr>().is_ok() {
        return Ok(s.clone());
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if s.len() <= 253 && s.split('.').all(label_ok) {
        Ok(s.clone())
    } else {
        Err(Problem::at(v.span(), format!("`{s}` is neither an IP address nor a host name")))
    }
}

/// An address to listen on, `IP:PORT` with a port from 1 to 65535.
pub(super) fn listen_addr(v: &S<String>) -> Checked<SocketAddr> {
    let s = v.get_ref();
    match s.parse::<SocketAddr>() {
        Ok(a) if a.port() != 0 => Ok(a),
        _ => Err(Problem::at(v.span(), format!("`{s}` is not IP:PORT with a port from 1 to 65535"))),
    }
}

pub(super) fn absolute(v: &S<String>) -> Checked<PathBuf> {
    let s = v.get_ref();
    if s.starts_with('/') {
        Ok(PathBuf::from(s))
    } else {
        Err(Problem::at(v.span(), format!("`{s}` is not an absolute path")))
    }
}

pub(super) fn interface(v: &S<String>) -> Checked<String> {
    let s = v.get_ref();
    let ok = (1..=15).contains(&s.len())
        && s != "."
        && s != ".."
        && !s.chars().any(|c| c.is_whitespace() || c == '/' || c == ':');
    if ok {
        Ok(s.clone())
    } else {
        Err(Problem::at(
            v.span(),
            format!("`{s}` is not an interface name (1 to 15 characters, no `/`, `:` or spaces)"),
        ))
    }
}

pub(super) fn argv(v: &S<Vec<S<String>>>) -> Checked<Vec<String>> {
    let list = v.get_ref();
    match list.first() {
        None => Err(Problem::at(v.span(), "is empty: give the program and its arguments")),
        Some(p) if p.get_ref().is_empty() => Err(Problem::at(p.span(), "the program name is empty")),
        Some(_) => Ok(list.iter().map(|s| s.get_ref().clone()).collect()),
    }
}
