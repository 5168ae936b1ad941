//! Pseudo-terminal pairs: the rig's serial lines.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::pty::openpty;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};

/// A pseudo-terminal pair in raw mode. The master is the "far end" a test
/// or the rig plays; the slave's path is what a controller or agent opens
/// as its serial port. The slave stays open here too, so the master never
/// sees a hang-up while the program on the slave side restarts.
#[derive(Debug)]
pub struct Pty {
    /// The master side.
    pub master: File,
    slave: OwnedFd,
    path: PathBuf,
}

impl Pty {
    /// Opens a pair and puts the slave in raw mode (no echo, no line
    /// editing, 8-bit clean) before anyone can write to it.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn open() -> io::Result<Self> {
        let pair = openpty(None, None)?;
        let mut termios = tcgetattr(pair.slave.as_fd())?;
        cfmakeraw(&mut termios);
        tcsetattr(pair.slave.as_fd(), SetArg::TCSANOW, &termios)?;
        let path = nix::unistd::ttyname(pair.slave.as_fd())?;
        Ok(Self { master: File::from(pair.master), slave: pair.slave, path })
    }

    /// The slave's device path (`/dev/pts/N`).
    #[must_use]
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The slave side, for a test that plays the program end itself.
    #[must_use]
    pub fn slave(&self) -> &OwnedFd {
        &self.slave
    }
}
