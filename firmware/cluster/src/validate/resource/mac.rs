//! `kind = "mac"`: a locally administered unicast MAC, given or derived
//! from the group's first IPv4 address.

use std::net::Ipv4Addr;

use super::{Checked, Claims, Table};
use crate::error::Problem;
use crate::model::{format_mac, MacConfig};
use crate::raw::{RawMac, S};
use crate::validate::value::interface;

pub(super) fn check(
    r: &RawMac,
    table: &Table,
    first_v4: Option<Ipv4Addr>,
    claims: &mut Claims<'_>,
) -> Checked<MacConfig> {
    let derive = r.derive.as_ref().is_some_and(|d| *d.get_ref());
    let address = match (&r.address, derive) {
        (Some(a), false) => {
            let mac = parse_mac(a.get_ref()).ok_or_else(|| {
                Problem::at(a.span(), format!("`{}` is not a MAC address (write 02:00:c0:a8:55:03)", a.get_ref()))
            })?;
            if mac[0] & 0x01 != 0 {
                return Err(Problem::at(
                    a.span(),
                    format!("{} is a multicast address: a moved MAC must be unicast", format_mac(mac)),
                ));
            }
            if mac[0] & 0x02 == 0 {
                return Err(Problem::at(
                    a.span(),
                    format!(
                        "{} is not locally administered (the second bit of the first byte must be set, e.g. 02:...)",
                        format_mac(mac)
                    ),
                ));
            }
            mac
        }
        (Some(a), true) => return Err(Problem::at(a.span(), "give `address` or `derive = true`, not both")),
        (None, true) => {
            let span = r.derive.as_ref().map_or_else(|| table.span.clone(), S::span);
            let v4 = first_v4
                .ok_or_else(|| Problem::at(span, "`derive = true` needs an IPv4 `address` resource in the group"))?;
            let [w, x, y, z] = v4.octets();
            [0x02, 0x00, w, x, y, z]
        }
        (None, false) => {
            return Err(Problem::below(
                table.span.clone(),
                "address",
                "a `mac` resource needs `address` or `derive = true`",
            ))
        }
    };
    let iface = interface(table.required(&r.interface, "interface")?)?;
    let span = r.address.as_ref().map_or_else(|| r.derive.as_ref().map_or(0..0, S::span), S::span);
    claims.mac(address, span)?;
    Ok(MacConfig { address, interface: iface })
}

/// `02:00:c0:a8:55:03` or `02-00-c0-a8-55-03`.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let sep = if text.contains('-') { '-' } else { ':' };
    let mut out = [0u8; 6];
    let mut parts = text.split(sep);
    for byte in &mut out {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}
