//! `wardenctl import-heartbeat`: the Getting Started guide's example, timing
//! forms, the authkeys permission check, and what cannot be mapped.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use warden_cluster::{self as config, AuthKind, ResourceConfig, Service};
use warden_core::NodeId;
use warden_tools::import_heartbeat::{import, import_dir, Import, ImportError, Options, Texts};

/// ha.cf as the Getting Started guide goes through it, line by line.
const GUIDE_HA_CF: &str = "\
# /etc/ha.d/ha.cf from the Getting Started guide
serial /dev/ttyS0
watchdog /dev/watchdog
bcast eth1
keepalive 2
warntime 10
deadtime 30
initdead 120
hopfudge 1
baud 19200
udpport 694
auto_failback on
node linuxha1
node linuxha2
respawn hacluster /usr/lib/heartbeat/ipfail
ping 192.168.85.254
";
const GUIDE_HARESOURCES: &str = "linuxha1 192.168.85.3/27 httpd smb maid::vacuum\n";
const GUIDE_AUTHKEYS: &str = "auth 1\n1 sha1 key-for-sha1-any-text-you-want\n";

fn options() -> Options {
    Options { name: "guide".into(), key_file: PathBuf::from("cluster.key") }
}

fn run(ha_cf: &str, haresources: &str, authkeys: &str) -> Result<Import, ImportError> {
    import(&Texts { ha_cf, haresources, authkeys }, &options())
}

fn lines(import: &Import) -> Vec<String> {
    import.unmapped.iter().map(ToString::to_string).collect()
}

#[test]
fn the_getting_started_example() {
    let import = run(GUIDE_HA_CF, GUIDE_HARESOURCES, GUIDE_AUTHKEYS).unwrap();
    assert_eq!(import.key.as_deref(), Some(&b"key-for-sha1-any-text-you-want"[..]));
    assert_eq!(
        lines(&import),
        [
            "ha.cf:4: directive `bcast` not mapped: Warden's network link goes from each node to the controller, not between nodes: add [node.udp] controller = \"ADDRESS\" by hand",
            "ha.cf:9: directive `hopfudge` not mapped: Warden has no ring topology: every node talks to the controller directly",
            "ha.cf:11: directive `udpport` not mapped: applies to [node.udp] port, which is not imported: set it with the controller address",
        ]
    );
    assert!(import.notes.is_empty(), "{:?}", import.notes);

    let c = config::parse(&import.toml, "imported.toml").unwrap_or_else(|e| panic!("{e}\n{}", import.toml));
    assert_eq!(c.cluster.auth, AuthKind::Hmac);
    assert_eq!(c.cluster.key_file.as_deref(), Some(Path::new("cluster.key")));
    let t = c.timing;
    assert_eq!(
        [t.keepalive, t.warntime, t.deadtime, t.initdead].map(|d| d.as_millis()),
        [2000, 10_000, 30_000, 120_000]
    );
    assert_eq!(c.nodes.len(), 2);
    for n in &c.nodes {
        let serial = n.serial.as_ref().unwrap();
        assert_eq!((serial.device.to_str(), serial.baud), (Some("/dev/ttyS0"), 19_200));
        assert_eq!(n.ping, ["192.168.85.254"]);
        assert_eq!(n.watchdog.as_deref(), Some(Path::new("/dev/watchdog")));
    }
    assert_eq!((c.nodes[0].relay, c.nodes[1].relay), (0, 1));
    let g = &c.groups[0];
    assert_eq!(g.nodes, [NodeId(0), NodeId(1)]);
    assert!(g.auto_failback);
    assert_eq!(g.resources.len(), 4);
    match &g.resources[0] {
        ResourceConfig::Address(a) => {
            assert_eq!(a.ip.to_string(), "192.168.85.3");
            assert_eq!(a.prefix, Some(27));
            assert_eq!(a.interface, None);
        }
        other => panic!("{other:?}"),
    }
    let scripts: Vec<String> = g.resources[1..]
        .iter()
        .map(|r| match r {
            ResourceConfig::Service(s) => s.service.script_spec().unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(scripts, ["httpd", "smb", "maid::vacuum"]);
    // The original line is kept as a comment above its group.
    assert!(import.toml.contains("# haresources line 1: linuxha1 192.168.85.3/27 httpd smb maid::vacuum\n[[group]]"));
}

#[test]
fn millisecond_and_fractional_timing() {
    let ha_cf = "keepalive 500ms\nwarntime 1\ndeadtime 1.5\ninitdead 10\nserial /dev/ttyS1\nnode a b\n";
    let import = run(ha_cf, "a 10.0.0.5 svc\n", "auth 2\n2 crc\n").unwrap();
    let c = config::parse(&import.toml, "imported.toml").unwrap_or_else(|e| panic!("{e}"));
    let t = c.timing;
    assert_eq!([t.keepalive, t.warntime, t.deadtime, t.initdead].map(|d| d.as_millis()), [500, 1000, 1500, 10_000]);
    assert_eq!(c.cluster.auth, AuthKind::Crc);
    assert_eq!(import.key, None);
    assert!(!import.toml.contains("key_file"));
}

#[test]
fn a_missing_initdead_follows_deadtime() {
    let import = run("deadtime 60\nwarntime 20\nkeepalive 2\nnode a\n", "a svc\n", GUIDE_AUTHKEYS).unwrap();
    let c = config::parse(&import.toml, "imported.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.timing.initdead.as_millis(), 120_000);
    assert_eq!(
        import.notes,
        [
            "ha.cf has no `serial` line: every node is given serial device /dev/ttyS0; edit [node.serial] to match the wiring to the controller",
            "ha.cf gives no `initdead`: set to twice deadtime, 2m",
        ]
    );
}

#[test]
fn what_cannot_be_mapped_is_reported_line_by_line() {
    let ha_cf = "\
logfacility local0
serial /dev/ttyS0 /dev/ttyS1
auto_failback legacy
respawn hacluster /usr/lib/heartbeat/ccm
frobnicate on
node a b
";
    let authkeys = "# keys\nauth 3\n1 sha1 old-key\n3 md5 md5-key-text\n";
    let import = run(ha_cf, "a 10.0.0.5\n", authkeys).unwrap();
    assert_eq!(
        lines(&import),
        [
            "ha.cf:1: directive `logfacility` not mapped: the agent logs to stderr (the journal under systemd)",
            "ha.cf:2: directive `serial` not mapped: a node has one serial link, to the controller: only the first device is used",
            "ha.cf:3: directive `auto_failback legacy` not mapped: Warden has no legacy mode: groups get auto_failback = false",
            "ha.cf:4: directive `respawn` not mapped: Warden does not spawn cluster daemons; run it as a `command` service of a group or as a systemd unit",
            "ha.cf:5: directive `frobnicate` not mapped: unknown to the importer",
            "authkeys:3: directive `1 sha1` not mapped: only the active key (auth 3) is carried over",
            "authkeys:4: directive `3 md5` not mapped: Warden has no md5 tag: the key is used with hmac (HMAC-SHA256) instead",
        ]
    );
    // The md5 key text becomes the HMAC key; the unused key is not carried.
    assert_eq!(import.key.as_deref(), Some(&b"md5-key-text"[..]));
    // No key text ever appears in a report.
    assert!(lines(&import).iter().all(|l| !l.contains("old-key") && !l.contains("md5-key-text")));
    let c = config::parse(&import.toml, "imported.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(!c.groups[0].auto_failback);
}

#[test]
fn haresources_forms_and_continuations() {
    let haresources = "\
# two groups, the first continued over two lines
linuxha1 IPaddr::192.168.85.3/27/eth0/192.168.85.31 \\
    Filesystem::/dev/sdb1::/data::ext3::noatime datadisk::drbd0
linuxha2 192.168.85.4/24/192.168.85.255 IPv6addr::2001:db8::5/64 mirror
";
    let import = run(GUIDE_HA_CF, haresources, GUIDE_AUTHKEYS).unwrap();
    let c = config::parse(&import.toml, "imported.toml").unwrap_or_else(|e| panic!("{e}\n{}", import.toml));
    assert_eq!(c.groups.len(), 2);
    let (g1, g2) = (&c.groups[0], &c.groups[1]);
    assert_eq!(g1.nodes, [NodeId(0), NodeId(1)]);
    assert_eq!(g2.nodes, [NodeId(1), NodeId(0)]);
    match &g1.resources[..] {
        [ResourceConfig::Address(a), ResourceConfig::Disk(d), ResourceConfig::Service(s)] => {
            assert_eq!((a.prefix, a.interface.as_deref()), (Some(27), Some("eth0")));
            assert_eq!(a.broadcast.map(|b| b.to_string()).as_deref(), Some("192.168.85.31"));
            assert_eq!(
                (d.device.as_str(), d.mountpoint.to_str(), d.fstype.as_str(), d.options.as_str()),
                ("/dev/sdb1", Some("/data"), "ext3", "noatime")
            );
            assert!(
                matches!(&s.service, Service::Script { name, args, .. } if name == "datadisk" && args == &["drbd0"])
            );
        }
        other => panic!("{other:?}"),
    }
    match &g2.resources[..] {
        [ResourceConfig::Address(a), ResourceConfig::Address(b), ResourceConfig::Service(_)] => {
            assert_eq!((a.prefix, a.interface.as_deref()), (Some(24), None));
            assert_eq!(a.broadcast.map(|b| b.to_string()).as_deref(), Some("192.168.85.255"));
            assert_eq!((b.ip.to_string().as_str(), b.prefix), ("2001:db8::5", Some(64)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn what_cannot_be_imported_is_refused_with_the_line() {
    let cases = [
        (GUIDE_HA_CF, "linuxha3 10.0.0.5\n", GUIDE_AUTHKEYS, "haresources:1: node `linuxha3` is not a `node` of ha.cf (linuxha1, linuxha2)"),
        (GUIDE_HA_CF, "\nlinuxha1 Filesystem::/dev/sdb1::/data\n", GUIDE_AUTHKEYS,
         "haresources:2: `Filesystem::/dev/sdb1::/data` has no filesystem type: write Filesystem::DEVICE::MOUNTPOINT::TYPE"),
        (GUIDE_HA_CF, "linuxha1 192.168.85.3/33\n", GUIDE_AUTHKEYS, "haresources:1: `192.168.85.3/33`: `33` is not a prefix length 0 to 32"),
        ("node a\nkeepalive 2\ndeadtime 3\n", "a svc\n", GUIDE_AUTHKEYS,
         "ha.cf:3: timing key `deadtime` must be more than twice keepalive (Warden's rule; heartbeat's values do not meet it)"),
        ("node a\nkeepalive two\n", "a svc\n", GUIDE_AUTHKEYS, "ha.cf:2: `keepalive two`: not seconds (`2`, `1.5`) or milliseconds (`500ms`)"),
        ("keepalive 2\n", "a svc\n", GUIDE_AUTHKEYS, "ha.cf:0: no `node` line: the cluster's nodes are unknown"),
        (GUIDE_HA_CF, "linuxha1 svc\n", "auth 2\n1 sha1 k\n", "authkeys:1: `auth 2` names no key line `2 METHOD KEY`"),
        (GUIDE_HA_CF, "linuxha1 svc\n", "auth 1\n1 sha1\n", "authkeys:2: key 1 (sha1) has no key text"),
        (GUIDE_HA_CF, "linuxha1 svc \\\n", GUIDE_AUTHKEYS, "haresources:1: the last line ends with `\\` but nothing follows"),
    ];
    for (ha_cf, haresources, authkeys, want) in cases {
        let got = run(ha_cf, haresources, authkeys).map(|i| i.toml).unwrap_err().to_string();
        assert_eq!(got, want);
    }
}

fn write_dir(dir: &Path, authkeys_mode: u32) {
    fs::write(dir.join("ha.cf"), GUIDE_HA_CF).unwrap();
    fs::write(dir.join("haresources"), GUIDE_HARESOURCES).unwrap();
    let keys = dir.join("authkeys");
    fs::write(&keys, GUIDE_AUTHKEYS).unwrap();
    fs::set_permissions(&keys, fs::Permissions::from_mode(authkeys_mode)).unwrap();
}

#[test]
fn world_readable_authkeys_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), 0o644);
    let keys = dir.path().join("authkeys");
    let err = import_dir(dir.path(), &options()).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "key file {} has mode 0644: it must not be accessible by group or others (chmod 600 {})",
            keys.display(),
            keys.display()
        )
    );
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o640)).unwrap();
    assert!(import_dir(dir.path(), &options()).unwrap_err().to_string().contains("has mode 0640"));
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(import_dir(dir.path(), &options()).is_ok());
}

#[test]
fn the_command_writes_a_configuration_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    write_dir(dir.path(), 0o600);
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("cluster.toml");
    let run = Command::new(env!("CARGO_BIN_EXE_wardenctl"))
        .arg("import-heartbeat")
        .arg(dir.path())
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(run.stdout.is_empty());
    assert!(stderr.lines().any(|l| l.starts_with("ha.cf:9: directive `hopfudge` not mapped: ")), "{stderr}");
    let key = out_dir.path().join("cluster.key");
    assert_eq!(fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(fs::read(&key).unwrap(), b"key-for-sha1-any-text-you-want\n");
    // load() checks the key file too, found relative to the configuration.
    let c = config::load(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.cluster.key_file.as_deref(), Some(key.as_path()));
    assert_eq!(config::read_key(&key).unwrap(), b"key-for-sha1-any-text-you-want");
    // No temporary file is left behind.
    let mut names: Vec<String> =
        fs::read_dir(out_dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["cluster.key", "cluster.toml"]);

    // To stdout, with the key file put elsewhere: the TOML names it absolutely.
    let key2 = out_dir.path().join("elsewhere.key");
    let run = Command::new(env!("CARGO_BIN_EXE_wardenctl"))
        .args(["import-heartbeat", "--key-file"])
        .arg(&key2)
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let c = config::parse(&String::from_utf8(run.stdout).unwrap(), "stdout").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.cluster.key_file.as_deref(), Some(key2.as_path()));
    assert_eq!(fs::metadata(&key2).unwrap().permissions().mode() & 0o777, 0o600);

    // A refused import writes nothing and exits non-zero.
    fs::set_permissions(dir.path().join("authkeys"), fs::Permissions::from_mode(0o604)).unwrap();
    let out3 = out_dir.path().join("refused.toml");
    let run = Command::new(env!("CARGO_BIN_EXE_wardenctl"))
        .arg("import-heartbeat")
        .arg(dir.path())
        .arg("-o")
        .arg(&out3)
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("has mode 0604"));
    assert!(!out3.exists());
}
