//! `warden-relay-board` as a process: the controller's relay module driver
//! talks to it through the symlink it makes, and it reports each switch.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;

use warden_bsp::linux::open_relay_module;
use warden_bsp::{Channel, PowerError, PowerSwitch};
use warden_core::Duration;

/// Held while a test starts a process, and while a port is closed and
/// opened again. A child holds a copy of every descriptor between fork and
/// exec, close-on-exec or not, and with it the port's exclusive lock, so a
/// reopen that raced another test's spawn would find the port still locked.
static FORKING: Mutex<()> = Mutex::new(());

fn spawn(command: &mut Command) -> Child {
    let _forking = FORKING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    command.spawn().unwrap()
}

fn output(command: &mut Command) -> Output {
    let child = spawn(command.stdout(Stdio::piped()).stderr(Stdio::piped()));
    child.wait_with_output().unwrap()
}

struct Killed(Child);

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
    let mut child = Killed(spawn(
        Command::new(env!("CARGO_BIN_EXE_warden-relay-board"))
            .arg("--link")
            .arg(&link)
            .args(["--channels", "3", "--off", "2"])
            .stdout(Stdio::piped()),
    ));
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
    // The driver thinks the board has 4 channels; the board has 3 and stays silent.
    let mut relays = {
        let _forking = FORKING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        drop(relays);
        open_relay_module(&link, 9600, 4, Duration::from_millis(200)).unwrap()
    };
    assert_eq!(relays.sense(Channel(3)), Err(PowerError::NoAnswer(Channel(3))));
    relays.set(Channel(2), true).unwrap();
    assert_eq!(lines.next().unwrap().unwrap(), "switched channel=2 on");
}

#[test]
fn refuses_an_off_channel_beyond_the_board() {
    let dir = tempfile::tempdir().unwrap();
    let out = output(
        Command::new(env!("CARGO_BIN_EXE_warden-relay-board")).arg("--link").arg(dir.path().join("relay")).args([
            "--channels",
            "2",
            "--off",
            "5",
        ]),
    );
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
        let out = output(Command::new(program).arg("--help"));
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.starts_with(description), "{program} --help begins:\n{help}");
    }
}
