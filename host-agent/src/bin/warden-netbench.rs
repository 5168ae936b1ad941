//! Measures taking a floating address over and releasing it: the agent's
//! netlink + raw-socket drivers against `ip addr add` + `arping -U -c 1`
//! run as processes, in a network namespace of its own (removed on exit).
//!
//! Acquire runs from the start of the step until the first gratuitous ARP
//! for the address is seen on the other end of the veth (address added and
//! first announcement on the wire); release is "address removed". Needs
//! root, iproute2 and arping (iputils-arping).

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use nix::sched::{setns, CloneFlags};
use warden_agent::drivers::net::frame::ArpFrame;
use warden_agent::drivers::net::{Address, Announce, LinkSocket};
use warden_agent::resource::Resource;

/// Benchmark of address takeover: warden's drivers against ip + arping.
#[derive(Parser)]
struct Args {
    /// Measured acquire/release cycles per method.
    #[arg(long, default_value_t = 100)]
    cycles: usize,
    /// Unmeasured cycles first.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
}

const FLOAT: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 5);

/// The namespace, deleted on drop.
struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run(cmd: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(cmd).args(args).output().with_context(|| format!("running {cmd}"))?;
    if !out.status.success() {
        bail!("{cmd} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Acquire and release durations of each cycle.
type Samples = (Vec<Duration>, Vec<Duration>);

/// Runs `f` on a thread inside the namespace.
fn in_ns<T: Send>(ns: &str, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = File::open(format!("/var/run/netns/{ns}"))?;
            setns(file, CloneFlags::CLONE_NEWNET).context("entering the namespace")?;
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Waits until the peer end sees a gratuitous ARP for the floating address
/// from `mac`: the moment a client could learn the new holder.
fn wait_garp(capture: &LinkSocket, mac: [u8; 6]) -> Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let Some(frame) = capture.recv_until(deadline)? else {
            bail!("no gratuitous ARP for {FLOAT} seen within 5 s");
        };
        if ArpFrame::parse(&frame).is_some_and(|a| a.is_gratuitous() && a.sender_ip == FLOAT && a.eth_src == mac) {
            return Ok(Instant::now());
        }
    }
}

/// Throws away whatever the capture holds from the last cycle.
fn drain(capture: &LinkSocket) -> Result<()> {
    while capture.recv_timeout(Duration::ZERO)?.is_some() {}
    Ok(())
}

fn bench_warden(ns: &str, args: &Args, addr: &mut Address) -> Result<Samples> {
    in_ns(ns, || {
        let capture = LinkSocket::capture("v1")?;
        let mac = LinkSocket::sender("v0")?.mac();
        let (mut acquire, mut release) = (Vec::new(), Vec::new());
        for i in 0..args.warmup + args.cycles {
            drain(&capture)?;
            let t0 = Instant::now();
            addr.start()?;
            let seen = wait_garp(&capture, mac)?;
            let t1 = Instant::now();
            addr.stop()?;
            let t2 = Instant::now();
            if i >= args.warmup {
                acquire.push(seen - t0);
                release.push(t2 - t1);
            }
        }
        Ok((acquire, release))
    })
}

fn bench_ip(ns: &str, args: &Args) -> Result<Samples> {
    let cidr = format!("{FLOAT}/24");
    let float = FLOAT.to_string();
    in_ns(ns, || {
        let capture = LinkSocket::capture("v1")?;
        let mac = LinkSocket::sender("v0")?.mac();
        let (mut acquire, mut release) = (Vec::new(), Vec::new());
        for i in 0..args.warmup + args.cycles {
            drain(&capture)?;
            let t0 = Instant::now();
            run("ip", &["-n", ns, "addr", "add", &cidr, "brd", "+", "dev", "v0"])?;
            let mut arping = Command::new("arping")
                .args(["-q", "-U", "-c", "1", "-I", "v0", &float])
                .spawn()
                .context("running arping")?;
            let seen = wait_garp(&capture, mac);
            // arping waits out its 1 s interval after the last packet;
            // that wait is not part of the takeover.
            let _ = arping.kill();
            let _ = arping.wait();
            let seen = seen?;
            let t1 = Instant::now();
            run("ip", &["-n", ns, "addr", "del", &cidr, "dev", "v0"])?;
            let t2 = Instant::now();
            if i >= args.warmup {
                acquire.push(seen - t0);
                release.push(t2 - t1);
            }
        }
        Ok((acquire, release))
    })
}

/// Median and 99th percentile (nearest rank).
fn stats(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort_unstable();
    let rank = |q: f64| {
        let n = v.len();
        let i = ((q * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
        v.get(i).copied().unwrap_or_default()
    };
    (rank(0.5), rank(0.99))
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden-netbench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<()> {
    let args = Args::parse();
    if args.cycles == 0 {
        bail!("--cycles must be at least 1");
    }
    if !nix::unistd::geteuid().is_root() {
        bail!("creates a network namespace: run as root");
    }
    for (tool, package) in [("ip", "iproute2"), ("arping", "iputils-arping")] {
        if Command::new(tool).arg("-V").output().is_err() {
            bail!("`{tool}` not found: it is the baseline this benchmark compares with; install it (apt-get install {package})");
        }
    }
    let ns = Netns(format!("wdn-{}-bench", std::process::id()));
    run("ip", &["netns", "add", &ns.0])?;
    run("ip", &["-n", &ns.0, "link", "add", "v0", "type", "veth", "peer", "name", "v1"])?;
    for dev in ["lo", "v0", "v1"] {
        run("ip", &["-n", &ns.0, "link", "set", dev, "up"])?;
    }
    run("ip", &["-n", &ns.0, "addr", "add", "10.77.0.1/24", "dev", "v0"])?;

    let first_only = Announce { count: 1, interval: Duration::ZERO };
    let mut given = Address::new(IpAddr::V4(FLOAT), Some(24), Some("v0"))?.with_announce(first_only)?;
    let mut by_route = Address::new(IpAddr::V4(FLOAT), None, None)?.with_announce(first_only)?;
    let rows = [
        ("warden (interface and prefix given)", bench_warden(&ns.0, &args, &mut given)?),
        ("warden (interface and prefix by route)", bench_warden(&ns.0, &args, &mut by_route)?),
        ("ip addr add + arping -U -c 1", bench_ip(&ns.0, &args)?),
    ];

    println!(
        "address takeover of {FLOAT}/24 in namespace {} (veth v0, seen on v1): {} cycles per method after {} warm-up",
        ns.0, args.cycles, args.warmup
    );
    println!("acquire: from the start of the step until the first gratuitous ARP is on the wire; release: until the address is gone");
    println!();
    let header = ["method", "acquire p50", "acquire p99", "release p50", "release p99"];
    println!("| {:<38} | {:>11} | {:>11} | {:>11} | {:>11} |", header[0], header[1], header[2], header[3], header[4]);
    println!("|{:-<40}|{:->12}:|{:->12}:|{:->12}:|{:->12}:|", "", "", "", "", "");
    let mut table = Vec::new();
    for (name, (acq, rel)) in rows {
        let (a50, a99) = stats(acq);
        let (r50, r99) = stats(rel);
        println!("| {name:<38} | {:>11} | {:>11} | {:>11} | {:>11} |", us(a50), us(a99), us(r50), us(r99));
        table.push([a50, a99, r50, r99]);
    }
    if let (Some(warden), Some(baseline)) = (table.first(), table.last()) {
        let ratio: Vec<String> = warden
            .iter()
            .zip(baseline)
            .map(|(w, b)| format!("{:.1}x", b.as_secs_f64() / w.as_secs_f64().max(1e-9)))
            .collect();
        println!(
            "| {:<38} | {:>11} | {:>11} | {:>11} | {:>11} |",
            "ratio ip+arping / warden (given)", ratio[0], ratio[1], ratio[2], ratio[3]
        );
    }
    Ok(())
}
