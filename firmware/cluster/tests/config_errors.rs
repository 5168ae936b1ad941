//! Bad configurations, each with the exact error it must give, and good
//! ones (the example of `docs/configuration.md` among them).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use warden_cluster::{self as config, AuthKind, CheckConfig, ResourceConfig, Service};
use warden_core::{GroupId, NodeId};

mod support;
use support::{docs_example, err, group, monitor, with_head, HEAD, WEB};

#[test]
fn bad_configurations_give_exact_errors() {
    let nine_nodes: String =
        (0..9).map(|i| format!("[[node]]\nname = \"n{i}\"\nserial = {{ device = \"/dev/ttyS{i}\" }}\n")).collect();
    let many_groups: String = (0..33)
        .map(|i| format!("[[group]]\nname = \"g{i}\"\nnodes = [\"a\"]\n[[group.resource]]\nkind = \"service\"\nsystemd = \"s{i}\"\n"))
        .collect();
    let cases: Vec<(String, &str)> = vec![
        // Structure and types.
        ("[cluster]\nname = \"c\"\nkey_file = \"k\"\nnmae = \"x\"\n".into(),
         "t.toml:4: key `cluster.nmae`: unknown key `nmae` (known keys: `name`, `key_file`, `auth`, `fence_idle_dead`, `alert`)"),
        ("[[node]]\nname = \"a\"\n".into(), "t.toml:1: key `cluster`: is required but missing"),
        (with_head("[[group]]\nname = \"web\"\n"), "t.toml:13: key `group[0].nodes`: is required but missing"),
        (with_head(&format!("{WEB}auto_failback = \"yes\"\n")), "t.toml:19: key `group[0].resource[0].auto_failback`: `auto_failback` is not a key of kind `address` (its keys: ip, interface, broadcast, garp_count, garp_interval, garp_refresh)"),
        (with_head("[[group]]\nname = \"web\"\nnodes = [\"a\"]\nauto_failback = \"yes\"\n[[group.resource]]\nkind = \"service\"\nsystemd = \"x\"\n"),
         "t.toml:16: key `group[0].auto_failback`: invalid type: string \"yes\", expected a boolean"),
        ("[cluster]\nname = \"c\"\nkey_file = \n".into(), "t.toml:3:12: TOML syntax: invalid string"),
        // [cluster]
        ("[cluster]\nname = \"c\"\n".into(),
         "t.toml:1: key `cluster.key_file`: auth `hmac` needs `key_file`, the file holding the cluster key (mode 0600)"),
        ("[cluster]\nname = \"c\"\nauth = \"md5\"\nkey_file = \"k\"\n".into(), "t.toml:3: key `cluster.auth`: unknown auth `md5` (known: hmac, crc)"),
        ("[cluster]\nname = \"c\"\nauth = \"crc\"\n[[node]]\nname = \"a\"\nudp = { controller = \"10.0.0.254\" }\n".into(),
         "t.toml:3: key `cluster.auth`: `crc` is refused because node `a` has a UDP link: crc only suits a point-to-point serial cable; use `hmac`"),
        ("[cluster]\nname = \"my cluster\"\nkey_file = \"k\"\n".into(),
         "t.toml:2: key `cluster.name`: cluster name `my cluster` must be 1 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit"),
        // [timing]
        (format!("{HEAD}[timing]\nkeepalive = \"2s\"\ndeadtime = \"3s\"\n"),
         "t.toml:15: key `timing.deadtime`: 3s must be more than twice keepalive (2s)"),
        (format!("{HEAD}[timing]\nkeepalive = \"6s\"\ndeadtime = \"20s\"\n"),
         "t.toml:13: key `timing.warntime`: 5s (default) must be greater than keepalive (6s) and less than deadtime (20s)"),
        (format!("{HEAD}[timing]\ninitdead = 9999\n"), "t.toml:14: key `timing.initdead`: 9999ms must be at least deadtime (10s (default))"),
        (format!("{HEAD}[timing]\nkeepalive = \"2 parsecs\"\n"),
         "t.toml:14: key `timing.keepalive`: duration \"2 parsecs\" has unknown unit \"parsecs\" (known: ms, s, m, h)"),
        (format!("{HEAD}[timing]\nfence_timeout = -5\n"), "t.toml:14: key `timing.fence_timeout`: duration -5 is negative"),
        (format!("{HEAD}[timing]\nmax_moves = 0\n"), "t.toml:14: key `timing.max_moves`: 0 is out of range 1..=255"),
        // [[node]]
        ("[cluster]\nname = \"c\"\nkey_file = \"k\"\n".into(), "t.toml:1: key `node`: no node is defined: give at least one [[node]]"),
        (format!("[cluster]\nname = \"c\"\nkey_file = \"k\"\n{nine_nodes}"), "t.toml:28: key `node[8]`: too many nodes: at most 8"),
        (with_head("[[node]]\nname = \"a\"\nserial = { device = \"/dev/ttyS2\" }\n"), "t.toml:14: key `node[2].name`: node name `a` is already used by node[0]"),
        (with_head("[[node]]\nname = \"d\"\nrelay = 1\nserial = { device = \"/dev/ttyS2\" }\n"),
         "t.toml:15: key `node[2].relay`: relay channel 1 is already used by node `b`"),
        (with_head("[[node]]\nname = \"d\"\n"), "t.toml:13: key `node[2]`: node `d` has no link to the controller: give [node.serial] or [node.udp]"),
        (with_head("[[node]]\nname = \"d\"\n[node.serial]\ndevice = \"/dev/ttyS2\"\nbaud = 12345\n"),
         "t.toml:17: key `node[2].serial.baud`: 12345 is not a serial speed (known: 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000)"),
        (with_head("[[node]]\nname = \"d\"\nserial = { device = \"ttyS2\" }\n"), "t.toml:15: key `node[2].serial.device`: `ttyS2` is not an absolute path"),
        (with_head("[[node]]\nname = \"d\"\nudp = { controller = \"controller.local\" }\n"),
         "t.toml:15: key `node[2].udp.controller`: `controller.local` is not an IP address"),
        (with_head("[[node]]\nname = \"d\"\nserial = { device = \"/dev/ttyS2\" }\nping = [\"-bad-\"]\n"),
         "t.toml:16: key `node[2].ping[0]`: `-bad-` is neither an IP address nor a host name"),
        (with_head("[[node]]\nname = \"d\"\nserial = { device = \"/dev/ttyS2\" }\nwatchdog = \"/dev/wd0\"\n"),
         "t.toml:16: key `node[2].watchdog`: `/dev/wd0` is not a watchdog device (/dev/watchdog or /dev/watchdogN)"),
        (with_head("[[node]]\nname = \"d\"\nserial = { device = \"/dev/ttyS2\" }\nwatchdog = \"/dev/watchdog01\"\n"),
         "t.toml:16: key `node[2].watchdog`: `/dev/watchdog01` is not a watchdog device (/dev/watchdog or /dev/watchdogN)"),
        (with_head("[[node]]\nname = \"d\"\nserial = { device = \"/dev/ttyS2\" }\nwatchdog_timeout = \"30s\"\n"),
         "t.toml:16: key `node[2].watchdog_timeout`: `watchdog_timeout` needs `watchdog`, the device it applies to"),
        (with_head("[[node]]\nname = \"d\"\nserial = { device = \"/dev/ttyS2\" }\nwatchdog = \"/dev/watchdog\"\nwatchdog_timeout = \"1.5s\"\n"),
         "t.toml:17: key `node[2].watchdog_timeout`: 1500ms must be a whole number of seconds from 1s to 1h"),
        // [agent]
        (format!("{HEAD}[agent]\nsokcet = \"/run/w.sock\"\n"),
         "t.toml:14: key `agent.sokcet`: unknown key `sokcet` (known keys: `socket`, `state_dir`, `probe_interval`, `restart_window`, `mlock`, `realtime_priority`, `metrics`)"),
        (format!("{HEAD}[agent]\nsocket = \"agent.sock\"\n"), "t.toml:14: key `agent.socket`: `agent.sock` is not an absolute path"),
        (format!("{HEAD}[agent]\nsocket = \"/run/warden/\"\n"), "t.toml:14: key `agent.socket`: `/run/warden/` names a directory, not a socket file"),
        (format!("{HEAD}[agent]\nstate_dir = \"run/warden\"\n"), "t.toml:14: key `agent.state_dir`: `run/warden` is not an absolute path"),
        (format!("{HEAD}[agent]\nprobe_interval = \"10ms\"\n"), "t.toml:14: key `agent.probe_interval`: 10ms is too short: at least 1s"),
        (format!("{HEAD}[agent]\nrealtime_priority = 100\n"), "t.toml:14: key `agent.realtime_priority`: 100 is out of range 0..=99"),
        (format!("{HEAD}[agent]\nmlock = \"yes\"\n"), "t.toml:14: key `agent.mlock`: invalid type: string \"yes\", expected a boolean"),
        (format!("{HEAD}[agent]\nmetrics = \"127.0.0.1\"\n"), "t.toml:14: key `agent.metrics`: `127.0.0.1` is not IP:PORT with a port from 1 to 65535"),
        (format!("{HEAD}[agent]\nmetrics = \"0.0.0.0:0\"\n"), "t.toml:14: key `agent.metrics`: `0.0.0.0:0` is not IP:PORT with a port from 1 to 65535"),
        // [[group]]
        (with_head("[[group]]\nname = \"web\"\nnodes = [\"a\", \"c\"]\n"), "t.toml:15: key `group[0].nodes[1]`: node `c` is not defined (nodes: a, b)"),
        (with_head("[[group]]\nname = \"web\"\nnodes = [\"a\", \"a\"]\n"), "t.toml:15: key `group[0].nodes[1]`: node `a` is listed twice"),
        (with_head("[[group]]\nname = \"web\"\nnodes = []\n"), "t.toml:15: key `group[0].nodes`: group `web` lists no node: give its eligible nodes, home first"),
        (with_head("[[group]]\nname = \"web\"\nnodes = [\"a\"]\n"), "t.toml:13: key `group[0].resource`: group `web` has no resource: give at least one [[group.resource]]"),
        (with_head(&format!("{WEB}{}", WEB.replace("10.0.0.5/24", "10.0.0.6"))), "t.toml:20: key `group[1].name`: group name `web` is already used by group[0]"),
        (with_head(&format!("{WEB}{}", WEB.replace("web", "other"))), "t.toml:24: key `group[1].resource[0].ip`: address 10.0.0.5 is already in group `web`"),
        (with_head(&many_groups), "t.toml:205: key `group[32]`: too many groups: at most 32"),
        // address
        (group("kind = \"address\"\nip = \"10.0.0.300\"\n"), "t.toml:18: key `group[0].resource[0].ip`: `10.0.0.300` is not an IP address"),
        (group("kind = \"address\"\nip = \"10.0.0.5/33\"\n"), "t.toml:18: key `group[0].resource[0].ip`: prefix `/33` is not a number from 0 to 32"),
        (group("kind = \"address\"\nip = \"2001:db8::5/129\"\n"), "t.toml:18: key `group[0].resource[0].ip`: prefix `/129` is not a number from 0 to 128"),
        (group("kind = \"address\"\nip = \"224.0.0.1\"\n"),
         "t.toml:18: key `group[0].resource[0].ip`: 224.0.0.1 cannot be a service address (unspecified, loopback, multicast or broadcast)"),
        (group("kind = \"address\"\nip = \"2001:db8::5\"\nbroadcast = \"10.0.0.255\"\n"), "t.toml:19: key `group[0].resource[0].broadcast`: IPv6 has no broadcast address"),
        (group("kind = \"address\"\nip = \"10.0.0.5\"\ngarp_count = -1\n"), "t.toml:19: key `group[0].resource[0].garp_count`: -1 is out of range 0..=100"),
        (group("kind = \"address\"\nip = \"10.0.0.5\"\ngarp_count = 101\n"), "t.toml:19: key `group[0].resource[0].garp_count`: 101 is out of range 0..=100"),
        (group("kind = \"address\"\nip = \"10.0.0.5\"\ninterface = \"eth0:0\"\n"),
         "t.toml:19: key `group[0].resource[0].interface`: `eth0:0` is not an interface name (1 to 15 characters, no `/`, `:` or spaces)"),
        (group("kind = \"address\"\nip = \"10.0.0.5\"\ndevice = \"/dev/sdb1\"\n"),
         "t.toml:19: key `group[0].resource[0].device`: `device` is not a key of kind `address` (its keys: ip, interface, broadcast, garp_count, garp_interval, garp_refresh)"),
        (group("kind = \"adress\"\n"), "t.toml:17: key `group[0].resource[0].kind`: unknown resource kind `adress` (known: address, mac, notify_switch, disk, service)"),
        // mac
        (group("kind = \"mac\"\naddress = \"00:11:22:33:44:55\"\ninterface = \"eth0\"\n"),
         "t.toml:18: key `group[0].resource[0].address`: 00:11:22:33:44:55 is not locally administered (the second bit of the first byte must be set, e.g. 02:...)"),
        (group("kind = \"mac\"\naddress = \"03:00:00:00:00:01\"\ninterface = \"eth0\"\n"),
         "t.toml:18: key `group[0].resource[0].address`: 03:00:00:00:00:01 is a multicast address: a moved MAC must be unicast"),
        (group("kind = \"mac\"\naddress = \"02:00:00:00:01\"\ninterface = \"eth0\"\n"),
         "t.toml:18: key `group[0].resource[0].address`: `02:00:00:00:01` is not a MAC address (write 02:00:c0:a8:55:03)"),
        (group("kind = \"mac\"\nderive = true\ninterface = \"eth0\"\n"),
         "t.toml:18: key `group[0].resource[0].derive`: `derive = true` needs an IPv4 `address` resource in the group"),
        (group("kind = \"mac\"\naddress = \"02:00:00:00:00:01\"\n"), "t.toml:16: key `group[0].resource[0].interface`: a `mac` resource needs `interface`"),
        // disk
        (group("kind = \"disk\"\ndevice = \"/dev/sdb1\"\nmountpoint = \"srv/data\"\nfstype = \"ext4\"\n"),
         "t.toml:19: key `group[0].resource[0].mountpoint`: `srv/data` is not an absolute path"),
        (group("kind = \"disk\"\ndevice = \"/dev/sdb1\"\nmountpoint = \"/\"\nfstype = \"ext4\"\n"),
         "t.toml:19: key `group[0].resource[0].mountpoint`: the root directory cannot be a shared disk's mount point"),
        (group("kind = \"disk\"\ndevice = \"/dev/sdb1\"\nmountpoint = \"/srv\"\n"), "t.toml:16: key `group[0].resource[0].fstype`: a `disk` resource needs `fstype`"),
        (group("kind = \"disk\"\ndevice = \"sdb1\"\nmountpoint = \"/srv\"\nfstype = \"ext4\"\n"),
         "t.toml:18: key `group[0].resource[0].device`: `sdb1` is not an absolute device path, UUID=... or LABEL=..."),
        (group("kind = \"disk\"\ndevice = \"/dev/sdb1\"\nmountpoint = \"/srv\"\nfstype = \"ext4\"\nfsck = \"sometimes\"\n"),
         "t.toml:21: key `group[0].resource[0].fsck`: unknown fsck policy `sometimes` (known: never, if-dirty, always)"),
        (group("kind = \"disk\"\ndevice = \"/dev/sdb1\"\nmountpoint = \"/srv\"\nfstype = \"ext4\"\nactivate = []\n"),
         "t.toml:21: key `group[0].resource[0].activate`: is empty: give the program and its arguments"),
        // service
        (group("kind = \"service\"\nscript = \"httpd\"\nsystemd = \"httpd.service\"\n"),
         "t.toml:19: key `group[0].resource[0].systemd`: a service is run one way: `script` and `systemd` are both given"),
        (group("kind = \"service\"\ntimeout = \"10s\"\n"),
         "t.toml:16: key `group[0].resource[0].script`: a `service` resource needs one of `script`, `systemd`, `ocf`, `command`"),
        (group("kind = \"service\"\nscript = \"maid::\"\n"), "t.toml:18: key `group[0].resource[0].script`: `maid::` has an empty argument (`::::` or a trailing `::`)"),
        (group("kind = \"service\"\nscript = \"httpd\"\nparams = { a = \"b\" }\n"), "t.toml:19: key `group[0].resource[0].params`: `params` goes with `ocf`, not with `script`"),
        (group("kind = \"service\"\nocf = \"IPaddr2\"\n"), "t.toml:18: key `group[0].resource[0].ocf`: `IPaddr2` is not `provider:type` (e.g. heartbeat:IPaddr2)"),
        // monitors
        (monitor("kind = \"tcp\"\naddress = \"127.0.0.1:25\"\nsend = 'HELO\\q'\n"),
         "t.toml:22: key `group[0].monitor[0].send`: unknown escape '\\q' at byte 4 (known: \\n \\r \\t \\0 \\\\ \\xHH)"),
        (monitor("kind = \"tcp\"\naddress = \"mail:25\"\n"),
         "t.toml:21: key `group[0].monitor[0].address`: `mail:25` is not IP:PORT (e.g. 127.0.0.1:80 or [::1]:80; names other than localhost are not resolved)"),
        (monitor("kind = \"http\"\nurl = \"https://127.0.0.1/\"\n"),
         "t.toml:21: key `group[0].monitor[0].url`: `https://127.0.0.1/` is not an http:// URL (https is not checked)"),
        (monitor("kind = \"http\"\nurl = \"http://127.0.0.1/\"\ninterval = \"1s\"\ntimeout = \"2s\"\n"),
         "t.toml:23: key `group[0].monitor[0].timeout`: timeout 2s is longer than interval 1s: checks would overlap"),
        (monitor("kind = \"command\"\n"), "t.toml:19: key `group[0].monitor[0].command`: a `command` monitor needs `command`"),
        (monitor("kind = \"ping\"\n"), "t.toml:20: key `group[0].monitor[0].kind`: unknown monitor kind `ping` (known: tcp, http, command)"),
    ];
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for (text, want) in &cases {
        let got = err(text);
        if got != *want {
            failures.push(format!("want: {want}\n got: {got}\n"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn the_documented_example_parses() {
    let c = config::parse(docs_example(), "configuration.md").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.nodes.len(), 2);
    assert_eq!(c.groups.len(), 2);
    assert_eq!(c.resource_count(), 10);
    assert_eq!(c.monitor_count(), 3);
    assert_eq!(c.cluster.auth, AuthKind::Hmac);
    assert_eq!(c.node_id("linuxha2"), Some(NodeId(1)));
    assert_eq!(c.group_id("db"), Some(GroupId(1)));
    let web = &c.groups[0];
    assert!(web.auto_failback);
    assert_eq!(web.nodes, vec![NodeId(0), NodeId(1)]);
    // derive = true takes the group's first IPv4 address, 192.168.85.3.
    match &web.resources[1] {
        ResourceConfig::Mac(m) => assert_eq!(m.address, [0x02, 0x00, 192, 168, 85, 3]),
        other => panic!("{other:?}"),
    }
    match &web.resources[5] {
        ResourceConfig::Service(s) => {
            assert_eq!(s.service.script_spec().as_deref(), Some("maid::vacuum"));
            assert!(matches!(&s.service, Service::Script { args, .. } if args == &["vacuum"]));
        }
        other => panic!("{other:?}"),
    }
    match &web.monitors[1].check {
        CheckConfig::SendExpect { send, expect, .. } => {
            assert!(send.is_empty());
            assert_eq!(expect, b"220 ");
        }
        other => panic!("{other:?}"),
    }
    let cc = c.cluster_config();
    assert_eq!(cc.nodes, 2);
    assert_eq!(cc.groups[1].eligible.as_slice(), &[NodeId(1), NodeId(0)]);
    assert_eq!(cc.timing.failback_delay.as_millis(), 60_000);
    assert_eq!(cc.timing.auto_unfence_after.map(|d| d.as_millis()), Some(3_600_000));
    assert_eq!(cc.validate(), Ok(()));
    assert_eq!(c.nodes[1].udp.map(|u| u.controller.to_string()).as_deref(), Some("10.0.0.254:694"));
    assert_eq!(c.nodes[1].serial.as_ref().map(|s| s.baud), Some(115_200));
}

#[test]
fn durations_take_integers_and_units() {
    let text = with_head(&format!(
        "[timing]\nkeepalive = 20\nwarntime = \"60ms\"\ndeadtime = \"0.1s\"\ninitdead = \"1.5s\"\nmove_window = \"2m\"\n{WEB}"
    ));
    let c = config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let t = c.timing;
    assert_eq!(
        [t.keepalive, t.warntime, t.deadtime, t.initdead, t.move_window].map(|d| d.as_millis()),
        [20, 60, 100, 1500, 120_000]
    );
    assert_eq!(t.auto_unfence_after, None);
}

#[test]
fn agent_settings_and_watchdog_take_defaults_or_given_values() {
    let c = config::parse(&with_head(WEB), "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.agent, config::AgentSettings::default());
    assert_eq!(c.agent.metrics, None, "no metrics unless asked");
    assert_eq!(c.agent.socket.to_str(), Some("/run/warden/agent.sock"));
    assert_eq!(c.agent.lock_file().to_str(), Some("/run/warden/agent.lock"));
    assert_eq!(c.nodes[0].watchdog, None);

    let text = format!(
        "{HEAD}[[node]]\nname = \"d\"\nserial = {{ device = \"/dev/ttyS2\" }}\nwatchdog = \"/dev/watchdog1\"\nwatchdog_timeout = \"30s\"\n\
         [agent]\nsocket = \"/run/w/a.sock\"\nstate_dir = \"/var/lib/w\"\nprobe_interval = \"5s\"\nrestart_window = \"1m\"\nmlock = true\nrealtime_priority = 10\nmetrics = \"[::1]:9665\"\n{WEB}"
    );
    let c = config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.agent.socket.to_str(), Some("/run/w/a.sock"));
    assert_eq!(c.agent.lock_file().to_str(), Some("/run/w/a.lock"));
    assert_eq!(c.agent.state_dir.to_str(), Some("/var/lib/w"));
    assert_eq!(c.agent.probe_interval.as_millis(), 5000);
    assert_eq!(c.agent.restart_window.as_millis(), 60_000);
    assert!(c.agent.scheduling.mlock && c.agent.scheduling.explicit);
    assert_eq!(c.agent.scheduling.realtime_priority, Some(10));
    assert_eq!(c.agent.metrics, Some("[::1]:9665".parse().unwrap()));
    assert_eq!(c.nodes[2].watchdog.as_deref().and_then(|p| p.to_str()), Some("/dev/watchdog1"));
    assert_eq!(c.nodes[2].watchdog_timeout.as_secs(), 30);
}

#[test]
fn crc_on_serial_only_needs_no_key() {
    let text =
        "[cluster]\nname = \"c\"\nauth = \"crc\"\n[[node]]\nname = \"a\"\nserial = { device = \"/dev/ttyS0\" }\n";
    let c = config::parse(text, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.cluster.auth, AuthKind::Crc);
    assert_eq!(c.cluster.key_file, None);
}

#[test]
fn load_refuses_a_key_file_others_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("cluster.toml");
    let key = dir.path().join("k");
    fs::write(&conf, with_head(WEB)).unwrap();
    fs::write(&key, "secret-key-material\n").unwrap();

    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let e = config::load(&conf).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}:3: key `cluster.key_file`: key file {} has mode 0644: it must not be accessible by group or others (chmod 600 {})",
            conf.display(),
            key.display(),
            key.display()
        )
    );

    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let c = config::load(&conf).unwrap_or_else(|e| panic!("{e}"));
    // A relative key_file is taken from the configuration's directory.
    assert_eq!(c.cluster.key_file.as_deref(), Some(key.as_path()));
    assert_eq!(config::read_key(&key).unwrap(), b"secret-key-material");

    // A key longer than a frame key can hold is refused at load, not at run.
    fs::write(&key, "k".repeat(65)).unwrap();
    let e = config::load(&conf).unwrap_err().to_string();
    assert_eq!(
        e,
        format!("{}:3: key `cluster.key_file`: key file {} is larger than 64 bytes", conf.display(), key.display())
    );
    fs::write(&key, "k".repeat(64)).unwrap();
    assert!(config::load(&conf).is_ok());

    fs::remove_file(&key).unwrap();
    let e = config::load(&conf).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}:3: key `cluster.key_file`: key file {}: ", conf.display(), key.display())),
        "{e}"
    );

    let missing = dir.path().join("absent.toml");
    let e = config::load(&missing).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: cannot read {}: ", missing.display(), missing.display())), "{e}");
}

#[test]
fn a_resource_is_read_by_its_kind_wherever_the_kind_is_written() {
    let last = with_head(
        "[[group]]\nname = \"web\"\nnodes = [\"a\"]\n[[group.resource]]\nip = \"10.0.0.5\"\nkind = \"address\"\n",
    );
    let c = config::parse(&last, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&c.groups[0].resources[..], [ResourceConfig::Address(a)] if a.ip.to_string() == "10.0.0.5"));

    let inline =
        |resources: &str| with_head(&format!("[[group]]\nname = \"web\"\nnodes = [\"a\"]\nresource = [{resources}]\n"));
    let c =
        config::parse(&inline("{ ip = \"10.0.0.5\", kind = \"address\" }"), "t.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&c.groups[0].resources[..], [ResourceConfig::Address(_)]));
    assert_eq!(
        err(&inline("{ kind = \"address\", ip = \"10.0.0.5\" }, { mountpoint = \"/srv\", kind = \"disk\", ip = \"10.0.0.6\" }")),
        "t.toml:16: key `group[0].resource[1].ip`: `ip` is not a key of kind `disk` (its keys: device, mountpoint, fstype, options, fsck, activate, deactivate, kill_grace, timeout, fsck_timeout)"
    );
    assert_eq!(
        err(&inline("{ ip = \"10.0.0.5\", kind = \"adress\" }")),
        "t.toml:16: key `group[0].resource[0].kind`: unknown resource kind `adress` (known: address, mac, notify_switch, disk, service)"
    );
    assert_eq!(
        err(&inline("{ ip = \"10.0.0.5\" }")),
        "t.toml:16: key `group[0].resource[0].kind`: is required but missing"
    );
    assert_eq!(
        err(&inline("{ kind = 4 }")),
        "t.toml:16: key `group[0].resource[0].kind`: invalid type: integer `4`, expected a string"
    );
}
