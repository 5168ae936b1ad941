//! Writing the imported cluster as Warden's TOML.

use std::fmt::Write as _;
use std::path::Path;

use warden_cluster::format_millis;

use super::authkeys::Key;
use super::hacf::{HaCf, HEARTBEAT_BAUD};
use super::haresources::{HaGroup, HaResource};

fn s(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|i| s(i)).collect::<Vec<_>>().join(", "))
}

/// Everything the TOML is made from.
pub(crate) struct Parts<'a> {
    pub(crate) name: &'a str,
    pub(crate) cf: &'a HaCf,
    pub(crate) serial: &'a str,
    pub(crate) timing: &'a [(&'static str, u64)],
    pub(crate) groups: &'a [HaGroup],
    pub(crate) key: &'a Key,
    pub(crate) key_file: &'a Path,
}

/// The configuration text. `writeln!` into a `String` cannot fail.
pub(crate) fn toml(p: &Parts<'_>) -> String {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "# Imported from heartbeat's ha.cf, haresources and authkeys by `wardenctl import-heartbeat`.");
    let _ = writeln!(o, "# Directives that could not be carried over were listed when it ran.");
    let _ = writeln!(o, "\n[cluster]\nname = {}", s(p.name));
    match p.key {
        Key::Crc => {
            let _ = writeln!(o, "auth = \"crc\"");
        }
        Key::Hmac(_) => {
            let _ = writeln!(o, "auth = \"hmac\"\nkey_file = {}", s(&p.key_file.display().to_string()));
        }
    }
    if !p.timing.is_empty() {
        let _ = writeln!(o, "\n[timing]");
        for (key, ms) in p.timing {
            let _ = writeln!(o, "{key} = {}", s(&format_millis(*ms)));
        }
    }
    for (i, (node, _)) in p.cf.nodes.iter().enumerate() {
        let _ = writeln!(o, "\n[[node]]\nname = {}\nrelay = {i}", s(node));
        if let Some(w) = &p.cf.watchdog {
            let _ = writeln!(o, "watchdog = {}", s(w));
        }
        if !p.cf.ping.is_empty() {
            let _ = writeln!(o, "ping = {}", list(&p.cf.ping));
        }
        let _ = writeln!(o, "[node.serial]\ndevice = {}\nbaud = {}", s(p.serial), p.cf.baud.unwrap_or(HEARTBEAT_BAUD));
        for (name, hosts) in &p.cf.ping_groups {
            let _ = writeln!(o, "[[node.ping_group]]\nname = {}\nhosts = {}", s(name), list(hosts));
        }
    }
    let names: Vec<&str> = p.cf.nodes.iter().map(|(n, _)| n.as_str()).collect();
    for (i, g) in p.groups.iter().enumerate() {
        let mut nodes = vec![g.home.clone()];
        nodes.extend(names.iter().filter(|n| **n != g.home).map(|n| (*n).to_owned()));
        let _ = writeln!(o, "\n# haresources line {}: {}", g.line, g.text);
        let _ = writeln!(o, "[[group]]\nname = \"group{}\"\nnodes = {}", i + 1, list(&nodes));
        let _ = writeln!(o, "auto_failback = {}", p.cf.auto_failback.unwrap_or(false));
        for r in &g.resources {
            let _ = writeln!(o, "\n[[group.resource]]");
            match r {
                HaResource::Address { ip, prefix, interface, broadcast } => {
                    let ip = prefix.map_or_else(|| ip.to_string(), |p| format!("{ip}/{p}"));
                    let _ = writeln!(o, "kind = \"address\"\nip = {}", s(&ip));
                    if let Some(i) = interface {
                        let _ = writeln!(o, "interface = {}", s(i));
                    }
                    if let Some(b) = broadcast {
                        let _ = writeln!(o, "broadcast = {}", s(&b.to_string()));
                    }
                }
                HaResource::Disk { device, mountpoint, fstype, options } => {
                    let _ = writeln!(
                        o,
                        "kind = \"disk\"\ndevice = {}\nmountpoint = {}\nfstype = {}",
                        s(device),
                        s(mountpoint),
                        s(fstype)
                    );
                    if let Some(opts) = options {
                        let _ = writeln!(o, "options = {}", s(opts));
                    }
                }
                HaResource::Script(spec) => {
                    let _ = writeln!(o, "kind = \"service\"\nscript = {}", s(spec));
                }
            }
        }
    }
    out
}
