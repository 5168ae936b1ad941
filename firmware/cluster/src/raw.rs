//! The file as written: every value with its span, nothing checked beyond
//! TOML types and known keys. [`super::validate`] turns it into the model.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::duration::Millis;

pub(crate) type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub(crate) cluster: S<RawCluster>,
    pub(crate) timing: Option<S<RawTiming>>,
    pub(crate) agent: Option<S<RawAgent>>,
    #[serde(default)]
    pub(crate) node: Vec<S<RawNode>>,
    #[serde(default)]
    pub(crate) group: Vec<S<RawGroup>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCluster {
    pub(crate) name: S<String>,
    pub(crate) key_file: Option<S<String>>,
    pub(crate) auth: Option<S<String>>,
    pub(crate) fence_idle_dead: Option<S<bool>>,
    pub(crate) alert: Option<S<Vec<S<String>>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTiming {
    pub(crate) keepalive: Option<S<Millis>>,
    pub(crate) warntime: Option<S<Millis>>,
    pub(crate) deadtime: Option<S<Millis>>,
    pub(crate) initdead: Option<S<Millis>>,
    pub(crate) release_timeout: Option<S<Millis>>,
    pub(crate) fence_timeout: Option<S<Millis>>,
    pub(crate) failback_delay: Option<S<Millis>>,
    pub(crate) move_window: Option<S<Millis>>,
    pub(crate) max_moves: Option<S<i64>>,
    pub(crate) failure_timeout: Option<S<Millis>>,
    pub(crate) auto_unfence_after: Option<S<Millis>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAgent {
    pub(crate) socket: Option<S<String>>,
    pub(crate) state_dir: Option<S<String>>,
    pub(crate) probe_interval: Option<S<Millis>>,
    pub(crate) restart_window: Option<S<Millis>>,
    pub(crate) mlock: Option<S<bool>>,
    pub(crate) realtime_priority: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNode {
    pub(crate) name: S<String>,
    pub(crate) relay: Option<S<i64>>,
    pub(crate) serial: Option<S<RawSerial>>,
    pub(crate) udp: Option<S<RawUdp>>,
    pub(crate) ping: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    pub(crate) ping_group: Vec<S<RawPingGroup>>,
    pub(crate) watchdog: Option<S<String>>,
    pub(crate) watchdog_timeout: Option<S<Millis>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSerial {
    pub(crate) device: S<String>,
    pub(crate) baud: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUdp {
    pub(crate) controller: S<String>,
    pub(crate) port: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPingGroup {
    pub(crate) name: S<String>,
    pub(crate) hosts: S<Vec<S<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroup {
    pub(crate) name: S<String>,
    pub(crate) nodes: S<Vec<S<String>>>,
    pub(crate) auto_failback: Option<S<bool>>,
    #[serde(default)]
    pub(crate) resource: Vec<S<RawResource>>,
    #[serde(default)]
    pub(crate) monitor: Vec<S<RawMonitor>>,
}

/// Every key any resource kind takes; which ones a kind accepts is checked
/// after reading, so the error can say "not a key of a `disk` resource".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawResource {
    pub(crate) kind: S<String>,
    // address
    pub(crate) ip: Option<S<String>>,
    pub(crate) interface: Option<S<String>>,
    pub(crate) broadcast: Option<S<String>>,
    pub(crate) garp_count: Option<S<i64>>,
    pub(crate) garp_interval: Option<S<Millis>>,
    pub(crate) garp_refresh: Option<S<Millis>>,
    // mac
    pub(crate) address: Option<S<String>>,
    pub(crate) derive: Option<S<bool>>,
    // disk
    pub(crate) device: Option<S<String>>,
    pub(crate) mountpoint: Option<S<String>>,
    pub(crate) fstype: Option<S<String>>,
    pub(crate) options: Option<S<String>>,
    pub(crate) fsck: Option<S<String>>,
    pub(crate) activate: Option<S<Vec<S<String>>>>,
    pub(crate) deactivate: Option<S<Vec<S<String>>>>,
    pub(crate) kill_grace: Option<S<Millis>>,
    pub(crate) fsck_timeout: Option<S<Millis>>,
    // service
    pub(crate) script: Option<S<String>>,
    pub(crate) search: Option<S<Vec<S<String>>>>,
    pub(crate) systemd: Option<S<String>>,
    pub(crate) ocf: Option<S<String>>,
    pub(crate) params: Option<S<BTreeMap<String, S<String>>>>,
    pub(crate) command: Option<S<Vec<S<String>>>>,
    pub(crate) respawn: Option<S<bool>>,
    // disk and service
    pub(crate) timeout: Option<S<Millis>>,
}

fn span_of<T>(v: &Option<S<T>>) -> Option<Range<usize>> {
    v.as_ref().map(Spanned::span)
}

impl RawResource {
    /// The keys present besides `kind`, with their spans, in file order.
    pub(crate) fn present(&self) -> Vec<(&'static str, Range<usize>)> {
        let mut keys: Vec<(&'static str, Range<usize>)> = [
            ("ip", span_of(&self.ip)),
            ("interface", span_of(&self.interface)),
            ("broadcast", span_of(&self.broadcast)),
            ("garp_count", span_of(&self.garp_count)),
            ("garp_interval", span_of(&self.garp_interval)),
            ("garp_refresh", span_of(&self.garp_refresh)),
            ("address", span_of(&self.address)),
            ("derive", span_of(&self.derive)),
            ("device", span_of(&self.device)),
            ("mountpoint", span_of(&self.mountpoint)),
            ("fstype", span_of(&self.fstype)),
            ("options", span_of(&self.options)),
            ("fsck", span_of(&self.fsck)),
            ("activate", span_of(&self.activate)),
            ("deactivate", span_of(&self.deactivate)),
            ("kill_grace", span_of(&self.kill_grace)),
            ("fsck_timeout", span_of(&self.fsck_timeout)),
            ("script", span_of(&self.script)),
            ("search", span_of(&self.search)),
            ("systemd", span_of(&self.systemd)),
            ("ocf", span_of(&self.ocf)),
            ("params", span_of(&self.params)),
            ("command", span_of(&self.command)),
            ("respawn", span_of(&self.respawn)),
            ("timeout", span_of(&self.timeout)),
        ]
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect();
        keys.sort_by_key(|(_, s)| s.start);
        keys
    }
}

/// Every key any monitor kind takes (see [`RawResource`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMonitor {
    pub(crate) kind: S<String>,
    pub(crate) address: Option<S<String>>,
    pub(crate) send: Option<S<String>>,
    pub(crate) expect: Option<S<String>>,
    pub(crate) url: Option<S<String>>,
    pub(crate) status: Option<S<i64>>,
    pub(crate) command: Option<S<Vec<S<String>>>>,
    pub(crate) interval: Option<S<Millis>>,
    pub(crate) timeout: Option<S<Millis>>,
    pub(crate) failures: Option<S<i64>>,
    pub(crate) restarts: Option<S<i64>>,
}

impl RawMonitor {
    /// The keys present besides `kind` and the common ones, with spans.
    pub(crate) fn present(&self) -> Vec<(&'static str, Range<usize>)> {
        let mut keys: Vec<(&'static str, Range<usize>)> = [
            ("address", span_of(&self.address)),
            ("send", span_of(&self.send)),
            ("expect", span_of(&self.expect)),
            ("url", span_of(&self.url)),
            ("status", span_of(&self.status)),
            ("command", span_of(&self.command)),
        ]
        .into_iter()
        .filter_map(|(k, s)| s.map(|s| (k, s)))
        .collect();
        keys.sort_by_key(|(_, s)| s.start);
        keys
    }
}
