//! `wardenctl import-heartbeat`: turns heartbeat's `ha.cf`, `haresources`
//! and `authkeys` into Warden's cluster TOML, so heartbeat users can move
//! over.
//!
//! What maps: `node` lines (nodes, in order; relay channels 0, 1, ...),
//! `keepalive`/`warntime`/`deadtime`/`initdead` (seconds, or `ms`),
//! `serial` and `baud` (each node's serial link to the controller),
//! `auto_failback` (`legacy` becomes off, reported), `nice_failback`,
//! `ping`/`ping_group` (and `respawn ... ipfail`, whose role is built in),
//! `watchdog`; each `haresources` line becomes a group (home first, then the
//! other nodes), with bare and `IPaddr`/`IPaddr2`/`IPv6addr` addresses,
//! `Filesystem::dev::mnt::type[::options]` disks, and any other name as a
//! resource script (`name::arg1::arg2`); `authkeys`' active key: `sha1` and
//! `md5` become `hmac` under the same key text (md5 is reported), `crc`
//! stays `crc`.
//!
//! Everything else is returned as [`Unmapped`], one per directive, for the
//! caller to show; nothing is dropped silently. The produced text is checked
//! with [`warden_cluster::parse`] before it is returned.

mod authkeys;
mod emit;
mod error;
mod hacf;
mod haresources;

use std::fmt;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use warden_cluster::{open_private, parse};
use warden_core::controller::Timing;
use warden_core::Duration;

pub use error::{ImportError, Source, Unmapped};

use authkeys::Key;

/// The three files' contents.
#[derive(Debug, Clone, Copy)]
pub struct Texts<'a> {
    /// `ha.cf`.
    pub ha_cf: &'a str,
    /// `haresources`.
    pub haresources: &'a str,
    /// `authkeys`.
    pub authkeys: &'a str,
}

/// Choices the heartbeat files do not make.
#[derive(Debug, Clone)]
pub struct Options {
    /// The cluster's name (heartbeat clusters have none).
    pub name: String,
    /// The key file as the TOML names it (relative: from the TOML's directory).
    pub key_file: PathBuf,
}

/// An imported configuration.
pub struct Import {
    /// Warden's TOML; [`warden_cluster::parse`] accepts it.
    pub toml: String,
    /// The key to write to the key file; `None` with `crc`.
    pub key: Option<Vec<u8>>,
    /// Directives not carried over, in file order.
    pub unmapped: Vec<Unmapped>,
    /// Choices the importer made that the operator should review.
    pub notes: Vec<String>,
}

impl fmt::Debug for Import {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Import")
            .field("toml", &self.toml)
            .field("key", &self.key.as_ref().map(|k| format!("{} bytes", k.len())))
            .field("unmapped", &self.unmapped)
            .field("notes", &self.notes)
            .finish()
    }
}

/// The serial device given to every node when `ha.cf` names none.
pub const DEFAULT_SERIAL: &str = "/dev/ttyS0";

/// Imports from the three texts.
pub fn import(texts: &Texts<'_>, options: &Options) -> Result<Import, ImportError> {
    let mut unmapped = Vec::new();
    let mut notes = Vec::new();
    let cf = hacf::parse(texts.ha_cf, &mut unmapped)?;
    let groups = haresources::parse(texts.haresources)?;
    let key = authkeys::parse(texts.authkeys, &mut unmapped)?;

    for g in &groups {
        if !cf.nodes.iter().any(|(n, _)| *n == g.home) {
            let known: Vec<&str> = cf.nodes.iter().map(|(n, _)| n.as_str()).collect();
            return Err(ImportError::Invalid {
                file: Source::Haresources,
                line: g.line,
                message: format!("node `{}` is not a `node` of ha.cf ({})", g.home, known.join(", ")),
            });
        }
    }
    let serial = cf.serial.clone().unwrap_or_else(|| {
        notes.push(format!("ha.cf has no `serial` line: every node is given serial device {DEFAULT_SERIAL}; edit [node.serial] to match the wiring to the controller"));
        DEFAULT_SERIAL.to_owned()
    });
    let timing = timing(&cf, &mut notes)?;

    let parts = emit::Parts {
        name: &options.name,
        cf: &cf,
        serial: &serial,
        timing: &timing,
        groups: &groups,
        key: &key,
        key_file: &options.key_file,
    };
    let toml = emit::toml(&parts);
    parse(&toml, "imported configuration")?;
    unmapped.sort_by_key(|u| (u.file as u8, u.line));
    Ok(Import {
        toml,
        key: match key {
            Key::Crc => None,
            Key::Hmac(k) => Some(k),
        },
        unmapped,
        notes,
    })
}

/// heartbeat's timing, checked against Warden's rules with the ha.cf line
/// named. A missing `initdead` shorter than `deadtime` follows heartbeat's
/// advice (twice `deadtime`).
fn timing(cf: &hacf::HaCf, notes: &mut Vec<String>) -> Result<Vec<(&'static str, u64)>, ImportError> {
    let mut t = Timing::DEFAULT;
    let mut out: Vec<(&'static str, u64)> = Vec::new();
    for (key, ms, _) in &cf.timing {
        let slot = match *key {
            "keepalive" => &mut t.keepalive,
            "warntime" => &mut t.warntime,
            "deadtime" => &mut t.deadtime,
            _ => &mut t.initdead,
        };
        *slot = Duration::from_millis(*ms);
        out.push((key, *ms));
    }
    let given = |k: &str| cf.timing.iter().find(|(key, ..)| *key == k).map(|(_, _, line)| *line);
    if given("initdead").is_none() && t.initdead < t.deadtime {
        t.initdead = Duration::from_millis(t.deadtime.as_millis().saturating_mul(2));
        out.push(("initdead", t.initdead.as_millis()));
        notes.push(format!(
            "ha.cf gives no `initdead`: set to twice deadtime, {}",
            warden_cluster::format_millis(t.initdead.as_millis())
        ));
    }
    if let Err(e) = t.validate() {
        let line = given(e.key).or_else(|| cf.timing.last().map(|(_, _, l)| *l)).unwrap_or(0);
        return Err(ImportError::Invalid {
            file: Source::HaCf,
            line,
            message: format!("{e} (Warden's rule; heartbeat's values do not meet it)"),
        });
    }
    let order = ["keepalive", "warntime", "deadtime", "initdead"];
    out.sort_by_key(|(k, _)| order.iter().position(|o| o == k));
    Ok(out)
}

/// Reads the three files from `dir`. `authkeys` is refused when group or
/// others may access it, as heartbeat refused it.
pub fn read_dir(dir: &Path) -> Result<(String, String, String), ImportError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|error| ImportError::Read { path, error })
    };
    let ha_cf = read("ha.cf")?;
    let haresources = read("haresources")?;
    let path = dir.join("authkeys");
    let mut authkeys = String::new();
    open_private(&path)?.read_to_string(&mut authkeys).map_err(|error| ImportError::Read { path, error })?;
    Ok((ha_cf, haresources, authkeys))
}

/// Reads `dir` and imports it.
pub fn import_dir(dir: &Path, options: &Options) -> Result<Import, ImportError> {
    let (ha_cf, haresources, authkeys) = read_dir(dir)?;
    import(&Texts { ha_cf: &ha_cf, haresources: &haresources, authkeys: &authkeys }, options)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same
/// directory created with `mode`, synced, then renamed over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."));
    let name = path.file_name().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is durable once the directory is synced.
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
