//! The network resources against the real kernel, in network namespaces.
//!
//! Topology built per test: a bridge namespace with a veth port to each of
//! two servers (`a`: 10.9.0.1, fd00:9::1; `b`: 10.9.0.2, fd00:9::2) and a
//! client (`c`: 10.9.0.100, fd00:9::100), all on `eth0`. The floating
//! address is 10.9.0.5 / fd00:9::5. Driver code runs on a thread that has
//! entered the namespace; the `ip` command only builds and inspects the rig.
//!
//! Needs root and iproute2; without them the tests fail and say so.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};
use warden_agent::drivers::net::frame::{parse_switch_notify, ArpFrame, ArpOp, NeighbourAdvert, BROADCAST};
use warden_agent::drivers::net::{
    format_mac, garp_refresh, lisa_mac, parse_mac, Address, Announce, LinkSocket, MacAddress, SwitchNotify,
};
use warden_agent::resource::{ErrorKind, Health, Presence, Resource};

const FLOAT4: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 5);
const FLOAT6: &str = "fd00:9::5";
/// Upper bound for an event that should take milliseconds; far below any
/// ARP cache expiry (base_reachable_time is 30 s).
const DEADLINE: Duration = Duration::from_secs(3);

static NEXT: AtomicU32 = AtomicU32::new(0);

fn require_root_and_ip() {
    assert!(nix::unistd::geteuid().is_root(), "the network driver tests create network namespaces: run them as root");
    let ok = Command::new("ip").arg("-V").output().map(|o| o.status.success()).unwrap_or(false);
    assert!(ok, "the network driver tests need the `ip` command: install iproute2 (apt-get install iproute2)");
}

/// Runs `ip ARGS`, panicking with its stderr on failure.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `f` on a thread inside network namespace `ns`.
fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            enter(ns);
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn enter(ns: &str) {
    let file = File::open(format!("/var/run/netns/{ns}")).unwrap_or_else(|e| panic!("open netns {ns}: {e}"));
    setns(file, CloneFlags::CLONE_NEWNET).unwrap_or_else(|e| panic!("setns {ns}: {e}"));
}

/// Removes namespaces left by test processes that no longer run (killed
/// before their guard could clean up).
fn remove_stale() {
    let Ok(list) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for entry in list.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("wdn-").and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", &name]).status();
        }
    }
}

/// The namespaces of one test; all removed on drop, also when the test
/// panics.
struct Rig {
    br: String,
    a: String,
    b: String,
    c: String,
    run_dir: tempfile::TempDir,
}

impl Rig {
    fn new() -> Self {
        require_root_and_ip();
        remove_stale();
        let p = format!("wdn-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let rig = Self {
            br: format!("{p}-br"),
            a: format!("{p}-a"),
            b: format!("{p}-b"),
            c: format!("{p}-c"),
            run_dir: tempfile::tempdir().expect("tempdir"),
        };
        // Created one by one so the guard removes whatever exists if a
        // later step fails.
        for ns in rig.all() {
            ip(&["netns", "add", ns]);
        }
        ip(&["-n", &rig.br, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"]);
        ip(&["-n", &rig.br, "link", "set", "br0", "up"]);
        for (port, ns, host) in [("pa", &rig.a, "1"), ("pb", &rig.b, "2"), ("pc", &rig.c, "100")] {
            ip(&["-n", &rig.br, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns]);
            ip(&["-n", &rig.br, "link", "set", port, "master", "br0", "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", "eth0", "up"]);
            ip(&["-n", ns, "addr", "add", &format!("10.9.0.{host}/24"), "dev", "eth0"]);
            ip(&["-n", ns, "addr", "add", &format!("fd00:9::{host}/64"), "dev", "eth0", "nodad"]);
        }
        rig
    }

    fn all(&self) -> [&String; 4] {
        [&self.br, &self.a, &self.b, &self.c]
    }

    fn mac(&self, ns: &str) -> [u8; 6] {
        let out = ip(&["-n", ns, "-o", "link", "show", "eth0"]);
        let text = out.split("link/ether ").nth(1).and_then(|r| r.split_whitespace().next()).expect("link/ether");
        parse_mac(text).expect("mac")
    }

    fn addrs(&self, ns: &str) -> String {
        ip(&["-n", ns, "-o", "addr", "show", "dev", "eth0"])
    }

    /// The client's neighbour entry for `addr`, if it has a link-layer
    /// address.
    fn client_neigh(&self, addr: IpAddr) -> Option<[u8; 6]> {
        let out = ip(&["-n", &self.c, "neigh", "show", "to", &addr.to_string(), "dev", "eth0"]);
        out.split("lladdr ").nth(1).and_then(|r| r.split_whitespace().next()).and_then(parse_mac)
    }

    /// Polls the client's neighbour entry until it shows `mac`; how long
    /// that took.
    fn wait_client_neigh(&self, addr: IpAddr, mac: [u8; 6]) -> Duration {
        let start = Instant::now();
        loop {
            let now = self.client_neigh(addr);
            if now == Some(mac) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < DEADLINE,
                "client entry for {addr} shows {:?}, wanted {} within {DEADLINE:?}",
                now.map(format_mac),
                format_mac(mac)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The client sends one datagram to `addr`, so it resolves it.
    fn client_touch(&self, addr: IpAddr) {
        in_ns(&self.c, || {
            let sock = UdpSocket::bind(if addr.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" }).expect("bind");
            sock.send_to(b"hello", (addr, 9)).expect("send");
        });
    }

    fn notify(&self) -> SwitchNotify {
        SwitchNotify::new("eth0", 1, self.run_dir.path()).expect("notify")
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        for ns in self.all() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A capture on the client's eth0, running until a frame matching `end`
/// arrives (or 10 s pass).
struct Capture {
    thread: JoinHandle<Vec<(Instant, Vec<u8>)>>,
}

impl Capture {
    fn start(ns: &str, end: impl Fn(&[u8]) -> bool + Send + 'static) -> Self {
        let ns = ns.to_owned();
        let (ready_tx, ready) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            enter(&ns);
            let sock = LinkSocket::capture("eth0").expect("capture socket");
            ready_tx.send(()).expect("ready");
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut frames = Vec::new();
            while let Some(f) = sock.recv_until(deadline).expect("recv") {
                let done = end(&f);
                frames.push((Instant::now(), f));
                if done {
                    return frames;
                }
            }
            panic!("capture on {ns}: end marker not seen in 10 s ({} frames)", frames.len());
        });
        ready.recv().expect("capture thread started");
        Self { thread }
    }

    fn finish(self) -> Vec<(Instant, Vec<u8>)> {
        self.thread.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

fn is_notify_from(mac: [u8; 6]) -> impl Fn(&[u8]) -> bool {
    move |f| parse_switch_notify(f) == Some(mac)
}

fn garps(frames: &[(Instant, Vec<u8>)], mac: [u8; 6], ip: Ipv4Addr) -> Vec<(Instant, ArpFrame)> {
    frames
        .iter()
        .filter_map(|(t, f)| ArpFrame::parse(f).map(|a| (*t, a)))
        .filter(|(_, a)| a.is_gratuitous() && a.sender_ip == ip && a.eth_src == mac)
        .collect()
}

#[test]
fn ipv4_address_start_stop_probe_idempotent() {
    let rig = Rig::new();
    let mut addr = Address::new(IpAddr::V4(FLOAT4), None, None).unwrap().with_announce(Announce::NONE).unwrap();
    assert_eq!(addr.describe(), "address 10.9.0.5 (interface by route)");
    in_ns(&rig.a, || {
        assert_eq!(addr.probe().unwrap(), Presence::Inactive);
        addr.start().unwrap();
        assert_eq!(addr.probe().unwrap(), Presence::Active);
        addr.start().unwrap(); // idempotent
    });
    // Interface and prefix from the route and the existing 10.9.0.1/24,
    // broadcast the highest address of the prefix.
    let listed = rig.addrs(&rig.a);
    assert!(listed.contains("inet 10.9.0.5/24 brd 10.9.0.255"), "{listed}");
    assert_eq!(listed.matches("10.9.0.5/").count(), 1, "{listed}");
    in_ns(&rig.a, || {
        addr.stop().unwrap();
        assert_eq!(addr.probe().unwrap(), Presence::Inactive);
        addr.stop().unwrap(); // idempotent
    });
    assert!(!rig.addrs(&rig.a).contains("10.9.0.5/"));
}

#[test]
fn held_address_is_re_announced_by_monitor_once_the_refresh_is_due() {
    let rig = Rig::new();
    let mac_a = rig.mac(&rig.a);
    let refresh = Duration::from_secs(1);
    let mut addr = Address::new(IpAddr::V4(FLOAT4), Some(24), Some("eth0"))
        .unwrap()
        .with_announce(Announce::NONE)
        .unwrap()
        .with_refresh(refresh)
        .unwrap();
    in_ns(&rig.a, || {
        let Health::Unhealthy(why) = addr.monitor().unwrap() else { panic!("not held, yet healthy") };
        assert!(why.contains("10.9.0.5/24") && why.contains("not on its interface"), "{why}");
    });
    let capture = Capture::start(&rig.c, move |f| {
        ArpFrame::parse(f).is_some_and(|a| a.is_gratuitous() && a.sender_ip == FLOAT4 && a.eth_src == mac_a)
    });
    let started = Instant::now();
    in_ns(&rig.a, || {
        // No announcement at start (count 0): the first one is the refresh.
        addr.start().unwrap();
        while !capture.thread.is_finished() {
            assert_eq!(addr.monitor().unwrap(), Health::Healthy);
            assert!(started.elapsed() < Duration::from_secs(10), "no refresh seen");
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let frames = capture.finish();
    let seen = garps(&frames, mac_a, FLOAT4);
    assert!(!seen.is_empty());
    // Never before it was due (a lower bound: a late one is only slower).
    assert!(seen[0].0 - started >= refresh, "refreshed after {:?}", seen[0].0 - started);
    in_ns(&rig.a, || addr.stop().unwrap());
}

#[test]
fn prefix_from_connected_route_and_explicit_broadcast() {
    let rig = Rig::new();
    ip(&["-n", &rig.a, "route", "add", "10.20.0.0/16", "dev", "eth0"]);
    let mut by_route =
        Address::new("10.20.3.4".parse().unwrap(), None, None).unwrap().with_announce(Announce::NONE).unwrap();
    let mut explicit = Address::new("10.9.0.6".parse().unwrap(), Some(27), Some("eth0"))
        .unwrap()
        .with_broadcast(Ipv4Addr::new(10, 9, 0, 16))
        .unwrap()
        .with_announce(Announce::NONE)
        .unwrap();
    in_ns(&rig.a, || {
        by_route.start().unwrap();
        explicit.start().unwrap();
    });
    let listed = rig.addrs(&rig.a);
    assert!(listed.contains("inet 10.20.3.4/16 brd 10.20.255.255"), "{listed}");
    assert!(listed.contains("inet 10.9.0.6/27 brd 10.9.0.16"), "{listed}");
    in_ns(&rig.a, || {
        by_route.stop().unwrap();
        explicit.stop().unwrap();
    });
    let listed = rig.addrs(&rig.a);
    assert!(!listed.contains("10.20.3.4") && !listed.contains("10.9.0.6/"), "{listed}");
}

#[test]
fn takeover_moves_client_entry_with_garp_both_forms() {
    let rig = Rig::new();
    let (mac_a, mac_b) = (rig.mac(&rig.a), rig.mac(&rig.b));
    let announce = Announce { count: 3, interval: Duration::from_millis(100) };
    let mut on_a = Address::new(IpAddr::V4(FLOAT4), None, Some("eth0")).unwrap().with_announce(announce).unwrap();
    let mut on_b = Address::new(IpAddr::V4(FLOAT4), None, Some("eth0")).unwrap().with_announce(announce).unwrap();

    in_ns(&rig.a, || on_a.start().unwrap());
    rig.client_touch(IpAddr::V4(FLOAT4));
    rig.wait_client_neigh(IpAddr::V4(FLOAT4), mac_a);

    in_ns(&rig.a, || {
        on_a.stop().unwrap();
        assert_eq!(on_a.probe().unwrap(), Presence::Inactive);
    });
    let capture = Capture::start(&rig.c, is_notify_from(mac_b));
    in_ns(&rig.b, || {
        on_b.start().unwrap();
        assert_eq!(on_b.probe().unwrap(), Presence::Active);
    });
    // The entry follows at once, long before it could expire.
    let took = rig.wait_client_neigh(IpAddr::V4(FLOAT4), mac_b);
    assert!(took < DEADLINE);
    in_ns(&rig.b, || {
        on_b.wait_announced().unwrap();
        rig.notify().send().unwrap(); // end marker for the capture
    });
    let frames = capture.finish();
    let from_b = garps(&frames, mac_b, FLOAT4);
    let requests: Vec<_> = from_b.iter().filter(|(_, a)| a.op == ArpOp::Request).collect();
    let replies: Vec<_> = from_b.iter().filter(|(_, a)| a.op == ArpOp::Reply).collect();
    assert_eq!(requests.len(), 3, "requests: {from_b:?}");
    assert_eq!(replies.len(), 3, "replies: {from_b:?}");
    for (_, a) in &from_b {
        assert_eq!(a.eth_dst, BROADCAST);
        assert_eq!(a.sender_mac, mac_b);
        assert_eq!(a.target_ip, FLOAT4);
    }
    assert_eq!(requests[0].1.target_mac, [0; 6]);
    assert_eq!(replies[0].1.target_mac, mac_b);
    // Bursts are spaced by the interval (a lower bound: sleeping is never
    // early; a little slack for the receive side).
    let spread = requests[2].0 - requests[0].0;
    assert!(spread >= Duration::from_millis(170), "3 bursts 100 ms apart arrived within {spread:?}");
    // The released node no longer announces.
    assert!(garps(&frames, mac_a, FLOAT4).is_empty(), "A announced after stop");
    in_ns(&rig.b, || on_b.stop().unwrap());
}

#[test]
fn first_burst_is_sent_before_start_returns_and_refresh_sends_one() {
    let rig = Rig::new();
    let mac_a = rig.mac(&rig.a);
    let mut addr = Address::new(IpAddr::V4(FLOAT4), None, None)
        .unwrap()
        .with_announce(Announce { count: 1, interval: Duration::ZERO })
        .unwrap();
    let capture = Capture::start(&rig.c, is_notify_from(mac_a));
    in_ns(&rig.a, || {
        // count 1: no thread; the frames are out when start returns.
        addr.start().unwrap();
        addr.refresh().unwrap();
        garp_refresh("eth0", IpAddr::V4(FLOAT4)).unwrap();
        rig.notify().send().unwrap();
    });
    let frames = capture.finish();
    let from_a = garps(&frames, mac_a, FLOAT4);
    let ops: Vec<_> = from_a.iter().map(|(_, a)| a.op).collect();
    assert_eq!(ops, [ArpOp::Request, ArpOp::Reply].repeat(3), "{from_a:?}");
    in_ns(&rig.a, || addr.stop().unwrap());
}

#[test]
fn ipv6_address_and_unsolicited_na() {
    let rig = Rig::new();
    let (mac_a, mac_b) = (rig.mac(&rig.a), rig.mac(&rig.b));
    let float: Ipv6Addr = FLOAT6.parse().unwrap();
    let announce = Announce { count: 2, interval: Duration::from_millis(50) };
    let mut on_a = Address::new(IpAddr::V6(float), None, None).unwrap().with_announce(announce).unwrap();
    let mut on_b = Address::new(IpAddr::V6(float), None, None).unwrap().with_announce(announce).unwrap();

    in_ns(&rig.a, || {
        on_a.start().unwrap();
        assert_eq!(on_a.probe().unwrap(), Presence::Active);
    });
    let listed = rig.addrs(&rig.a);
    assert!(listed.contains("inet6 fd00:9::5/64"), "{listed}");
    rig.client_touch(IpAddr::V6(float));
    rig.wait_client_neigh(IpAddr::V6(float), mac_a);

    in_ns(&rig.a, || {
        on_a.stop().unwrap();
        assert_eq!(on_a.probe().unwrap(), Presence::Inactive);
    });
    assert!(!rig.addrs(&rig.a).contains("fd00:9::5/"));
    let capture = Capture::start(&rig.c, is_notify_from(mac_b));
    in_ns(&rig.b, || on_b.start().unwrap());
    rig.wait_client_neigh(IpAddr::V6(float), mac_b);
    in_ns(&rig.b, || {
        on_b.wait_announced().unwrap();
        rig.notify().send().unwrap();
    });
    let frames = capture.finish();
    let nas: Vec<_> = frames
        .iter()
        .filter_map(|(_, f)| NeighbourAdvert::parse(f))
        .filter(|n| n.target == float && n.eth_src == mac_b)
        .collect();
    assert_eq!(nas.len(), 2, "{nas:?}");
    for na in &nas {
        assert!(na.override_flag && !na.solicited && !na.router, "{na:?}");
        assert_eq!(na.target_mac, Some(mac_b));
        assert_eq!(na.ip_dst, "ff02::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(na.eth_dst, [0x33, 0x33, 0, 0, 0, 1]);
        assert_eq!(na.hop_limit, 255);
    }
    in_ns(&rig.b, || on_b.stop().unwrap());
}

#[test]
fn mac_move_and_restore_across_agent_restart() {
    let rig = Rig::new();
    let original = rig.mac(&rig.a);
    let lisa = lisa_mac(FLOAT4);
    assert_eq!(format_mac(lisa), "02:00:0a:09:00:05");
    let mut mac = MacAddress::new("eth0", lisa, rig.run_dir.path()).unwrap();
    in_ns(&rig.a, || {
        assert_eq!(mac.probe().unwrap(), Presence::Inactive);
        mac.start().unwrap();
        assert_eq!(mac.probe().unwrap(), Presence::Active);
        mac.start().unwrap();
    });
    assert_eq!(rig.mac(&rig.a), lisa);
    let remembered = std::fs::read_to_string(mac.state_file()).unwrap();
    assert_eq!(parse_mac(&remembered), Some(original));
    // The link stayed up (veth takes a live MAC change).
    let link = ip(&["-n", &rig.a, "-o", "link", "show", "eth0"]);
    assert!(link.contains(",UP"), "{link}");

    // A fresh value, as after an agent restart, restores from the file.
    drop(mac);
    let mut again = MacAddress::new("eth0", lisa, rig.run_dir.path()).unwrap();
    in_ns(&rig.a, || {
        assert_eq!(again.probe().unwrap(), Presence::Active);
        again.stop().unwrap();
        assert_eq!(again.probe().unwrap(), Presence::Inactive);
        again.stop().unwrap();
    });
    assert_eq!(rig.mac(&rig.a), original);
    assert!(!again.state_file().exists());

    // Without a state file and without a permanent address there is no
    // way back: refused, naming the interface.
    in_ns(&rig.a, || again.start().unwrap());
    std::fs::remove_file(again.state_file()).unwrap();
    let err = in_ns(&rig.a, || again.stop().unwrap_err());
    assert!(err.message.contains("on eth0") && err.message.contains("original MAC unknown"), "{err}");
}

#[test]
fn switch_notify_broadcast_seen() {
    let rig = Rig::new();
    let mac_a = rig.mac(&rig.a);
    let mut notify = SwitchNotify::new("eth0", 2, rig.run_dir.path()).unwrap();
    let marker = Ipv4Addr::new(10, 9, 0, 77);
    let capture = Capture::start(&rig.c, move |f| ArpFrame::parse(f).is_some_and(|a| a.sender_ip == marker));
    in_ns(&rig.a, || {
        assert_eq!(notify.probe().unwrap(), Presence::Inactive);
        notify.start().unwrap();
        assert_eq!(notify.probe().unwrap(), Presence::Active);
        garp_refresh("eth0", IpAddr::V4(marker)).unwrap();
        notify.stop().unwrap();
        assert_eq!(notify.probe().unwrap(), Presence::Inactive);
    });
    let frames = capture.finish();
    let notes: Vec<_> = frames.iter().filter_map(|(_, f)| parse_switch_notify(f)).collect();
    assert_eq!(notes, vec![mac_a, mac_a]);
    let raw = frames.iter().find(|(_, f)| parse_switch_notify(f).is_some()).unwrap();
    assert_eq!(&raw.1[..6], &BROADCAST);
    assert_eq!(&raw.1[12..14], &[0x88, 0xb5]);
}

#[test]
fn errors_name_the_address_and_interface() {
    let rig = Rig::new();
    ip(&["-n", &rig.b, "route", "add", "default", "via", "10.9.0.254"]);
    let (missing_if, no_route, mac_missing, refresh_missing, elsewhere) = in_ns(&rig.a, || {
        let mut a = Address::new(IpAddr::V4(FLOAT4), Some(24), Some("eth7")).unwrap();
        let missing_if = a.start().unwrap_err();
        assert_eq!(a.probe().unwrap(), Presence::Inactive);
        a.stop().unwrap(); // nothing to stop on a missing interface
        let no_route = Address::new("192.0.2.7".parse().unwrap(), None, None).unwrap().start().unwrap_err();
        let mac_missing = MacAddress::new("eth7", lisa_mac(FLOAT4), rig.run_dir.path()).unwrap().start().unwrap_err();
        let refresh_missing = garp_refresh("eth7", IpAddr::V4(FLOAT4)).unwrap_err();
        // Held on lo, wanted on eth0.
        let mut on_lo = Address::new("10.9.0.8".parse().unwrap(), Some(32), Some("lo"))
            .unwrap()
            .with_announce(Announce::NONE)
            .unwrap();
        on_lo.start().unwrap();
        let mut on_eth0 = Address::new("10.9.0.8".parse().unwrap(), Some(32), Some("eth0")).unwrap();
        let elsewhere = on_eth0.start().unwrap_err();
        assert_eq!(on_eth0.probe().unwrap(), Presence::Unknown);
        on_lo.stop().unwrap();
        (missing_if, no_route, mac_missing, refresh_missing, elsewhere)
    });
    assert_eq!(missing_if.kind, ErrorKind::Config);
    assert_eq!(missing_if.message, "address 10.9.0.5/24: interface eth7 not found");
    assert_eq!(no_route.kind, ErrorKind::Config);
    assert!(no_route.message.starts_with("address 192.0.2.7: no route"), "{no_route}");
    assert_eq!(mac_missing.message, "mac 02:00:0a:09:00:05 on eth7: interface eth7 not found");
    assert!(
        refresh_missing.message.contains("10.9.0.5") && refresh_missing.message.contains("eth7"),
        "{refresh_missing}"
    );
    assert!(elsewhere.message.contains("10.9.0.8/32") && elsewhere.message.contains("already on lo"), "{elsewhere}");

    // Only a default route: the interface comes from it, but nothing there
    // gives a prefix.
    let via_default =
        in_ns(&rig.b, || Address::new("198.51.100.7".parse().unwrap(), None, None).unwrap().start().unwrap_err());
    assert_eq!(via_default.kind, ErrorKind::Config);
    assert!(
        via_default.message.contains("198.51.100.7")
            && via_default.message.contains("on eth0")
            && via_default.message.contains("prefix"),
        "{via_default}"
    );
    assert!(!rig.addrs(&rig.b).contains("198.51.100.7"));
}

#[test]
fn lisa_mac_takeover_needs_no_arp_only_a_switch_notify() {
    let rig = Rig::new();
    let lisa = lisa_mac(FLOAT4);
    let float = IpAddr::V4(FLOAT4);
    let group = |ns: &str| {
        let mac = MacAddress::new("eth0", lisa, rig.run_dir.path().join(ns)).unwrap();
        let addr = Address::new(float, None, Some("eth0")).unwrap().with_announce(Announce::NONE).unwrap();
        let notify = SwitchNotify::new("eth0", 1, rig.run_dir.path().join(ns)).unwrap();
        let group: Vec<Box<dyn Resource>> = vec![Box::new(mac), Box::new(addr), Box::new(notify)];
        group
    };
    let (mut on_a, mut on_b) = (group(&rig.a), group(&rig.b));
    in_ns(&rig.a, || on_a.iter_mut().for_each(|r| r.start().unwrap()));
    rig.client_touch(float);
    rig.wait_client_neigh(float, lisa);
    // Release right to left: the original MAC goes back on A.
    in_ns(&rig.a, || on_a.iter_mut().rev().for_each(|r| r.stop().unwrap()));
    assert_ne!(rig.mac(&rig.a), lisa);
    in_ns(&rig.b, || on_b.iter_mut().for_each(|r| r.start().unwrap()));
    assert_eq!(rig.mac(&rig.b), lisa);

    // No ARP was sent, the client's entry is untouched, and its next
    // datagram reaches B: the bridge moved the MAC on B's notify.
    assert_eq!(rig.client_neigh(float), Some(lisa));
    let got = std::thread::scope(|s| {
        let (ready_tx, ready) = mpsc::channel();
        let ns_b = &rig.b;
        let receiver = s.spawn(move || {
            in_ns(ns_b, || {
                let sock = UdpSocket::bind((FLOAT4, 7777)).expect("bind on B");
                sock.set_read_timeout(Some(DEADLINE)).unwrap();
                ready_tx.send(()).unwrap();
                let mut buf = [0u8; 64];
                sock.recv_from(&mut buf).map(|(n, _)| buf[..n].to_vec())
            })
        });
        ready.recv().unwrap();
        in_ns(&rig.c, || {
            let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
            sock.send_to(b"to the holder", (FLOAT4, 7777)).unwrap();
        });
        receiver.join().unwrap()
    });
    assert_eq!(got.expect("B received the client's datagram"), b"to the holder");
    assert_eq!(rig.client_neigh(float), Some(lisa));
    in_ns(&rig.b, || on_b.iter_mut().rev().for_each(|r| r.stop().unwrap()));
}
