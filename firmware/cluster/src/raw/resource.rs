//! A resource table as written: the kind its `kind` key names, each kind a
//! struct of its own keys. Which keys a kind takes is its struct's fields;
//! whether a key may be left out, and what it may hold, is checked after
//! reading.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::S;
use crate::duration::Millis;

/// `[[group.resource]]`, read through [`super::Tagged`].
#[derive(Deserialize)]
#[serde(rename = "resource", rename_all = "snake_case")]
pub(crate) enum RawResource {
    Address(RawAddress),
    Mac(RawMac),
    NotifySwitch(RawNotifySwitch),
    Disk(RawDisk),
    Service(RawService),
}

/// `kind = "address"`: a service address.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAddress {
    pub(crate) ip: Option<S<String>>,
    pub(crate) interface: Option<S<String>>,
    pub(crate) broadcast: Option<S<String>>,
    pub(crate) garp_count: Option<S<i64>>,
    pub(crate) garp_interval: Option<S<Millis>>,
    pub(crate) garp_refresh: Option<S<Millis>>,
}

/// `kind = "mac"`: a MAC address moved with the group.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMac {
    pub(crate) address: Option<S<String>>,
    pub(crate) derive: Option<S<bool>>,
    pub(crate) interface: Option<S<String>>,
}

/// `kind = "notify_switch"`: a frame so learning switches follow.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotifySwitch {
    pub(crate) interface: Option<S<String>>,
}

/// `kind = "disk"`: a filesystem on a shared disk.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDisk {
    pub(crate) device: Option<S<String>>,
    pub(crate) mountpoint: Option<S<String>>,
    pub(crate) fstype: Option<S<String>>,
    pub(crate) options: Option<S<String>>,
    pub(crate) fsck: Option<S<String>>,
    pub(crate) activate: Option<S<Vec<S<String>>>>,
    pub(crate) deactivate: Option<S<Vec<S<String>>>>,
    pub(crate) kill_grace: Option<S<Millis>>,
    pub(crate) timeout: Option<S<Millis>>,
    pub(crate) fsck_timeout: Option<S<Millis>>,
}

/// `kind = "service"`: a program run one of four ways.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub(crate) script: Option<S<String>>,
    pub(crate) search: Option<S<Vec<S<String>>>>,
    pub(crate) systemd: Option<S<String>>,
    pub(crate) ocf: Option<S<String>>,
    pub(crate) params: Option<S<BTreeMap<String, S<String>>>>,
    pub(crate) command: Option<S<Vec<S<String>>>>,
    pub(crate) respawn: Option<S<bool>>,
    pub(crate) timeout: Option<S<Millis>>,
}
