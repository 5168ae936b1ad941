//! From the file as written ([`RawConfig`]) to the checked model
//! ([`Config`]). The first problem found is returned; nothing is kept from a
//! configuration that has one.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use warden_core::controller::{Timing, TimingProblem};
use warden_core::{GroupId, NodeId, MAX_GROUPS, MAX_NODES};

use super::duration::{format_millis, Millis};
use super::error::Problem;
use super::model::{
    format_mac, AddressConfig, AgentSettings, Auth, CheckConfig, Cluster, Config, DiskConfig, Fsck, GroupConfig,
    MacConfig, MonitorConfig, NodeConfig, NotifySwitchConfig, PingGroup, ResourceConfig, SerialLink, Service,
    ServiceConfig, UdpLink,
};
use super::raw::{
    RawAddress, RawAgent, RawCluster, RawConfig, RawDisk, RawGroup, RawMac, RawMonitor, RawNode, RawNotifySwitch,
    RawResource, RawService, RawTiming, Tagged, S,
};
use crate::escape::unescape;

type Checked<T> = Result<T, Problem>;

/// heartbeat's registered port, kept for UDP links to the controller.
pub const DEFAULT_UDP_PORT: u16 = 694;
/// Serial speed when `baud` is not given.
pub const DEFAULT_BAUD: u32 = 115_200;
/// Line speeds a serial link accepts.
pub const BAUDS: [u32; 12] =
    [1200, 2400, 4800, 9600, 19_200, 38_400, 57_600, 115_200, 230_400, 460_800, 921_600, 1_000_000];
/// Where scripts are looked for when `search` is not given.
pub const DEFAULT_SEARCH: [&str; 2] = ["/etc/ha.d/resource.d", "/etc/init.d"];

const TCP_KEYS: &[&str] = &["address", "send", "expect"];
const HTTP_KEYS: &[&str] = &["url", "status"];
const COMMAND_KEYS: &[&str] = &["command"];

pub(crate) fn validate(raw: &RawConfig) -> Checked<Config> {
    let cluster = cluster(&raw.cluster)?;
    let timing = timing(raw.timing.as_ref())?;
    let agent = agent(raw.agent.as_ref())?;

    if raw.node.is_empty() {
        return Err(Problem::below(0..0, "node", "no node is defined: give at least one [[node]]"));
    }
    if let Some(extra) = raw.node.get(MAX_NODES) {
        return Err(Problem::at(extra.span(), format!("too many nodes: at most {MAX_NODES}")));
    }
    let mut nodes: Vec<NodeConfig> = Vec::with_capacity(raw.node.len());
    for (i, n) in raw.node.iter().enumerate() {
        let node = node(i, n)?;
        if let Some(j) = nodes.iter().position(|o| o.name == node.name) {
            return Err(Problem::at(
                n.get_ref().name.span(),
                format!("node name `{}` is already used by node[{j}]", node.name),
            ));
        }
        if let Some(o) = nodes.iter().find(|o| o.relay == node.relay) {
            let span = n.get_ref().relay.as_ref().map_or_else(|| n.span(), S::span);
            return Err(Problem::at(
                span,
                format!("relay channel {} is already used by node `{}`", node.relay, o.name),
            ));
        }
        nodes.push(node);
    }

    if let Some(extra) = raw.group.get(MAX_GROUPS) {
        return Err(Problem::at(extra.span(), format!("too many groups: at most {MAX_GROUPS}")));
    }
    let mut groups: Vec<GroupConfig> = Vec::with_capacity(raw.group.len());
    let mut taken = Taken::default();
    for (i, g) in raw.group.iter().enumerate() {
        let group = group(i, g, &nodes, &mut taken)?;
        if let Some(j) = groups.iter().position(|o| o.name == group.name) {
            return Err(Problem::at(
                g.get_ref().name.span(),
                format!("group name `{}` is already used by group[{j}]", group.name),
            ));
        }
        groups.push(group);
    }

    if cluster.auth == Auth::Crc {
        if let Some(n) = nodes.iter().find(|n| n.udp.is_some()) {
            let span = raw.cluster.get_ref().auth.as_ref().map_or_else(|| raw.cluster.span(), S::span);
            return Err(Problem::at(
                span,
                format!("`crc` is refused because node `{}` has a UDP link: crc only suits a point-to-point serial cable; use `hmac`", n.name),
            ));
        }
    }

    let config = Config { cluster, timing, agent, nodes, groups };
    // The controller's own check: it cannot fail after the checks above, but
    // the controller must never be handed something it would refuse.
    config.cluster_config().validate().map_err(|e| Problem::at(0..0, format!("refused by the controller: {e}")))?;
    Ok(config)
}

// ---- cluster and timing ----

fn cluster(raw: &S<RawCluster>) -> Checked<Cluster> {
    let c = raw.get_ref();
    let name = name(&c.name, "cluster")?;
    let auth = match c.auth.as_ref() {
        None => Auth::Hmac,
        Some(a) => match a.get_ref().as_str() {
            "hmac" => Auth::Hmac,
            "crc" => Auth::Crc,
            other => return Err(Problem::at(a.span(), format!("unknown auth `{other}` (known: hmac, crc)"))),
        },
    };
    let key_file = match (auth, c.key_file.as_ref()) {
        (Auth::Hmac, None) => {
            return Err(Problem::below(
                raw.span(),
                "key_file",
                "auth `hmac` needs `key_file`, the file holding the cluster key (mode 0600)",
            ))
        }
        (Auth::Crc, Some(k)) => {
            return Err(Problem::at(k.span(), "auth `crc` uses no key: remove `key_file` or use auth = \"hmac\""));
        }
        (_, Some(k)) if k.get_ref().is_empty() => return Err(Problem::at(k.span(), "is empty")),
        (_, k) => k.map(|k| PathBuf::from(k.get_ref())),
    };
    let alert = c.alert.as_ref().map(argv).transpose()?;
    Ok(Cluster {
        name,
        auth,
        key_file,
        fence_idle_dead: c.fence_idle_dead.as_ref().is_some_and(|b| *b.get_ref()),
        alert,
    })
}

fn timing(raw: Option<&S<RawTiming>>) -> Checked<Timing> {
    let mut t = Timing::DEFAULT;
    let Some(raw) = raw else {
        return Ok(t);
    };
    let r = raw.get_ref();
    let set = |slot: &mut warden_core::Duration, v: &Option<S<Millis>>| {
        if let Some(v) = v {
            *slot = v.get_ref().core();
        }
    };
    set(&mut t.keepalive, &r.keepalive);
    set(&mut t.warntime, &r.warntime);
    set(&mut t.deadtime, &r.deadtime);
    set(&mut t.initdead, &r.initdead);
    set(&mut t.release_timeout, &r.release_timeout);
    set(&mut t.fence_timeout, &r.fence_timeout);
    set(&mut t.failback_delay, &r.failback_delay);
    set(&mut t.move_window, &r.move_window);
    set(&mut t.failure_timeout, &r.failure_timeout);
    if let Some(m) = &r.max_moves {
        t.max_moves = u8::try_from(int_in(m, 1, 255)?).unwrap_or(u8::MAX);
    }
    if let Some(a) = &r.auto_unfence_after {
        if a.get_ref().0 == 0 {
            return Err(Problem::at(
                a.span(),
                "must be greater than zero (leave it out to power fenced nodes on only by hand)",
            ));
        }
        t.auto_unfence_after = Some(a.get_ref().core());
    }
    let Err(e) = t.validate() else {
        return Ok(t);
    };
    let spans: [(&str, &Option<S<Millis>>); 10] = [
        ("keepalive", &r.keepalive),
        ("warntime", &r.warntime),
        ("deadtime", &r.deadtime),
        ("initdead", &r.initdead),
        ("release_timeout", &r.release_timeout),
        ("fence_timeout", &r.fence_timeout),
        ("failback_delay", &r.failback_delay),
        ("move_window", &r.move_window),
        ("failure_timeout", &r.failure_timeout),
        ("auto_unfence_after", &r.auto_unfence_after),
    ];
    let given = |key: &str| spans.iter().find(|(k, _)| *k == key).and_then(|(_, v)| v.as_ref()).map(S::span);
    let show = |key: &str, ms: warden_core::Duration| {
        let v = format_millis(ms.as_millis());
        if given(key).is_some() {
            v
        } else {
            format!("{v} (default)")
        }
    };
    let message = match e.problem {
        TimingProblem::Zero => "must be greater than zero".to_owned(),
        TimingProblem::DeadtimeTooShort => format!(
            "{} must be more than twice keepalive ({})",
            show("deadtime", t.deadtime),
            show("keepalive", t.keepalive)
        ),
        TimingProblem::WarntimeOutside => format!(
            "{} must be greater than keepalive ({}) and less than deadtime ({})",
            show("warntime", t.warntime),
            show("keepalive", t.keepalive),
            show("deadtime", t.deadtime)
        ),
        TimingProblem::InitdeadShort => {
            format!("{} must be at least deadtime ({})", show("initdead", t.initdead), show("deadtime", t.deadtime))
        }
        _ => e.to_string(),
    };
    Err(match given(e.key) {
        Some(span) => Problem::at(span, message),
        None => Problem::below(raw.span(), e.key, message),
    })
}

// ---- agent ----

fn agent(raw: Option<&S<RawAgent>>) -> Checked<AgentSettings> {
    let mut a = AgentSettings::default();
    let Some(raw) = raw else {
        return Ok(a);
    };
    let r = raw.get_ref();
    if let Some(s) = &r.socket {
        a.socket = absolute(s)?;
        if a.socket.file_name().is_none() || s.get_ref().ends_with('/') {
            return Err(Problem::at(s.span(), format!("`{}` names a directory, not a socket file", s.get_ref())));
        }
    }
    if let Some(d) = &r.state_dir {
        a.state_dir = absolute(d)?;
    }
    if let Some(p) = &r.probe_interval {
        a.probe_interval = min_duration(p, 1000)?;
    }
    if let Some(w) = &r.restart_window {
        a.restart_window = min_duration(w, 1000)?;
    }
    a.mlock = r.mlock.as_ref().is_some_and(|b| *b.get_ref());
    if let Some(p) = &r.realtime_priority {
        a.realtime_priority = Some(u8::try_from(int_in(p, 1, 99)?).unwrap_or(1));
    }
    Ok(a)
}

// ---- nodes ----

fn node(index: usize, raw: &S<RawNode>) -> Checked<NodeConfig> {
    let n = raw.get_ref();
    let name = name(&n.name, "node")?;
    let relay = match &n.relay {
        Some(r) => u8::try_from(int_in(r, 0, 255)?).unwrap_or(u8::MAX),
        None => u8::try_from(index).unwrap_or(u8::MAX),
    };
    let serial = match &n.serial {
        None => None,
        Some(s) => {
            let s = s.get_ref();
            let device = absolute(&s.device)?;
            let baud = match &s.baud {
                None => DEFAULT_BAUD,
                Some(b) => {
                    let v = *b.get_ref();
                    match u32::try_from(v).ok().filter(|v| BAUDS.contains(v)) {
                        Some(v) => v,
                        None => {
                            let known: Vec<String> = BAUDS.iter().map(u32::to_string).collect();
                            return Err(Problem::at(
                                b.span(),
                                format!("{v} is not a serial speed (known: {})", known.join(", ")),
                            ));
                        }
                    }
                }
            };
            Some(SerialLink { device, baud })
        }
    };
    let udp = match &n.udp {
        None => None,
        Some(u) => {
            let u = u.get_ref();
            let ip: IpAddr = u.controller.get_ref().parse().map_err(|_| {
                Problem::at(u.controller.span(), format!("`{}` is not an IP address", u.controller.get_ref()))
            })?;
            let port = match &u.port {
                None => DEFAULT_UDP_PORT,
                Some(p) => u16::try_from(int_in(p, 1, 65_535)?).unwrap_or(DEFAULT_UDP_PORT),
            };
            Some(UdpLink { controller: SocketAddr::new(ip, port) })
        }
    };
    if serial.is_none() && udp.is_none() {
        return Err(Problem::at(
            raw.span(),
            format!("node `{name}` has no link to the controller: give [node.serial] or [node.udp]"),
        ));
    }
    let ping = match &n.ping {
        None => Vec::new(),
        Some(p) => p.get_ref().iter().map(host).collect::<Checked<_>>()?,
    };
    let mut ping_groups: Vec<PingGroup> = Vec::new();
    for pg in &n.ping_group {
        let g = pg.get_ref();
        let gname = self::name(&g.name, "ping group")?;
        if ping_groups.iter().any(|o| o.name == gname) {
            return Err(Problem::at(g.name.span(), format!("ping group `{gname}` is defined twice")));
        }
        if g.hosts.get_ref().is_empty() {
            return Err(Problem::at(g.hosts.span(), "is empty: a ping group needs at least one host"));
        }
        let hosts = g.hosts.get_ref().iter().map(host).collect::<Checked<_>>()?;
        ping_groups.push(PingGroup { name: gname, hosts });
    }
    let watchdog = n.watchdog.as_ref().map(watchdog_device).transpose()?;
    let watchdog_timeout = match (&n.watchdog_timeout, &watchdog) {
        (None, _) => Duration::from_secs(60),
        (Some(t), None) => {
            return Err(Problem::at(t.span(), "`watchdog_timeout` needs `watchdog`, the device it applies to"));
        }
        (Some(t), Some(_)) => {
            let ms = t.get_ref().0;
            if ms % 1000 != 0 || !(1000..=3_600_000).contains(&ms) {
                return Err(Problem::at(
                    t.span(),
                    format!("{} must be a whole number of seconds from 1s to 1h", format_millis(ms)),
                ));
            }
            t.get_ref().std()
        }
    };
    Ok(NodeConfig {
        name,
        id: NodeId(u8::try_from(index).unwrap_or(u8::MAX)),
        relay,
        serial,
        udp,
        ping,
        ping_groups,
        watchdog,
        watchdog_timeout,
    })
}

// ---- groups ----

/// Things two resources may not share across the cluster.
#[derive(Default)]
struct Taken {
    ips: BTreeMap<IpAddr, String>,
    macs: BTreeMap<[u8; 6], String>,
    mountpoints: BTreeMap<PathBuf, String>,
}

/// What the resources of one group claim in [`Taken`].
struct Claims<'a> {
    taken: &'a mut Taken,
    group: &'a str,
}

impl Claims<'_> {
    fn ip(&mut self, ip: IpAddr, span: Range<usize>) -> Checked<()> {
        match self.taken.ips.insert(ip, self.group.to_owned()) {
            Some(other) => Err(Problem::at(span, format!("address {ip} is already in group `{other}`"))),
            None => Ok(()),
        }
    }

    fn mac(&mut self, mac: [u8; 6], span: Range<usize>) -> Checked<()> {
        match self.taken.macs.insert(mac, self.group.to_owned()) {
            Some(other) => Err(Problem::at(span, format!("MAC {} is already in group `{other}`", format_mac(mac)))),
            None => Ok(()),
        }
    }

    fn mountpoint(&mut self, mountpoint: &std::path::Path, span: Range<usize>) -> Checked<()> {
        match self.taken.mountpoints.insert(mountpoint.to_owned(), self.group.to_owned()) {
            Some(other) => {
                Err(Problem::at(span, format!("mount point {} is already in group `{other}`", mountpoint.display())))
            }
            None => Ok(()),
        }
    }
}

fn group(index: usize, raw: &S<RawGroup>, nodes: &[NodeConfig], taken: &mut Taken) -> Checked<GroupConfig> {
    let g = raw.get_ref();
    let gname = name(&g.name, "group")?;
    if g.nodes.get_ref().is_empty() {
        return Err(Problem::at(
            g.nodes.span(),
            format!("group `{gname}` lists no node: give its eligible nodes, home first"),
        ));
    }
    let mut members: Vec<NodeId> = Vec::new();
    for n in g.nodes.get_ref() {
        let Some(node) = nodes.iter().find(|o| o.name == *n.get_ref()) else {
            let defined: Vec<&str> = nodes.iter().map(|o| o.name.as_str()).collect();
            return Err(Problem::at(
                n.span(),
                format!("node `{}` is not defined (nodes: {})", n.get_ref(), defined.join(", ")),
            ));
        };
        if members.contains(&node.id) {
            return Err(Problem::at(n.span(), format!("node `{}` is listed twice", n.get_ref())));
        }
        members.push(node.id);
    }
    if g.resource.is_empty() {
        return Err(Problem::below(
            raw.span(),
            "resource",
            format!("group `{gname}` has no resource: give at least one [[group.resource]]"),
        ));
    }
    // The address a derived MAC is made from: the group's first IPv4 one.
    let first_v4 = g.resource.iter().find_map(|r| match &r.get_ref().body {
        RawResource::Address(a) => address_v4(a),
        _ => None,
    });
    let mut claims = Claims { taken, group: &gname };
    let resources = g.resource.iter().map(|r| resource(r, first_v4, &mut claims)).collect::<Checked<_>>()?;
    let monitors = g.monitor.iter().map(monitor).collect::<Checked<_>>()?;
    Ok(GroupConfig {
        name: gname,
        id: GroupId(u8::try_from(index).unwrap_or(u8::MAX)),
        nodes: members,
        auto_failback: g.auto_failback.as_ref().is_some_and(|b| *b.get_ref()),
        resources,
        monitors,
    })
}

/// Refuses keys that belong to another kind.
fn only_keys(present: &[(&'static str, Range<usize>)], kind: &str, allowed: &[&str]) -> Checked<()> {
    for (key, span) in present {
        if !allowed.contains(key) {
            return Err(Problem::at(
                span.clone(),
                format!("`{key}` is not a key of kind `{kind}` (its keys: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

// ---- resources ----

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

fn resource(
    raw: &S<Tagged<RawResource>>,
    first_v4: Option<Ipv4Addr>,
    claims: &mut Claims<'_>,
) -> Checked<ResourceConfig> {
    let Tagged { kind, body } = raw.get_ref();
    let table = Table { span: raw.span(), kind };
    Ok(match body {
        RawResource::Address(r) => ResourceConfig::Address(address(r, &table, claims)?),
        RawResource::Mac(r) => ResourceConfig::Mac(mac(r, &table, first_v4, claims)?),
        RawResource::NotifySwitch(r) => ResourceConfig::NotifySwitch(notify_switch(r, &table)?),
        RawResource::Disk(r) => ResourceConfig::Disk(disk(r, &table, claims)?),
        RawResource::Service(r) => ResourceConfig::Service(service(r, &table)?),
    })
}

// ---- address ----

fn address(r: &RawAddress, table: &Table, claims: &mut Claims<'_>) -> Checked<AddressConfig> {
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
fn address_v4(r: &RawAddress) -> Option<Ipv4Addr> {
    match ip_and_prefix(r.ip.as_ref()?).ok()? {
        (IpAddr::V4(v4), _) => Some(v4),
        (IpAddr::V6(_), _) => None,
    }
}

// ---- mac ----

fn mac(r: &RawMac, table: &Table, first_v4: Option<Ipv4Addr>, claims: &mut Claims<'_>) -> Checked<MacConfig> {
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

// ---- notify_switch ----

fn notify_switch(r: &RawNotifySwitch, table: &Table) -> Checked<NotifySwitchConfig> {
    let iface = interface(table.required(&r.interface, "interface")?)?;
    Ok(NotifySwitchConfig { interface: iface })
}

// ---- disk ----

fn disk(r: &RawDisk, table: &Table, claims: &mut Claims<'_>) -> Checked<DiskConfig> {
    let dev = table.required(&r.device, "device")?;
    let device = dev.get_ref().clone();
    let tagged = ["UUID=", "LABEL="].iter().any(|p| device.strip_prefix(p).is_some_and(|v| !v.is_empty()));
    if !(tagged || (device.starts_with('/') && device.len() > 1)) {
        return Err(Problem::at(
            dev.span(),
            format!("`{device}` is not an absolute device path, UUID=... or LABEL=..."),
        ));
    }
    let mp = table.required(&r.mountpoint, "mountpoint")?;
    let mountpoint = absolute(mp)?;
    if mountpoint == std::path::Path::new("/") {
        return Err(Problem::at(mp.span(), "the root directory cannot be a shared disk's mount point"));
    }
    if mountpoint.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(Problem::at(mp.span(), format!("`{}` contains `..`", mountpoint.display())));
    }
    let ft = table.required(&r.fstype, "fstype")?;
    let fstype = ft.get_ref().clone();
    if fstype.is_empty() || !fstype.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        return Err(Problem::at(ft.span(), format!("`{fstype}` is not a filesystem type (ext4, xfs, ...)")));
    }
    let options = match &r.options {
        None => "defaults".to_owned(),
        Some(o) => {
            let v = o.get_ref();
            if v.is_empty() || v.chars().any(char::is_whitespace) {
                return Err(Problem::at(
                    o.span(),
                    "mount options are one comma-separated word (noatime,errors=remount-ro)",
                ));
            }
            v.clone()
        }
    };
    let fsck = match &r.fsck {
        None => Fsck::IfDirty,
        Some(f) => match f.get_ref().as_str() {
            "never" => Fsck::Never,
            "if-dirty" => Fsck::IfDirty,
            "always" => Fsck::Always,
            other => {
                return Err(Problem::at(
                    f.span(),
                    format!("unknown fsck policy `{other}` (known: never, if-dirty, always)"),
                ))
            }
        },
    };
    let disk = DiskConfig {
        device,
        mountpoint,
        fstype,
        options,
        fsck,
        activate: r.activate.as_ref().map(argv).transpose()?,
        deactivate: r.deactivate.as_ref().map(argv).transpose()?,
        kill_grace: r.kill_grace.as_ref().map_or(Duration::from_secs(5), |d| d.get_ref().std()),
        timeout: r.timeout.as_ref().map_or(Ok(Duration::from_secs(60)), |d| min_duration(d, 1))?,
        fsck_timeout: r.fsck_timeout.as_ref().map_or(Ok(Duration::from_secs(3600)), |d| min_duration(d, 1))?,
    };
    claims.mountpoint(&disk.mountpoint, mp.span())?;
    Ok(disk)
}

// ---- service ----

/// The one way a service is run, as written.
enum Way<'a> {
    Script(&'a S<String>),
    Systemd(&'a S<String>),
    Ocf(&'a S<String>),
    Command(&'a S<Vec<S<String>>>),
}

impl Way<'_> {
    fn key(&self) -> &'static str {
        match self {
            Self::Script(_) => "script",
            Self::Systemd(_) => "systemd",
            Self::Ocf(_) => "ocf",
            Self::Command(_) => "command",
        }
    }

    fn span(&self) -> Range<usize> {
        match self {
            Self::Script(v) | Self::Systemd(v) | Self::Ocf(v) => v.span(),
            Self::Command(v) => v.span(),
        }
    }
}

fn service(r: &RawService, table: &Table) -> Checked<ServiceConfig> {
    let mut ways: Vec<Way<'_>> = [
        r.script.as_ref().map(Way::Script),
        r.systemd.as_ref().map(Way::Systemd),
        r.ocf.as_ref().map(Way::Ocf),
        r.command.as_ref().map(Way::Command),
    ]
    .into_iter()
    .flatten()
    .collect();
    ways.sort_by_key(|w| w.span().start);
    let way = match ways.as_slice() {
        [] => {
            return Err(Problem::below(
                table.span.clone(),
                "script",
                "a `service` resource needs one of `script`, `systemd`, `ocf`, `command`",
            ))
        }
        [first, second, ..] => {
            return Err(Problem::at(
                second.span(),
                format!("a service is run one way: `{}` and `{}` are both given", first.key(), second.key()),
            ))
        }
        [way] => way,
    };
    let companions = [
        ("search", "script", span_of(&r.search)),
        ("params", "ocf", span_of(&r.params)),
        ("respawn", "command", span_of(&r.respawn)),
    ];
    for (key, owner, span) in companions {
        if let Some(span) = span {
            if way.key() != owner {
                return Err(Problem::at(span, format!("`{key}` goes with `{owner}`, not with `{}`", way.key())));
            }
        }
    }
    let service = match way {
        Way::Script(s) => script(s, r.search.as_ref())?,
        Way::Systemd(u) => {
            let unit = u.get_ref();
            let ok = !unit.is_empty() && unit.chars().all(|c| c.is_ascii_alphanumeric() || ":_.@-\\".contains(c));
            if !ok {
                return Err(Problem::at(u.span(), format!("`{unit}` is not a systemd unit name")));
            }
            Service::Systemd { unit: unit.clone() }
        }
        Way::Ocf(o) => ocf(o, r.params.as_ref())?,
        Way::Command(c) => {
            Service::Command { argv: argv(c)?, respawn: r.respawn.as_ref().is_none_or(|b| *b.get_ref()) }
        }
    };
    let timeout = r.timeout.as_ref().map_or(Ok(Duration::from_secs(60)), |d| min_duration(d, 1))?;
    Ok(ServiceConfig { service, timeout })
}

fn span_of<T>(v: &Option<S<T>>) -> Option<Range<usize>> {
    v.as_ref().map(S::span)
}

fn script(s: &S<String>, search: Option<&S<Vec<S<String>>>>) -> Checked<Service> {
    let spec = s.get_ref();
    let mut parts = spec.split("::");
    let name = parts.next().unwrap_or_default().to_owned();
    let args: Vec<String> = parts.map(str::to_owned).collect();
    if name.is_empty() || (name.contains('/') && !name.starts_with('/')) || name.chars().any(char::is_whitespace) {
        return Err(Problem::at(
            s.span(),
            format!("`{spec}` is not a script name (`name`, `name::arg`, or an absolute path)"),
        ));
    }
    if args.iter().any(String::is_empty) {
        return Err(Problem::at(s.span(), format!("`{spec}` has an empty argument (`::::` or a trailing `::`)")));
    }
    let search = match search {
        None => DEFAULT_SEARCH.iter().map(PathBuf::from).collect(),
        Some(dirs) => dirs.get_ref().iter().map(absolute).collect::<Checked<_>>()?,
    };
    Ok(Service::Script { name, args, search })
}

fn ocf(o: &S<String>, params: Option<&S<BTreeMap<String, S<String>>>>) -> Checked<Service> {
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    let (provider, agent) = o.get_ref().split_once(':').filter(|(p, a)| word(p) && word(a)).ok_or_else(|| {
        Problem::at(o.span(), format!("`{}` is not `provider:type` (e.g. heartbeat:IPaddr2)", o.get_ref()))
    })?;
    let mut checked = BTreeMap::new();
    for (k, v) in params.map(S::get_ref).into_iter().flatten() {
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Problem::at(v.span(), format!("`{k}` is not an OCF parameter name (letters, digits, `_`)")));
        }
        checked.insert(k.clone(), v.get_ref().clone());
    }
    Ok(Service::Ocf { provider: provider.to_owned(), agent: agent.to_owned(), params: checked })
}

// ---- monitors ----

fn monitor(raw: &S<RawMonitor>) -> Checked<MonitorConfig> {
    let m = raw.get_ref();
    let kind = m.kind.get_ref().as_str();
    let present = m.present();
    let need = |key: &'static str| Problem::below(raw.span(), key, format!("a `{kind}` monitor needs `{key}`"));
    let check = match kind {
        "tcp" => {
            only_keys(&present, kind, TCP_KEYS)?;
            let a = m.address.as_ref().ok_or_else(|| need("address"))?;
            let address = socket_addr(a)?;
            let bytes = |v: &Option<S<String>>| -> Checked<Option<Vec<u8>>> {
                v.as_ref().map(|s| unescape(s.get_ref()).map_err(|e| Problem::at(s.span(), e.to_string()))).transpose()
            };
            match (bytes(&m.send)?, bytes(&m.expect)?) {
                (None, None) => CheckConfig::Tcp { address },
                (send, expect) => CheckConfig::SendExpect {
                    address,
                    send: send.unwrap_or_default(),
                    expect: expect.unwrap_or_default(),
                },
            }
        }
        "http" => {
            only_keys(&present, kind, HTTP_KEYS)?;
            let u = m.url.as_ref().ok_or_else(|| need("url"))?;
            let (address, host, path) = http_url(u)?;
            let status = m.status.as_ref().map_or(Ok(200), |s| int_in(s, 100, 599))?;
            CheckConfig::Http { address, host, path, status: u16::try_from(status).unwrap_or(200) }
        }
        "command" => {
            only_keys(&present, kind, COMMAND_KEYS)?;
            CheckConfig::Command { argv: argv(m.command.as_ref().ok_or_else(|| need("command"))?)? }
        }
        other => {
            return Err(Problem::at(
                m.kind.span(),
                format!("unknown monitor kind `{other}` (known: tcp, http, command)"),
            ))
        }
    };
    let interval = m.interval.as_ref().map_or(Ok(Duration::from_secs(10)), |d| min_duration(d, 1))?;
    let timeout = m.timeout.as_ref().map_or(Ok(Duration::from_secs(5).min(interval)), |d| min_duration(d, 1))?;
    if timeout > interval {
        let span = m.timeout.as_ref().map_or_else(|| raw.span(), S::span);
        return Err(Problem::at(
            span,
            format!(
                "timeout {} is longer than interval {}: checks would overlap",
                format_millis(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
                format_millis(u64::try_from(interval.as_millis()).unwrap_or(u64::MAX))
            ),
        ));
    }
    let failures = m.failures.as_ref().map_or(Ok(3), |f| int_in(f, 1, 1000))?;
    let restarts = m.restarts.as_ref().map_or(Ok(0), |f| int_in(f, 0, 100))?;
    Ok(MonitorConfig {
        check,
        interval,
        timeout,
        failures: u32::try_from(failures).unwrap_or(3),
        restarts: u32::try_from(restarts).unwrap_or(0),
    })
}

// ---- values ----

fn int_in(v: &S<i64>, lo: i64, hi: i64) -> Checked<i64> {
    let x = *v.get_ref();
    if (lo..=hi).contains(&x) {
        Ok(x)
    } else {
        Err(Problem::at(v.span(), format!("{x} is out of range {lo}..={hi}")))
    }
}

fn min_duration(d: &S<Millis>, min_ms: u64) -> Checked<Duration> {
    let ms = d.get_ref().0;
    if ms < min_ms {
        Err(Problem::at(d.span(), format!("{} is too short: at least {}", format_millis(ms), format_millis(min_ms))))
    } else {
        Ok(d.get_ref().std())
    }
}

fn name(v: &S<String>, what: &str) -> Checked<String> {
    let s = v.get_ref();
    let ok = (1..=64).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(s.clone())
    } else {
        Err(Problem::at(
            v.span(),
            format!(
                "{what} name `{s}` must be 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit"
            ),
        ))
    }
}

fn host(v: &S<String>) -> Checked<String> {
    let s = v.get_ref();
    if s.parse::<IpAddr>().is_ok() {
        return Ok(s.clone());
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if s.len() <= 253 && s.split('.').all(label_ok) {
        Ok(s.clone())
    } else {
        Err(Problem::at(v.span(), format!("`{s}` is neither an IP address nor a host name")))
    }
}

fn absolute(v: &S<String>) -> Checked<PathBuf> {
    let s = v.get_ref();
    if s.starts_with('/') {
        Ok(PathBuf::from(s))
    } else {
        Err(Problem::at(v.span(), format!("`{s}` is not an absolute path")))
    }
}

/// `/dev/watchdog` or `/dev/watchdogN`: the only names the kernel gives
/// watchdog devices.
fn watchdog_device(v: &S<String>) -> Checked<PathBuf> {
    let s = v.get_ref();
    let ok = s
        .strip_prefix("/dev/watchdog")
        .is_some_and(|n| n.is_empty() || n.parse::<u8>().is_ok_and(|id| id.to_string() == n));
    if ok {
        Ok(PathBuf::from(s))
    } else {
        Err(Problem::at(v.span(), format!("`{s}` is not a watchdog device (/dev/watchdog or /dev/watchdogN)")))
    }
}

fn interface(v: &S<String>) -> Checked<String> {
    let s = v.get_ref();
    let ok = (1..=15).contains(&s.len())
        && s != "."
        && s != ".."
        && !s.chars().any(|c| c.is_whitespace() || c == '/' || c == ':');
    if ok {
        Ok(s.clone())
    } else {
        Err(Problem::at(
            v.span(),
            format!("`{s}` is not an interface name (1 to 15 characters, no `/`, `:` or spaces)"),
        ))
    }
}

fn argv(v: &S<Vec<S<String>>>) -> Checked<Vec<String>> {
    let list = v.get_ref();
    match list.first() {
        None => Err(Problem::at(v.span(), "is empty: give the program and its arguments")),
        Some(p) if p.get_ref().is_empty() => Err(Problem::at(p.span(), "the program name is empty")),
        Some(_) => Ok(list.iter().map(|s| s.get_ref().clone()).collect()),
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

/// `02:00:c0:a8:55:03` or `02-00-c0-a8-55-03`.
pub(crate) fn parse_mac(text: &str) -> Option<[u8; 6]> {
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

fn socket_addr(v: &S<String>) -> Checked<SocketAddr> {
    let s = v.get_ref();
    let text = s.strip_prefix("localhost:").map_or_else(|| s.clone(), |port| format!("127.0.0.1:{port}"));
    text.parse().map_err(|_| {
        Problem::at(
            v.span(),
            format!(
                "`{s}` is not IP:PORT (e.g. 127.0.0.1:80 or [::1]:80; names other than localhost are not resolved)"
            ),
        )
    })
}

/// `http://HOST[:PORT][/PATH]` with HOST an IP literal or `localhost`.
fn http_url(v: &S<String>) -> Checked<(SocketAddr, String, String)> {
    let s = v.get_ref();
    let bad = |why: &str| Problem::at(v.span(), format!("`{s}` {why}"));
    let rest = s.strip_prefix("http://").ok_or_else(|| bad("is not an http:// URL (https is not checked)"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(bad("has no host"));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(|| bad("has an unclosed `[`"))?;
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port: u16 = match port {
        None => 80,
        Some(p) => p.parse().ok().filter(|p| *p != 0).ok_or_else(|| bad("has a bad port"))?,
    };
    let ip: IpAddr = if host == "localhost" {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.parse().map_err(|_| bad("must name an IP address or localhost (names are not resolved)"))?
    };
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("has spaces or control characters in its path"));
    }
    Ok((SocketAddr::new(ip, port), authority.to_owned(), path.to_owned()))
}
