//! The file as written: every value with its span, nothing checked beyond
//! TOML types and known keys. [`super::validate`] turns it into the model.

mod resource;
mod tagged;

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml_edit::{DocumentMut, ImDocument, Item, TableLike, Value};

use super::duration::Millis;

pub(crate) use resource::{RawAddress, RawDisk, RawMac, RawNotifySwitch, RawResource, RawService};
pub(crate) use tagged::Tagged;

pub(crate) type S<T> = Spanned<T>;

/// Reads `text` as written. Each resource table's `kind` is moved to its
/// front first, so that [`Tagged`] knows the kind before the other keys.
pub(crate) fn read(text: &str) -> Result<RawConfig, toml_edit::de::Error> {
    let mut root = ImDocument::parse(text)?.into_table();
    let groups: Vec<&mut dyn TableLike> = match root.get_mut("group") {
        Some(Item::ArrayOfTables(a)) => a.iter_mut().map(|t| t as &mut dyn TableLike).collect(),
        Some(Item::Value(Value::Array(a))) => {
            a.iter_mut().filter_map(Value::as_inline_table_mut).map(|t| t as &mut dyn TableLike).collect()
        }
        _ => Vec::new(),
    };
    for group in groups {
        tagged::kind_first(group.get_mut("resource"));
    }
    toml_edit::de::from_document(DocumentMut::from(root))
}

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
    pub(crate) metrics: Option<S<String>>,
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
    pub(crate) resource: Vec<S<Tagged<RawResource>>>,
    #[serde(default)]
    pub(crate) monitor: Vec<S<RawMonitor>>,
}

/// Every key any monitor kind takes; which ones a kind accepts is checked
/// after reading, so the error can say "not a key of kind `tcp`".
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

fn span_of<T>(v: &Option<S<T>>) -> Option<Range<usize>> {
    v.as_ref().map(Spanned::span)
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
