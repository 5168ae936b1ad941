//! `warden-agent debug-start|debug-stop|debug-monitor`, run as the real
//! binary, on real resources.
//!
//! The takeover tests build a LAN of network namespaces: a switch
//! namespace with a bridge, two servers (`s1`: 10.9.0.1, `s2`: 10.9.0.2)
//! and a client (10.9.0.100), each with its own veth port. A server's
//! commands run under `nsenter --net`, so they share the test's mounts
//! (the shared disk is a loop device both servers see). The client fetches
//! a file over HTTP from the floating address and its neighbour entry is
//! read with `ip neigh`: it must follow each takeover at once, long before
//! an ARP entry could expire.
//!
//! Needs root, iproute2 (`ip`, `bridge`), util-linux (`nsenter`,
//! `losetup`), e2fsprogs (`mkfs.ext4`) and python3; without them the tests
//! fail saying what to install.

mod common;

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{
    agent, http_get, mac_after, prefix, remove_stale, require, run, show, wait_for, LoopDisk, Mountns, Netns,
};
use serde_json::Value;
use warden_agent::lock::AgentLock;

/// Far below any neighbour entry's expiry (base_reachable_time is 30 s, and
/// a stale entry is only probed again after delay_first_probe_time, 5 s).
const AT_ONCE: Duration = Duration::from_secs(3);
/// How long a service may take to listen after its start step returned.
const SERVICE_UP: Duration = Duration::from_secs(20);
/// The LISA MAC of 10.9.0.5.
const MOVED_MAC: &str = "02:00:0a:09:00:05";

fn require_tools() {
    require(&[
        ("ip", "iproute2"),
        ("bridge", "iproute2"),
        ("nsenter", "util-linux"),
        ("unshare", "util-linux"),
        ("losetup", "util-linux"),
        ("mkfs.ext4", "e2fsprogs"),
        ("python3", "python3"),
    ]);
    remove_stale();
}

/// Kills, by pid, the process groups named by the pid files in the state
/// directories (services a failed test left running), on drop.
struct StateDirs(Vec<PathBuf>);

impl Drop for StateDirs {
    fn drop(&mut self) {
        for dir in &self.0 {
            let Ok(list) = fs::read_dir(dir) else { continue };
            for entry in list.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "pid") {
                    let pid =
                        fs::read_to_string(&path).ok().and_then(|t| t.split_whitespace().next()?.parse::<i32>().ok());
                    if let Some(pid) = pid.filter(|p| *p > 1) {
                        let _ = nix::sys::signal::killpg(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
            }
        }
    }
}

/// The LAN. Field order is drop order: services first, then the disk,
/// then the namespaces.
struct Lan {
    _services: StateDirs,
    mnt: Mountns,
    disk: Option<LoopDisk>,
    dir: tempfile::TempDir,
    sw: Netns,
    s1: Netns,
    s2: Netns,
    cl: Netns,
}

impl Lan {
    fn new(with_disk: bool) -> Self {
        require_tools();
        let p = prefix();
        let dir = tempfile::Builder::new().prefix(&p).tempdir().expect("tempdir");
        let disk = with_disk.then(|| LoopDisk::new(&[("index.txt", "served from the shared disk\n")]));
        let services = StateDirs(vec![dir.path().join("s1/state"), dir.path().join("s2/state")]);
        let mnt = Mountns::new(dir.path());
        // Created one by one, each with its guard, so a failure part way
        // removes what exists.
        let sw = Netns::new(format!("{p}sw"));
        let s1 = Netns::new(format!("{p}s1"));
        let s2 = Netns::new(format!("{p}s2"));
        let cl = Netns::new(format!("{p}cl"));
        sw.ip(&["link", "add", "br0", "type", "bridge", "mcast_snooping", "0"]);
        sw.ip(&["link", "set", "br0", "up"]);
        for (port, ns, host) in [("p1", &s1, "1"), ("p2", &s2, "2"), ("pc", &cl, "100")] {
            sw.ip(&["link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", &ns.name]);
            sw.ip(&["link", "set", port, "master", "br0", "up"]);
            ns.ip(&["link", "set", "eth0", "up"]);
            ns.ip(&["addr", "add", &format!("10.9.0.{host}/24"), "dev", "eth0"]);
        }
        Self { _services: services, mnt, disk, dir, sw, s1, s2, cl }
    }

    fn server(&self, n: u8) -> &Netns {
        if n == 1 {
            &self.s1
        } else {
            &self.s2
        }
    }

    /// `warden-agent COMMAND GROUP --json` on server `n`, with its own
    /// socket and state directory.
    fn debug(&self, n: u8, command: &str, group: &str, config: &Path) -> (Output, Value) {
        let base = self.dir.path().join(format!("s{n}"));
        let out = self
            .mnt
            .command(Some(self.server(n)), common::AGENT)
            .args([command, group, "--json", "--config"])
            .arg(config)
            .arg("--socket")
            .arg(base.join("agent.sock"))
            .arg("--state-dir")
            .arg(base.join("state"))
            .output()
            .expect("run warden-agent under nsenter");
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{command} {group} on s{n}: not JSON ({e}):\n{}", show(&out)));
        (out, report)
    }

    fn eth0_mac(&self, ns: &Netns) -> String {
        mac_after(&ns.ip(&["-o", "link", "show", "eth0"]), "link/ether ").expect("link/ether")
    }

    /// The client's neighbour entry for `ip`, when it has a link-layer address.
    fn client_neigh(&self, ip: &str) -> Option<String> {
        mac_after(&self.cl.ip(&["neigh", "show", "to", ip, "dev", "eth0"]), "lladdr ")
    }

    fn client_get(&self, addr: SocketAddr, path: &str) -> String {
        self.cl.enter(|| wait_for(SERVICE_UP, &format!("http://{addr}{path} from the client"), || http_get(addr, path)))
    }
}

/// The `(number, action, ok)` of each step of a report's `steps`.
fn steps(report: &Value, key: &str) -> Vec<(u64, String, bool)> {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` in {report}"))
        .iter()
        .map(|s| (s["number"].as_u64().unwrap(), s["action"].as_str().unwrap().to_owned(), s["ok"].as_bool().unwrap()))
        .collect()
}

fn all_ok(action: &str, numbers: &[u64]) -> Vec<(u64, String, bool)> {
    numbers.iter().map(|n| (*n, action.to_owned(), true)).collect()
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("cluster.toml");
    let text = format!(
        "[cluster]\nname = \"lan\"\nauth = \"crc\"\n\n[[node]]\nname = \"s1\"\nserial = {{ device = \"/dev/ttyS0\" }}\n\n\
         [[node]]\nname = \"s2\"\nserial = {{ device = \"/dev/ttyS1\" }}\n\n{body}"
    );
    fs::write(&path, text).expect("config");
    path
}

#[test]
fn group_with_moved_mac_and_shared_disk_follows_the_server_that_starts_it() {
    let lan = Lan::new(true);
    let disk = lan.disk.as_ref().expect("disk");
    let mnt = disk.mount_point.display().to_string();
    let config = write_config(
        lan.dir.path(),
        &format!(
            r#"[[group]]
name = "web"
nodes = ["s1", "s2"]
[[group.resource]]
kind = "mac"
derive = true
interface = "eth0"
[[group.resource]]
kind = "address"
ip = "10.9.0.5/24"
interface = "eth0"
garp_count = 3
garp_interval = "100ms"
[[group.resource]]
kind = "notify_switch"
interface = "eth0"
[[group.resource]]
kind = "disk"
device = "{dev}"
mountpoint = "{mnt}"
fstype = "ext4"
kill_grace = "1s"
[[group.resource]]
kind = "service"
command = ["python3", "-m", "http.server", "8080", "--bind", "10.9.0.5", "--directory", "{mnt}"]
timeout = "5s"
"#,
            dev = disk.device
        ),
    );
    let service: SocketAddr = "10.9.0.5:8080".parse().unwrap();
    let original = [lan.eth0_mac(&lan.s1), lan.eth0_mac(&lan.s2)];

    for n in [1u8, 2] {
        let server = lan.server(n);
        let (out, report) = lan.debug(n, "debug-start", "web", &config);
        assert!(out.status.success(), "debug-start on s{n}:\n{}", show(&out));
        assert_eq!(steps(&report, "steps"), all_ok("start", &[1, 2, 3, 4, 5]), "{report}");
        assert_eq!(report["ok"], true);

        // Held here: the MAC, the address, the mount, the service.
        assert_eq!(lan.eth0_mac(server), MOVED_MAC);
        assert!(server.ip(&["-o", "addr", "show", "dev", "eth0"]).contains("inet 10.9.0.5/24"));
        assert!(lan.mnt.mounted(&disk.mount_point), "{} not mounted", disk.mount_point.display());
        // The client reaches the service on the floating address...
        assert_eq!(lan.client_get(service, "/index.txt"), "served from the shared disk\n");
        // ...through the moved MAC, which the switch now sends to this server's port.
        assert_eq!(lan.client_neigh("10.9.0.5").as_deref(), Some(MOVED_MAC));
        let port = format!("dev p{n} ");
        wait_for(AT_ONCE, &format!("the bridge to learn {MOVED_MAC} on p{n}"), || {
            let table = run("bridge", &["-n", &lan.sw.name, "fdb", "show", "br", "br0"]);
            table.lines().any(|l| l.starts_with(MOVED_MAC) && l.contains(&port)).then_some(())
        });

        let (out, report) = lan.debug(n, "debug-stop", "web", &config);
        assert!(out.status.success(), "debug-stop on s{n}:\n{}", show(&out));
        // Right to left.
        assert_eq!(steps(&report, "steps"), all_ok("stop", &[5, 4, 3, 2, 1]), "{report}");
        assert_eq!(lan.eth0_mac(server), original[usize::from(n - 1)], "original MAC put back");
        assert!(!server.ip(&["-o", "addr", "show", "dev", "eth0"]).contains("10.9.0.5"));
        assert!(!lan.mnt.mounted(&disk.mount_point));
        let pid_file = lan.dir.path().join(format!("s{n}/state/command-web-5.pid"));
        assert!(!pid_file.exists(), "the stopped service's pid file is gone");
        lan.cl.enter(|| assert_eq!(http_get(service, "/index.txt"), None, "nobody serves after debug-stop"));
    }
}

#[test]
fn without_a_mac_resource_the_gratuitous_arp_alone_moves_the_client() {
    let lan = Lan::new(false);
    let www = lan.dir.path().join("www");
    fs::create_dir(&www).unwrap();
    fs::write(www.join("index.txt"), "plain\n").unwrap();
    let config = write_config(
        lan.dir.path(),
        &format!(
            r#"[[group]]
name = "plain"
nodes = ["s1", "s2"]
[[group.resource]]
kind = "address"
ip = "10.9.0.6/24"
interface = "eth0"
garp_count = 3
garp_interval = "100ms"
[[group.resource]]
kind = "service"
command = ["python3", "-m", "http.server", "8081", "--bind", "10.9.0.6", "--directory", "{}"]
timeout = "5s"
"#,
            www.display()
        ),
    );
    let service: SocketAddr = "10.9.0.6:8081".parse().unwrap();
    let macs = [lan.eth0_mac(&lan.s1), lan.eth0_mac(&lan.s2)];
    assert_ne!(macs[0], macs[1]);

    let (out, _) = lan.debug(1, "debug-start", "plain", &config);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(lan.client_get(service, "/index.txt"), "plain\n");
    assert_eq!(lan.client_neigh("10.9.0.6").as_deref(), Some(macs[0].as_str()));

    let (out, report) = lan.debug(1, "debug-stop", "plain", &config);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(steps(&report, "steps"), all_ok("stop", &[2, 1]));
    // The client still believes server 1 has it.
    assert_eq!(lan.client_neigh("10.9.0.6").as_deref(), Some(macs[0].as_str()));

    let (out, _) = lan.debug(2, "debug-start", "plain", &config);
    assert!(out.status.success(), "{}", show(&out));
    // Server 2's own MAC, learned from its gratuitous ARP, at once.
    wait_for(AT_ONCE, "the client's entry for 10.9.0.6 to show server 2's MAC", || {
        (lan.client_neigh("10.9.0.6").as_deref() == Some(macs[1].as_str())).then_some(())
    });
    assert_eq!(lan.client_get(service, "/index.txt"), "plain\n");
    let (out, _) = lan.debug(2, "debug-stop", "plain", &config);
    assert!(out.status.success(), "{}", show(&out));
}

/// A group of one disk on this host (no network), for the release tests.
fn disk_group(dir: &Path, disk: &LoopDisk) -> PathBuf {
    write_config(
        dir,
        &format!(
            "[[group]]\nname = \"data\"\nnodes = [\"s1\"]\n[[group.resource]]\nkind = \"disk\"\ndevice = \"{}\"\n\
             mountpoint = \"{}\"\nfstype = \"ext4\"\nkill_grace = \"500ms\"\n",
            disk.device,
            disk.mount_point.display()
        ),
    )
}

/// The agent binary with `args --json`, this directory's socket and state,
/// in the mount namespace `mnt` if given.
fn local(dir: &Path, args: &[&str], config: &Path) -> (Output, Value) {
    local_in(None, dir, args, config)
}

fn local_in(mnt: Option<&Mountns>, dir: &Path, args: &[&str], config: &Path) -> (Output, Value) {
    let socket = dir.join("agent.sock");
    let state = dir.join("state");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--json", "--config", config.to_str().unwrap()]);
    all.extend(["--socket", socket.to_str().unwrap(), "--state-dir", state.to_str().unwrap()]);
    let out = match mnt {
        Some(mnt) => mnt.command(None, common::AGENT).args(&all).output().expect("run warden-agent under nsenter"),
        None => agent(&all),
    };
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", show(&out)));
    (out, report)
}

#[test]
fn release_ends_the_holders_and_an_unkillable_hold_is_a_reported_failure() {
    require_tools();
    let dir = tempfile::Builder::new().prefix(&prefix()).tempdir().unwrap();
    let disk = LoopDisk::new(&[("data", "x")]);
    let mnt = Mountns::new(dir.path());
    let config = disk_group(dir.path(), &disk);
    let here = |args: &[&str]| local_in(Some(&mnt), dir.path(), args, &config);
    let sh = |script: String| {
        let out = mnt.command(None, "/bin/sh").args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "{script}: {}", show(&out));
    };

    let (out, _) = here(&["debug-start", "data"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(mnt.mounted(&disk.mount_point));
    // A process holding the filesystem (its working directory is on it).
    let mut holder = mnt
        .command(None, "/bin/sh")
        .args(["-c", &format!("cd {} && exec sleep 300", disk.mount_point.display())])
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(10), "the holder to sit on the disk", || {
        let cwd = fs::read_link(format!("/proc/{}/cwd", holder.id())).ok()?;
        (cwd == disk.mount_point).then_some(())
    });
    let (out, report) = here(&["debug-stop", "data"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(steps(&report, "steps"), all_ok("stop", &[1]));
    let status = wait_for(Duration::from_secs(10), "the holder to be reaped", || holder.try_wait().ok().flatten());
    assert!(!status.success(), "the holder was ended by a signal: {status:?}");
    assert!(!mnt.mounted(&disk.mount_point));

    // A hold no signal can end: a filesystem mounted inside the disk's.
    let (out, _) = here(&["debug-start", "data"]);
    assert!(out.status.success(), "{}", show(&out));
    let inner = disk.mount_point.join("inner");
    sh(format!("mkdir -p {0} && mount -t tmpfs tmpfs {0}", inner.display()));
    let (out, report) = here(&["debug-stop", "data"]);
    assert_eq!(out.status.code(), Some(1), "a failed release exits 1:\n{}", show(&out));
    assert_eq!(report["ok"], false);
    let step = &report["steps"][0];
    assert_eq!((step["action"].as_str(), step["ok"].as_bool()), (Some("stop"), Some(false)), "{report}");
    assert_eq!(step["result"], "failed (busy)");
    let message = step["message"].as_str().unwrap();
    assert!(
        message.contains(&disk.mount_point.display().to_string()) && message.contains(&inner.display().to_string()),
        "the failure names the mount point and what holds it: {message}"
    );
    assert!(report["error"].as_str().unwrap().starts_with("stop of resource 1 of 1 (disk "), "{report}");
    assert!(mnt.mounted(&disk.mount_point), "left mounted, not half released");

    // Text output says the same.
    let text = mnt
        .command(None, common::AGENT)
        .args(["debug-stop", "data", "--config", config.to_str().unwrap(), "--socket"])
        .arg(dir.path().join("agent.sock"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.status.code(), Some(1));
    assert!(stdout.contains("[1/1] stop disk ") && stdout.contains(": FAILED (busy) ("), "{stdout}");
    assert!(stdout.lines().last().unwrap().starts_with("debug-stop data: FAILED: stop of resource 1 of 1"), "{stdout}");

    sh(format!("umount {}", inner.display()));
    let (out, _) = here(&["debug-stop", "data"]);
    assert!(out.status.success(), "{}", show(&out));
    assert!(!mnt.mounted(&disk.mount_point));
}

fn script(path: &Path, body: &str) {
    fs::write(path, body).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_failed_start_stops_what_it_started_right_to_left_and_monitors_report_each_resource() {
    require_tools();
    let dir = tempfile::Builder::new().prefix(&prefix()).tempdir().unwrap();
    let flaky = dir.path().join("flaky");
    script(
        &flaky,
        &format!(
            "#!/bin/sh\necho \"$1\" >> {log}\ncase \"$1\" in\n  start) echo 'port 8080 already in use'; exit 1 ;;\n  \
             stop) exit 0 ;;\n  *) exit 3 ;;\nesac\n",
            log = dir.path().join("calls").display()
        ),
    );
    let marker = dir.path().join("sleeper.pid");
    let config = write_config(
        dir.path(),
        &format!(
            r#"[[group]]
name = "broken"
nodes = ["s1"]
[[group.resource]]
kind = "service"
command = ["sh", "-c", "echo $$ > {marker}; exec sleep 300"]
[[group.resource]]
kind = "service"
script = "{flaky}"

[[group]]
name = "checks"
nodes = ["s1"]
[[group.resource]]
kind = "service"
command = ["sh", "-c", "exec sleep 300"]
[[group.monitor]]
kind = "command"
command = ["true"]
[[group.monitor]]
kind = "command"
command = ["sh", "-c", "echo 'queue stuck'; exit 2"]
"#,
            marker = marker.display(),
            flaky = flaky.display()
        ),
    );
    let _services = StateDirs(vec![dir.path().join("state")]);

    let (out, report) = local(dir.path(), &["debug-start", "broken"], &config);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(steps(&report, "steps"), vec![(1, "start".into(), true), (2, "start".into(), false)]);
    assert!(report["steps"][1]["message"].as_str().unwrap().contains("port 8080 already in use"), "{report}");
    assert_eq!(steps(&report, "rolled_back"), all_ok("stop", &[2, 1]), "the failed one first, then leftwards");
    assert!(report["error"].as_str().unwrap().ends_with("stopped resources 2..1 again, right to left"), "{report}");
    let sleeper: u32 = fs::read_to_string(&marker).unwrap().trim().parse().unwrap();
    assert!(!warden_agent::drivers::process::is_alive(sleeper), "the started service was stopped again");
    assert_eq!(fs::read_to_string(dir.path().join("calls")).unwrap(), "start\nstop\n");

    // Monitors: every resource is checked and reported, the failures named.
    let (out, report) = local(dir.path(), &["debug-monitor", "checks"], &config);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(
        steps(&report, "steps"),
        vec![(1, "monitor".into(), false), (2, "monitor".into(), true), (3, "monitor".into(), false)]
    );
    assert!(report["error"].as_str().unwrap().starts_with("resource 1 of 3 (supervised command sh -c exec sleep 300)"));
    let (out, _) = local(dir.path(), &["debug-start", "checks"], &config);
    assert!(out.status.success(), "{}", show(&out));
    // A later command finds the service the first one left running.
    let (out, report) = local(dir.path(), &["debug-monitor", "checks"], &config);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert_eq!(steps(&report, "steps")[..2], all_ok("monitor", &[1, 2])[..]);
    assert!(report["steps"][2]["message"].as_str().unwrap().contains("queue stuck"), "{report}");
    let (out, _) = local(dir.path(), &["debug-stop", "checks"], &config);
    assert!(out.status.success(), "{}", show(&out));
    assert!(!dir.path().join("state/command-checks-1.pid").exists());
}

#[test]
fn debug_commands_refuse_while_the_agent_lock_is_held_unless_forced_and_name_unknown_groups() {
    require_tools();
    let dir = tempfile::Builder::new().prefix(&prefix()).tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[[group]]\nname = \"g\"\nnodes = [\"s1\"]\n[[group.resource]]\nkind = \"service\"\ncommand = [\"true\"]\n",
    );
    let held = AgentLock::acquire(&dir.path().join("agent.lock"), "run").unwrap();
    let (out, report) = local(dir.path(), &["debug-monitor", "g"], &config);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let error = report["error"].as_str().unwrap();
    assert!(
        error.starts_with(&format!(
            "refusing to debug-monitor group `g` behind a running agent's back: warden-agent run (pid {})",
            std::process::id()
        )),
        "{error}"
    );
    let (out, report) = local(dir.path(), &["debug-monitor", "g", "--force"], &config);
    assert_eq!(out.status.code(), Some(1), "forced, it runs (and finds the command not running):\n{}", show(&out));
    assert_eq!(steps(&report, "steps").len(), 1);
    drop(held);

    let (out, report) = local(dir.path(), &["debug-start", "nope"], &config);
    assert_eq!(out.status.code(), Some(2));
    assert!(report["error"].as_str().unwrap().ends_with(": no group `nope` (groups: g)"), "{report}");
}
