//! `warden-relay-board`: plays a serial relay module (the `A0 ch state sum`
//! boards, with Warden's report query) for the process rig and QEMU.
//!
//! ```text
//! warden-relay-board --link /run/rig/relay --channels 4 [--off 2,3]
//! warden-relay-board --socket /run/rig/qemu-uart4.sock --channels 4
//! ```
//!
//! With `--link` it opens a pseudo-terminal and points the symlink LINK at
//! its slave, which the controller opens as its relay module's serial port.
//! With `--socket` it connects to a unix socket (QEMU's `-chardev socket`).
//! Relays start on, except the channels listed with `--off` (0-based).
//! It prints `ready DEVICE` once serving, then one line per change:
//! `switched channel=N on|off`, until SIGTERM or the socket closes.

use std::io::Write as _;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context as _};
use clap::Parser;
use warden_bsp::linux::{relay_board, Pty};
use warden_bsp::relay::{Board, BoardEvent};

/// Most channels the emulated board has.
const CHANNELS: usize = 16;

/// A serial relay board emulator.
#[derive(Debug, Parser)]
#[command(name = "warden-relay-board", version)]
struct Cli {
    /// Create a pseudo-terminal and point this symlink at its slave.
    #[arg(long, value_name = "PATH", conflicts_with = "socket", required_unless_present = "socket")]
    link: Option<PathBuf>,
    /// Connect to this unix socket instead.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Channels on the board (1 to 16).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=16))]
    channels: u8,
    /// Channels (0-based) whose relay starts off.
    #[arg(long, value_delimiter = ',')]
    off: Vec<u8>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut relays = [true; CHANNELS];
    for c in &cli.off {
        if *c >= cli.channels {
            bail!("--off {c}: the board has channels 0 to {}", cli.channels - 1);
        }
        if let Some(r) = relays.get_mut(usize::from(*c)) {
            *r = false;
        }
    }
    let mut board = Board::with_channels(relays, usize::from(cli.channels));
    let stop = AtomicBool::new(false);
    let mut out = std::io::stdout();
    let mut on_event = |_: &Board<CHANNELS>, e: BoardEvent| {
        if let BoardEvent::Switched { channel, on } = e {
            let _ = writeln!(out, "switched channel={} {}", channel.0, if on { "on" } else { "off" });
            let _ = out.flush();
        }
    };
    if let Some(link) = &cli.link {
        let pty = Pty::open().context("opening a pseudo-terminal")?;
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(pty.path(), link).with_context(|| format!("symlink {}", link.display()))?;
        println!("ready {}", pty.path().display());
        let mut master = pty.master.try_clone().context("pty master")?;
        relay_board::serve(&mut board, &mut master, &stop, &mut on_event).context("serving the pty")?;
    } else if let Some(socket) = &cli.socket {
        let mut stream = UnixStream::connect(socket).with_context(|| format!("connecting {}", socket.display()))?;
        println!("ready {}", socket.display());
        relay_board::serve(&mut board, &mut stream, &stop, &mut on_event).context("serving the socket")?;
    }
    Ok(())
}
