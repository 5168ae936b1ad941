//! `kind = "address"`: a service address and its announcements.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::{Checked, Claims, Table};
use crate::duration::format_millis;
use crate::error::Problem;
use crate::model::AddressConfig;
use crate::raw::{RawAddress, S};
use crate::validate::value::{int_in, interface, min_duration};

pub(super) fn check(r: &RawAddress, table: &Table, claims: &mut Claims<'_>) -> Checked<AddressConfig> {
    let ip_s = table.required(&r.ip, "ip")?;
    let (ip, prefix) = ip_and_prefix(ip_s)?;
    let broadcast = match &r.broadcast {
        None => None,
        Some(b) => {
            if ip.is_ipv6() {
                return Err(Problem::at(b.span(), "IPv6 has no broadcast address"));
            }
            Some(
                b.get_ref()
                    .parse::<Ipv4Addr>()
                    .map_err(|_| Problem::at(b.span(), format!("`{}` is not an IPv4 address", b.get_ref())))?,
            )
        }
    };
    let garp_count = r.garp_count.as_ref().map_or(Ok(5), |c| int_in(c, 0, 100))?;
    let garp_interval = r.garp_interval.as_ref().map_or(Ok(Duration::from_millis(200)), |d| {
        let ms = d.get_ref().0;
        if ms == 0 || ms > 10_000 {
            Err(Problem::at(d.span(), format!("{} must be between 1ms and 10s", format_millis(ms))))
        } else {
            Ok(d.get_ref().std())
        }
    })?;
    let garp_refresh = r.garp_refresh.as_ref().map(|d| min_duration(d, 1000)).transpose()?;
    let address = AddressConfig {
        ip,
        prefix,
        interface: r.interface.as_ref().map(interface).transpose()?,
        broadcast,
        garp_count: u32::try_from(garp_count).unwrap_or(5),
        garp_interval,
        garp_refresh,
    };
    claims.ip(ip, ip_s.span())?;
    Ok(address)
}

/// The address's IPv4 address, if it is a valid one.
pub(super) fn ipv4(r: &RawAddress) -> Option<Ipv4Addr> {
    match ip_and_prefix(r.ip.as_ref()?).ok()? {
        (IpAddr::V4(v4), _) => Some(v4),
        (IpAddr::V6(_), _) => None,
    }
}

fn ip_and_prefix(v: &S<String>) -> Checked<(IpAddr, Option<u8>)> {
    let s = v.get_ref();
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s.as_str(), None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| Problem::at(v.span(), format!("`{addr}` is not an IP address")))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => None,
        Some(p) => Some(
            p.parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| Problem::at(v.span(), format!("prefix `/{p}` is not a number from 0 to {max}")))?,
        ),
    };
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    if special {
        return Err(Problem::at(
            v.span(),
            format!("{ip} cannot be a service address (unspecified, loopback, multicast or broadcast)"),
        ));
    }
    Ok((ip, prefix))
}
