//! `[[group.resource]]`: the check of the kind its `kind` names, one module
//! per kind.

mod address;
mod disk;
mod mac;
mod notify_switch;
mod service;

use std::net::Ipv4Addr;
use std::ops::Range;

use super::across::Claims;
use super::Checked;
use crate::error::Problem;
use crate::model::ResourceConfig;
use crate::raw::{RawResource, Tagged, S};

pub use service::DEFAULT_SEARCH;

/// A group's resources, in file order.
pub(super) fn check_all(raw: &[S<Tagged<RawResource>>], claims: &mut Claims<'_>) -> Checked<Vec<ResourceConfig>> {
    // The address a derived MAC is made from: the group's first IPv4 one.
    let first_v4 = raw.iter().find_map(|r| match &r.get_ref().body {
        RawResource::Address(a) => address::ipv4(a),
        _ => None,
    });
    raw.iter().map(|r| check(r, first_v4, claims)).collect()
}

/// A resource table as a whole: where it is and its kind, for the keys it
/// lacks.
struct Table {
    span: Range<usize>,
    kind: &'static str,
}

impl Table {
    fn required<'a, T>(&self, v: &'a Option<S<T>>, key: &'static str) -> Checked<&'a S<T>> {
        v.as_ref()
            .ok_or_else(|| Problem::below(self.span.clone(), key, format!("a `{}` resource needs `{key}`", self.kind)))
    }
}

fn check(raw: &S<Tagged<RawResource>>, first_v4: Option<Ipv4Addr>, claims: &mut Claims<'_>) -> Checked<ResourceConfig> {
    let Tagged { kind, body } = raw.get_ref();
    let table = Table { span: raw.span(), kind };
    Ok(match body {
        RawResource::Address(r) => ResourceConfig::Address(address::check(r, &table, claims)?),
        RawResource::Mac(r) => ResourceConfig::Mac(mac::check(r, &table, first_v4, claims)?),
        RawResource::NotifySwitch(r) => ResourceConfig::NotifySwitch(notify_switch::check(r, &table)?),
        RawResource::Disk(r) => ResourceConfig::Disk(disk::check(r, &table, claims)?),
        RawResource::Service(r) => ResourceConfig::Service(service::check(r, &table)?),
    })
}
