//! `warden-relay-board` as a process: the controller's relay module driver
//! talks to it through the symlink it makes, and it reports each switch.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use warden_bsp::linux::open_relay_module;
use warden_bsp::{Channel, PowerError, PowerSwitch};
use warden_core::Duration;

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn plays_a_relay_board_on_a_pty() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("relay");
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_warden-relay-board"))
            .arg("--link")
            .arg(&link)
            .args(["--channels", "3", "--off", "2"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stdout.take().unwrap()).lines();
    let ready = lines.next().unwrap().unwrap();
    assert!(ready.starts_with("ready /dev/pts/"), "{ready}");

    let mut relays = open_relay_module(&link, 9600, 4, Duration::from_millis(2000)).unwrap();
    assert_eq!(relays.sense(Channel(0)), Ok(Some(true)));
    assert_eq!(relays.sense(Channel(2)), Ok(Some(false)), "--off 2");
    relays.set(Channel(0), false).unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "switched channel=0 off");
    assert_eq!(relays.sense(Channel(0)), Ok(Some(false)));
    // The port is held exclusively: a second controller cannot open it.
    let second = open_relay_module(&link, 9600, 4, Duration::from_millis(200)).unwrap_err();
    assert!(second.to_string().contains("exclusive lock"), "{second}");
    drop(relays);
    // The driver thinks the board has 4 channels; the board has 3 and stays silent.
    let mut relays = open_relay_module(&link, 9600, 4, Duration::from_millis(200)).unwrap();
    assert_eq!(relays.sense(Channel(3)), Err(PowerError::NoAnswer(Channel(3))));
    relays.set(Channel(2), true).unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "switched channel=2 on");
}

#[test]
fn refuses_an_off_channel_beyond_the_board() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_warden-relay-board"))
        .arg("--link")
        .arg(dir.path().join("relay"))
        .args(["--channels", "2", "--off", "5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--off 5: the board has channels 0 to 1"));
}

#[test]
fn each_program_describes_itself() {
    for (program, description) in [
        (env!("CARGO_BIN_EXE_warden-relay-board"), "A serial relay board emulator"),
        (
            env!("CARGO_BIN_EXE_warden-controller"),
            "The Warden controller: heartbeats, power relays and failover decisions",
        ),
    ] {
        let out = Command::new(program).arg("--help").output().unwrap();
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.starts_with(description), "{program} --help begins:\n{help}");
    }
}
