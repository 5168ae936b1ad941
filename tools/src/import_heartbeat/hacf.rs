//! `ha.cf`: nodes, timing, media, failback, ping nodes.

use super::error::{ImportError, Source, Unmapped};

/// What `ha.cf` says that Warden can use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HaCf {
    /// `node` names in order.
    pub(crate) nodes: Vec<(String, usize)>,
    /// Timing in milliseconds, by Warden key, with the line it came from.
    pub(crate) timing: Vec<(&'static str, u64, usize)>,
    /// The first `serial` device.
    pub(crate) serial: Option<String>,
    /// `baud`.
    pub(crate) baud: Option<u32>,
    /// `auto_failback on|off` (or the inverse of `nice_failback`).
    pub(crate) auto_failback: Option<bool>,
    /// `ping` hosts.
    pub(crate) ping: Vec<String>,
    /// `ping_group` name and hosts.
    pub(crate) ping_groups: Vec<(String, Vec<String>)>,
    /// `watchdog` device.
    pub(crate) watchdog: Option<String>,
    /// Line of a `respawn ... ipfail`, kept until the ping nodes are known.
    pub(crate) ipfail: Option<usize>,
}

/// heartbeat's serial speed when `baud` is not given.
pub(crate) const HEARTBEAT_BAUD: u32 = 19_200;

fn invalid(line: usize, message: String) -> ImportError {
    ImportError::Invalid { file: Source::HaCf, line, message }
}

/// heartbeat's times: seconds (`2`, `0.5`) or milliseconds (`500ms`).
pub(crate) fn heartbeat_time(text: &str) -> Option<u64> {
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().ok();
    }
    let secs = text.strip_suffix('s').unwrap_or(text);
    let (whole, frac) = secs.split_once('.').unwrap_or((secs, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 3
    {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let frac_ms: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<3}").parse().ok()? };
    whole.checked_mul(1000)?.checked_add(frac_ms)
}

/// Parses `ha.cf`, adding what cannot be mapped to `unmapped`.
pub(crate) fn parse(text: &str, unmapped: &mut Vec<Unmapped>) -> Result<HaCf, ImportError> {
    let mut cf = HaCf::default();
    let mut skip = |line: usize, directive: &str, why: &str| {
        unmapped.push(Unmapped { file: Source::HaCf, line, directive: directive.to_owned(), why: why.to_owned() });
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.split('#').next().unwrap_or_default();
        let mut words = content.split_whitespace();
        let Some(directive) = words.next() else {
            continue;
        };
        let args: Vec<&str> = words.collect();
        let one = || -> Result<&str, ImportError> {
            match args.as_slice() {
                [v] => Ok(v),
                _ => Err(invalid(line, format!("`{directive}` takes one value, found {}", args.len()))),
            }
        };
        match directive {
            "node" => {
                if args.is_empty() {
                    return Err(invalid(line, "`node` names no node".to_owned()));
                }
                for n in &args {
                    if cf.nodes.iter().any(|(m, _)| m == n) {
                        return Err(invalid(line, format!("node `{n}` is listed twice")));
                    }
                    cf.nodes.push(((*n).to_owned(), line));
                }
            }
            "keepalive" | "warntime" | "deadtime" | "initdead" => {
                let v = one()?;
                let ms = heartbeat_time(v)
                    .ok_or_else(|| invalid(line, format!("`{directive} {v}`: not seconds (`2`, `1.5`) or milliseconds (`500ms`)")))?;
                let key = match directive {
                    "keepalive" => "keepalive",
                    "warntime" => "warntime",
                    "deadtime" => "deadtime",
                    _ => "initdead",
                };
                cf.timing.retain(|(k, _, _)| *k != key);
                cf.timing.push((key, ms, line));
            }
            "serial" => {
                let Some((first, rest)) = args.split_first() else {
                    return Err(invalid(line, "`serial` names no device".to_owned()));
                };
                if cf.serial.is_none() {
                    cf.serial = Some((*first).to_owned());
                    if !rest.is_empty() {
                        skip(line, "serial", "a node has one serial link, to the controller: only the first device is used");
                    }
                } else {
                    skip(line, "serial", "a node has one serial link, to the controller: only the first device is used");
                }
            }
            "baud" => {
                let v = one()?;
                cf.baud = Some(v.parse().map_err(|_| invalid(line, format!("`baud {v}`: not a number")))?);
            }
            "auto_failback" => match one()? {
                "on" => cf.auto_failback = Some(true),
                "off" => cf.auto_failback = Some(false),
                "legacy" => {
                    cf.auto_failback = Some(false);
                    skip(line, "auto_failback legacy", "Warden has no legacy mode: groups get auto_failback = false");
                }
                v => return Err(invalid(line, format!("`auto_failback {v}`: expected on, off or legacy"))),
            },
            "nice_failback" => match one()? {
                "on" => cf.auto_failback = Some(false),
                "off" => cf.auto_failback = Some(true),
                v => return Err(invalid(line, format!("`nice_failback {v}`: expected on or off"))),
            },
            "ping" => {
                if args.is_empty() {
                    return Err(invalid(line, "`ping` names no host".to_owned()));
                }
                cf.ping.extend(args.iter().map(|s| (*s).to_owned()));
            }
            "ping_group" => match args.split_first() {
                Some((name, hosts)) if !hosts.is_empty() => {
                    cf.ping_groups.push(((*name).to_owned(), hosts.iter().map(|s| (*s).to_owned()).collect()));
                }
                _ => return Err(invalid(line, "`ping_group` needs a name and at least one host".to_owned())),
            },
            "watchdog" => cf.watchdog = Some(one()?.to_owned()),
            "respawn" => {
                let cmd = args.get(1).copied().unwrap_or_default();
                if cmd.rsplit('/').next() == Some("ipfail") {
                    cf.ipfail = Some(line);
                } else {
                    skip(line, "respawn", "Warden does not spawn cluster daemons; run it as a `command` service of a group or as a systemd unit");
                }
            }
            "bcast" | "mcast" | "ucast" => skip(
                line,
                directive,
                "Warden's network link goes from each node to the controller, not between nodes: add [node.udp] controller = \"ADDRESS\" by hand",
            ),
            "udpport" => skip(line, directive, "applies to [node.udp] port, which is not imported: set it with the controller address"),
            "logfacility" | "logfile" | "debugfile" | "debug" | "use_logd" => {
                skip(line, directive, "the agent logs to stderr (the journal under systemd)");
            }
            "hopfudge" => skip(line, directive, "Warden has no ring topology: every node talks to the controller directly"),
            "deadping" => skip(line, directive, "ping nodes are reported by the agents; the controller compares them"),
            "crm" | "pacemaker" => skip(line, directive, "Warden is its own resource manager: groups come from haresources"),
            "stonith" | "stonith_host" => skip(line, directive, "the controller's relays fence the nodes: set each [[node]] relay"),
            _ => skip(line, directive, "unknown to the importer"),
        }
    }
    if let Some(line) = cf.ipfail {
        if cf.ping.is_empty() && cf.ping_groups.is_empty() {
            skip(line, "respawn", "ipfail without ping nodes does nothing; add `ping` lines");
        }
    }
    if cf.nodes.is_empty() {
        return Err(invalid(0, "no `node` line: the cluster's nodes are unknown".to_owned()));
    }
    Ok(cf)
}
