//! `kind = "notify_switch"`: the interface a frame is sent from so that
//! learning switches follow the group.

use super::{Checked, Table};
use crate::model::NotifySwitchConfig;
use crate::raw::RawNotifySwitch;
use crate::validate::value::interface;

pub(super) fn check(r: &RawNotifySwitch, table: &Table) -> Checked<NotifySwitchConfig> {
    let iface = interface(table.required(&r.interface, "interface")?)?;
    Ok(NotifySwitchConfig { interface: iface })
}
