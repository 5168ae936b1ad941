use std::path::PathBuf;
use std::time::Duration;

use warden_core::NodeId;

use super::fixture::{cluster, CLUSTER};
use super::*;

const GOOD: &str = r#"[controller]
socket = "controller.sock"
fence_store = "/var/lib/warden/fences"
sense_interval = "250ms"

[watchdog]
device = "/dev/watchdog"
timeout = "10s"

[relay_module]
device = "/dev/ttyUSB0"
channels = 4

[[node]]
name = "alpha"
serial = { device = "/dev/ttyS1" }
relay = { kind = "module" }

[[node]]
name = "beta"
serial = { device = "/dev/ttyS2", baud = 9600 }
udp = { listen = "127.0.0.1:694", peer = "127.0.0.2:694" }
relay = { kind = "gpio", chip = "/dev/gpiochip0", line = 17, sense_line = 18, active_low = true }
"#;

#[test]
fn a_good_file_is_read_whole() {
    let c = parse(GOOD, "controller.toml", &cluster()).unwrap();
    assert_eq!(c.socket, PathBuf::from("controller.sock"));
    assert_eq!(c.sense_interval, Duration::from_millis(250));
    assert_eq!(c.status_interval, None);
    assert_eq!(c.watchdog, Some(WatchdogConfig { device: "/dev/watchdog".into(), timeout: Duration::from_secs(10) }));
    assert_eq!(
        c.relay_module,
        Some(RelayModuleConfig {
            device: "/dev/ttyUSB0".into(),
            baud: 9600,
            channels: 4,
            answer_timeout: Duration::from_millis(200)
        })
    );
    assert_eq!(c.nodes.len(), 2);
    assert_eq!(c.nodes[0].id, NodeId(0));
    assert_eq!(c.nodes[0].channel, 0);
    assert_eq!(c.nodes[0].links, vec![LinkConfig::Serial { device: "/dev/ttyS1".into(), baud: 115_200 }]);
    assert_eq!(c.nodes[1].channel, 2, "the channel is the cluster file's `relay`");
    assert_eq!(c.nodes[1].links.len(), 2);
    assert_eq!(
        c.nodes[1].relay,
        RelayConfig::Gpio {
            chip: "/dev/gpiochip0".into(),
            line: 17,
            active_low: true,
            sense_line: Some(18),
            sense_active_low: false
        }
    );
}

#[test]
fn nodes_may_come_in_any_order() {
    let text =
        GOOD.replacen("name = \"alpha\"", "name = \"tmp\"", 1).replacen("name = \"beta\"", "name = \"alpha\"", 1);
    let text = text.replacen("name = \"tmp\"", "name = \"beta\"", 1);
    // beta now has the module relay (channel 2 < 4) and alpha the gpio one.
    let c = parse(&text, "controller.toml", &cluster()).unwrap();
    assert_eq!(c.nodes[0].name, "alpha");
    assert!(matches!(c.nodes[0].relay, RelayConfig::Gpio { .. }));
}

/// Every refusal, with its exact message. Each case edits the good file.
#[test]
fn bad_files_are_refused_with_file_line_and_key() {
    let cases: &[(&str, &str, &str)] = &[
        ("[controller]", "[controler]", "controller.toml:1: key `controler`: unknown key (known keys here: `controller`, `watchdog`, `relay_module`, `node`)"),
        ("socket = \"controller.sock\"\n", "", "controller.toml:1: key `controller.socket`: is required but missing"),
        ("sense_interval = \"250ms\"", "sense_interval = \"fast\"", "controller.toml:4: key `controller.sense_interval`: duration \"fast\" has unknown unit \"fast\" (known: ms, s, m, h)"),
        ("sense_interval = \"250ms\"", "sense_interval = \"250\"", "controller.toml:4: key `controller.sense_interval`: duration \"250\" has no unit: write e.g. \"250ms\" or \"250s\", or an integer of milliseconds"),
        ("sense_interval = \"250ms\"", "sense_interval = \"0.0005s\"", "controller.toml:4: key `controller.sense_interval`: duration \"0.0005s\" is not a whole number of milliseconds"),
        ("sense_interval = \"250ms\"", "sense_interval = -5", "controller.toml:4: key `controller.sense_interval`: duration -5 is negative"),
        ("sense_interval = \"250ms\"", "sense_interval = true", "controller.toml:4: key `controller.sense_interval`: must be a duration: an integer of milliseconds or a string like \"200ms\", \"2s\", \"1.5s\", \"1m\""),
        ("sense_interval = \"250ms\"", "sense_interval = 0", "controller.toml:4: key `controller.sense_interval`: must be greater than zero"),
        ("sense_interval = \"250ms\"", "sense_intervall = 5", "controller.toml:4: key `controller.sense_intervall`: unknown key (known keys here: `socket`, `fence_store`, `sense_interval`, `status_interval`, `mlock`, `realtime_priority`, `operator`, `metrics`)"),
        ("sense_interval = \"250ms\"", "realtime_priority = 100", "controller.toml:4: key `controller.realtime_priority`: must be an integer from 0 to 99"),
        ("timeout = \"10s\"", "timeout = \"2s\"", "controller.toml:8: key `watchdog.timeout`: must be more than twice the cluster's keepalive (1000ms)"),
        ("device = \"/dev/watchdog\"", "device = \"watchdog\"", "controller.toml:7: key `watchdog.device`: `watchdog` must be an absolute path"),
        ("channels = 4", "channels = 0", "controller.toml:12: key `relay_module.channels`: must be an integer from 1 to 255"),
        ("name = \"alpha\"", "name = \"gamma\"", "controller.toml:15: key `node[0].name`: node `gamma` is not in the cluster file (nodes: alpha, beta)"),
        ("name = \"beta\"", "name = \"alpha\"", "controller.toml:20: key `node[1].name`: node `alpha` is described twice"),
        ("serial = { device = \"/dev/ttyS1\" }\n", "", "controller.toml:14: key `node[0]`: needs at least one of `serial`, `udp`"),
        ("baud = 9600 }", "baud = 9601 }", "controller.toml:21: key `node[1].serial.baud`: 9601 is not a line speed (known: 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000)"),
        ("\"/dev/ttyS2\"", "\"/dev/ttyS1\"", "controller.toml:21: key `node[1].serial.device`: /dev/ttyS1 is already used by `node[0].serial.device`"),
        ("\"/dev/ttyS2\"", "\"/dev/ttyUSB0\"", "controller.toml:21: key `node[1].serial.device`: /dev/ttyUSB0 is already used by `relay_module.device`"),
        ("peer = \"127.0.0.2:694\"", "peer = \"127.0.0.2\"", "controller.toml:22: key `node[1].udp.peer`: `127.0.0.2` is not IP:PORT with a port from 1 to 65535"),
        (", peer = \"127.0.0.2:694\"", "", "controller.toml:22: key `node[1].udp.peer`: is required but missing"),
        ("relay = { kind = \"module\" }\n", "", "controller.toml:14: key `node[0].relay`: is required but missing"),
        ("kind = \"module\"", "kind = \"plc\"", "controller.toml:17: key `node[0].relay.kind`: unknown relay kind `plc` (known: module, gpio)"),
        ("kind = \"module\"", "kind = \"module\", line = 3", "controller.toml:17: key `node[0].relay.line`: unknown key (known keys here: `kind`)"),
        ("sense_line = 18", "sense_line = 17", "controller.toml:23: key `node[1].relay.sense_line`: line 17 of /dev/gpiochip0 is already used by `node[1].relay.line`"),
        ("line = 17", "line = -1", "controller.toml:23: key `node[1].relay.line`: must be an integer from 0 to 4294967295"),
        ("active_low = true", "active_low = \"yes\"", "controller.toml:23: key `node[1].relay.active_low`: must be true or false"),
        ("[relay_module]\ndevice = \"/dev/ttyUSB0\"\nchannels = 4\n", "", "controller.toml:14: key `node[0].relay.kind`: the relay module is used but there is no [relay_module] table"),
        ("relay = { kind = \"module\" }", "relay = \"module\"", "controller.toml:17: key `node[0].relay`: must be a table"),
        ("[[node]]\nname = \"beta\"", "[[nod]]\nname = \"beta\"", "controller.toml:19: key `nod`: unknown key (known keys here: `controller`, `watchdog`, `relay_module`, `node`)"),
        ("[watchdog]", "[watchdog", "controller.toml:6:10: TOML syntax: invalid table header"),
    ];
    for (from, to, want) in cases {
        assert!(GOOD.contains(from), "case {want}: `{from}` is not in the good file");
        let text = GOOD.replacen(from, to, 1);
        match parse(&text, "controller.toml", &cluster()) {
            Ok(_) => panic!("accepted with `{from}` -> `{to}`; wanted: {want}"),
            Err(e) => assert_eq!(e.to_string(), *want, "with `{from}` -> `{to}`"),
        }
    }
}

#[test]
fn a_node_of_the_cluster_left_out_is_refused() {
    let end = GOOD.find("[[node]]\nname = \"beta\"").unwrap();
    let err = parse(&GOOD[..end], "controller.toml", &cluster()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "controller.toml:14: key `node`: node `beta` of the cluster file has no [[node]] entry here"
    );
}

#[test]
fn udp_is_refused_on_a_crc_cluster() {
    let crc = CLUSTER.replace("key_file = \"cluster.key\"", "auth = \"crc\"");
    let cluster = warden_cluster::parse(&crc, "cluster.toml").unwrap();
    let err = parse(GOOD, "controller.toml", &cluster).unwrap_err();
    assert_eq!(
        err.to_string(),
        "controller.toml:22: key `node[1].udp`: a UDP link needs `auth = \"hmac\"` in the cluster file (it has crc)"
    );
}

#[test]
fn the_operator_endpoint_is_read_and_refused_on_a_crc_cluster() {
    let with =
        GOOD.replacen("sense_interval = \"250ms\"", "sense_interval = \"250ms\"\noperator = \"127.0.0.1:7694\"", 1);
    let c = parse(&with, "controller.toml", &cluster()).unwrap();
    assert_eq!(c.operator, Some("127.0.0.1:7694".parse().unwrap()));
    assert_eq!(parse(GOOD, "controller.toml", &cluster()).unwrap().operator, None);
    let bad = with.replace("127.0.0.1:7694", "127.0.0.1");
    assert_eq!(
        parse(&bad, "controller.toml", &cluster()).unwrap_err().to_string(),
        "controller.toml:5: key `controller.operator`: `127.0.0.1` is not IP:PORT with a port from 1 to 65535"
    );
    let crc = CLUSTER.replace("key_file = \"cluster.key\"", "auth = \"crc\"");
    let crc = warden_cluster::parse(&crc, "cluster.toml").unwrap();
    let only_operator = with.replace("udp = { listen = \"127.0.0.1:694\", peer = \"127.0.0.2:694\" }\n", "");
    let err = parse(&only_operator, "controller.toml", &crc).map(|_| ()).unwrap_err().to_string();
    assert!(
        err.starts_with("controller.toml:5: key `controller.operator`: needs the cluster file's `auth = \"hmac\"`"),
        "{err}"
    );
}

#[test]
fn the_metrics_address_is_read_and_a_bad_one_named() {
    assert_eq!(parse(GOOD, "controller.toml", &cluster()).unwrap().metrics, None);
    let with =
        GOOD.replacen("sense_interval = \"250ms\"", "sense_interval = \"250ms\"\nmetrics = \"127.0.0.1:9664\"", 1);
    let c = parse(&with, "controller.toml", &cluster()).unwrap();
    assert_eq!(c.metrics, Some("127.0.0.1:9664".parse().unwrap()));
    for (bad, why) in [
        ("127.0.0.1", "`127.0.0.1` is not IP:PORT with a port from 1 to 65535"),
        ("127.0.0.1:0", "`127.0.0.1:0` is not IP:PORT with a port from 1 to 65535"),
        ("localhost:9664", "`localhost:9664` is not IP:PORT with a port from 1 to 65535"),
    ] {
        let text = with.replace("127.0.0.1:9664", bad);
        assert_eq!(
            parse(&text, "controller.toml", &cluster()).unwrap_err().to_string(),
            format!("controller.toml:5: key `controller.metrics`: {why}")
        );
    }
    let text = with.replace("\"127.0.0.1:9664\"", "9664");
    let err = parse(&text, "controller.toml", &cluster()).unwrap_err().to_string();
    assert!(err.starts_with("controller.toml:5: key `controller.metrics`: "), "{err}");
}

#[test]
fn load_names_a_missing_file_and_resolves_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let err = load(&missing, &cluster()).unwrap_err();
    let m = missing.display();
    assert_eq!(err.to_string(), format!("{m}: cannot read {m}: No such file or directory (os error 2)"));
    let path = dir.path().join("controller.toml");
    std::fs::write(&path, GOOD).unwrap();
    let c = load(&path, &cluster()).unwrap();
    assert_eq!(c.socket, dir.path().join("controller.sock"));
    assert_eq!(c.fence_store, PathBuf::from("/var/lib/warden/fences"));
}

#[test]
fn a_relay_channel_beyond_the_module_is_refused() {
    let text = GOOD.replacen("channels = 4", "channels = 2", 1).replacen(
        "relay = { kind = \"gpio\", chip = \"/dev/gpiochip0\", line = 17, sense_line = 18, active_low = true }",
        "relay = { kind = \"module\" }",
        1,
    );
    let err = parse(&text, "controller.toml", &cluster()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "controller.toml:23: key `node[1].relay.kind`: node `beta` has relay 2 in the cluster file, but the relay module has channels 0 to 1"
    );
}

/// The hardware file takes the cluster file's duration grammar: decimals
/// and every unit the cluster file takes.
#[test]
fn durations_read_as_in_the_cluster_file() {
    for (written, ms) in
        [("\"1.5s\"", 1500), ("\"1m\"", 60_000), ("\"1min\"", 60_000), ("750", 750), ("\"0.25s\"", 250)]
    {
        let text = GOOD.replacen("sense_interval = \"250ms\"", &format!("sense_interval = {written}"), 1);
        let c = parse(&text, "controller.toml", &cluster()).unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(c.sense_interval, Duration::from_millis(ms), "{written}");
    }
}
