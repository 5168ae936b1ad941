//! Running the relay [`Board`] emulator on a file descriptor: a
//! pseudo-terminal master (the process rig) or a socket (QEMU's UART).

use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::relay::{Board, BoardEvent};

/// How often [`serve`] looks at its stop flag while the line is quiet.
const STOP_CHECK_MS: u16 = 50;

/// Plays `board` on `port` until `stop` is set or the port ends: every byte
/// read is fed to the board, every reply written back at once, and every
/// event passed to `on_event` (after the reply is written).
///
/// # Errors
///
/// An I/O error of the port (end of file on a socket returns `Ok`).
pub fn serve<const N: usize, P: Read + Write + AsFd>(
    board: &mut Board<N>,
    port: &mut P,
    stop: &AtomicBool,
    mut on_event: impl FnMut(&Board<N>, BoardEvent),
) -> io::Result<()> {
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        let ready = {
            let mut fds = [PollFd::new(port.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(STOP_CHECK_MS)) {
                Ok(n) => n > 0,
                Err(Errno::EINTR) => false,
                Err(e) => return Err(e.into()),
            }
        };
        if !ready {
            continue;
        }
        let n = match port.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock) => continue,
            Err(e) => return Err(e),
        };
        let mut events = Vec::new();
        board.feed(buf.get(..n).unwrap_or_default(), |e| events.push(e));
        for event in events {
            if let BoardEvent::Reply(bytes) = event {
                port.write_all(&bytes)?;
                port.flush()?;
            }
            on_event(board, event);
        }
    }
    Ok(())
}
