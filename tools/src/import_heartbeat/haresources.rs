//! `haresources`: one group per line, `home res1 res2 ...`.

use std::net::{IpAddr, Ipv4Addr};

use super::error::{ImportError, Source};

/// A resource as heartbeat named it, read into Warden's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HaResource {
    /// `192.168.85.3/27`, `IPaddr::...`, `IPaddr2::...`, `IPv6addr::...`.
    Address {
        /// The address.
        ip: IpAddr,
        /// `/nn`.
        prefix: Option<u8>,
        /// The interface field.
        interface: Option<String>,
        /// The broadcast field.
        broadcast: Option<Ipv4Addr>,
    },
    /// `Filesystem::dev::mnt::type[::options]`.
    Disk {
        /// Device.
        device: String,
        /// Mount point.
        mountpoint: String,
        /// Type.
        fstype: String,
        /// Options.
        options: Option<String>,
    },
    /// Any other name: a resource script, `name::arg1::arg2`.
    Script(String),
}

/// One line: a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HaGroup {
    /// The first line of the entry.
    pub(crate) line: usize,
    /// The entry as written (continuations joined).
    pub(crate) text: String,
    /// Its home node.
    pub(crate) home: String,
    /// Resources in start order.
    pub(crate) resources: Vec<HaResource>,
}

fn invalid(line: usize, message: String) -> ImportError {
    ImportError::Invalid { file: Source::Haresources, line, message }
}

/// Parses `haresources`. Lines ending in `\` continue on the next.
pub(crate) fn parse(text: &str) -> Result<Vec<HaGroup>, ImportError> {
    let mut groups = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or_default().trim_end();
        let (start, mut joined) = pending.take().unwrap_or((line, String::new()));
        if let Some(body) = content.strip_suffix('\\') {
            joined.push_str(body);
            joined.push(' ');
            pending = Some((start, joined));
            continue;
        }
        joined.push_str(content);
        let mut words = joined.split_whitespace();
        let Some(home) = words.next() else { continue };
        let resources = words.map(|w| resource(w, start)).collect::<Result<Vec<_>, _>>()?;
        if resources.is_empty() {
            return Err(invalid(start, format!("node `{home}` is given no resource")));
        }
        groups.push(HaGroup {
            line: start,
            text: joined.split_whitespace().collect::<Vec<_>>().join(" "),
            home: home.to_owned(),
            resources,
        });
    }
    if let Some((start, _)) = pending {
        return Err(invalid(start, "the last line ends with `\\` but nothing follows".to_owned()));
    }
    Ok(groups)
}

fn resource(word: &str, line: usize) -> Result<HaResource, ImportError> {
    let (name, arg) = word.split_once("::").unwrap_or((word, ""));
    match name {
        "IPaddr" | "IPaddr2" => ipaddr(arg, word, line),
        "IPv6addr" => {
            let (ip, prefix) = arg.split_once('/').map_or((arg, None), |(a, p)| (a, Some(p)));
            let ip: std::net::Ipv6Addr =
                ip.parse().map_err(|_| invalid(line, format!("`{word}`: `{ip}` is not an IPv6 address")))?;
            let prefix = prefix
                .map(|p| {
                    p.parse::<u8>()
                        .ok()
                        .filter(|p| *p <= 128)
                        .ok_or_else(|| invalid(line, format!("`{word}`: bad prefix `/{p}`")))
                })
                .transpose()?;
            Ok(HaResource::Address { ip: IpAddr::V6(ip), prefix, interface: None, broadcast: None })
        }
        "Filesystem" => {
            let parts: Vec<&str> = arg.split("::").collect();
            match parts.as_slice() {
                [device, mountpoint, fstype] | [device, mountpoint, fstype, _] => Ok(HaResource::Disk {
                    device: (*device).to_owned(),
                    mountpoint: (*mountpoint).to_owned(),
                    fstype: (*fstype).to_owned(),
                    options: parts.get(3).map(|o| (*o).to_owned()),
                }),
                [_, _] => Err(invalid(
                    line,
                    format!("`{word}` has no filesystem type: write Filesystem::DEVICE::MOUNTPOINT::TYPE"),
                )),
                _ => Err(invalid(line, format!("`{word}` is not Filesystem::DEVICE::MOUNTPOINT::TYPE[::OPTIONS]"))),
            }
        }
        // heartbeat's shorthand: a bare address is IPaddr::address.
        _ if !word.contains("::") && word.split('/').next().is_some_and(|a| a.parse::<Ipv4Addr>().is_ok()) => {
            ipaddr(word, word, line)
        }
        _ => Ok(HaResource::Script(word.to_owned())),
    }
}

/// IPaddr's argument: `ip[/nn[/iface][/broadcast]]`.
fn ipaddr(arg: &str, word: &str, line: usize) -> Result<HaResource, ImportError> {
    let mut fields = arg.split('/');
    let ip_text = fields.next().unwrap_or_default();
    let ip: Ipv4Addr =
        ip_text.parse().map_err(|_| invalid(line, format!("`{word}`: `{ip_text}` is not an IPv4 address")))?;
    let prefix = fields
        .next()
        .map(|p| {
            p.parse::<u8>()
                .ok()
                .filter(|p| *p <= 32)
                .ok_or_else(|| invalid(line, format!("`{word}`: `{p}` is not a prefix length 0 to 32")))
        })
        .transpose()?;
    let rest: Vec<&str> = fields.collect();
    let (interface, broadcast) = match rest.as_slice() {
        [] => (None, None),
        [one] => match one.parse::<Ipv4Addr>() {
            Ok(b) => (None, Some(b)),
            Err(_) => (Some((*one).to_owned()), None),
        },
        [iface, brd] => {
            let b = brd
                .parse::<Ipv4Addr>()
                .map_err(|_| invalid(line, format!("`{word}`: `{brd}` is not a broadcast address")))?;
            (Some((*iface).to_owned()), Some(b))
        }
        _ => return Err(invalid(line, format!("`{word}` has too many `/` fields (ip/nn/iface/broadcast)"))),
    };
    Ok(HaResource::Address { ip: IpAddr::V4(ip), prefix, interface, broadcast })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_forms() {
        let v4 = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            resource("192.168.85.3/27/192.168.85.16", 1).unwrap(),
            HaResource::Address {
                ip: IpAddr::V4(v4("192.168.85.3")),
                prefix: Some(27),
                interface: None,
                broadcast: Some(v4("192.168.85.16"))
            }
        );
        assert_eq!(
            resource("IPaddr::192.168.85.3/27/eth0/192.168.85.31", 1).unwrap(),
            HaResource::Address {
                ip: IpAddr::V4(v4("192.168.85.3")),
                prefix: Some(27),
                interface: Some("eth0".into()),
                broadcast: Some(v4("192.168.85.31"))
            }
        );
        assert_eq!(
            resource("192.168.85.3", 1).unwrap(),
            HaResource::Address { ip: IpAddr::V4(v4("192.168.85.3")), prefix: None, interface: None, broadcast: None }
        );
        assert_eq!(resource("maid::vacuum", 1).unwrap(), HaResource::Script("maid::vacuum".into()));
        assert!(resource("IPaddr::192.168.85.3/40", 7).unwrap_err().to_string().starts_with("haresources:7: "));
    }
}
