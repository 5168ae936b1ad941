//! A serial port (or a pseudo-terminal's slave side) in raw 8N1 mode.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::{errno, OpenError};
use crate::link::{Link, LinkError};

/// How long `write_frame` waits for room to finish a frame it has begun.
const FINISH_FRAME_MS: u16 = 100;

/// A serial port opened exclusively, raw, 8N1, no flow control, with
/// non-blocking reads and writes. It is a [`Link`], and an embedded-io
/// stream (blocking where embedded-io says so) for the relay module driver.
#[derive(Debug)]
pub struct SerialPort {
    port: serialport::TTYPort,
    path: PathBuf,
}

impl SerialPort {
    /// Opens `path` at `baud` bits per second (a pseudo-terminal ignores it).
    ///
    /// # Errors
    ///
    /// [`OpenError`] naming the port: missing, busy (another process holds
    /// it), or not a terminal.
    pub fn open(path: &Path, baud: u32) -> Result<Self, OpenError> {
        let port = serialport::new(path.to_string_lossy(), baud)
            .data_bits(serialport::DataBits::Eight)
            .parity(serialport::Parity::None)
            .stop_bits(serialport::StopBits::One)
            .flow_control(serialport::FlowControl::None)
            .open_native()
            .map_err(|e| OpenError::new("serial port", path, io::Error::from(e)))?;
        fcntl(port.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
            .map_err(|e| OpenError::new("serial port", path, io::Error::from(e)))?;
        Ok(Self { port, path: path.to_owned() })
    }

    /// The device it was opened from.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits up to `timeout_ms` for `events`; returns the events seen.
    fn wait(&self, events: PollFlags, timeout: PollTimeout) -> io::Result<PollFlags> {
        let mut fds = [PollFd::new(self.as_fd(), events)];
        loop {
            match poll(&mut fds, timeout) {
                Ok(_) => return Ok(fds[0].revents().unwrap_or(PollFlags::empty())),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match nix::unistd::read(self.as_raw_fd(), buf) {
                Ok(n) => return Ok(n),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn write_now(&mut self, bytes: &[u8]) -> io::Result<usize> {
        loop {
            match nix::unistd::write(self.as_fd(), bytes) {
                Ok(n) => return Ok(n),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl AsRawFd for SerialPort {
    fn as_raw_fd(&self) -> RawFd {
        self.port.as_raw_fd()
    }
}

impl AsFd for SerialPort {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor belongs to `self.port`, which lives as long
        // as the borrow of `self` and closes it only when dropped.
        unsafe { BorrowedFd::borrow_raw(self.port.as_raw_fd()) }
    }
}

fn link_error(e: &io::Error) -> LinkError {
    match e.raw_os_error() {
        // EIO: the other side of a pseudo-terminal closed, or the USB serial
        // adapter went away; ENXIO/ENODEV: the device is gone.
        Some(libc::EIO | libc::ENXIO | libc::ENODEV) => LinkError::Disconnected,
        _ => LinkError::Device { code: errno(e) },
    }
}

impl Link for SerialPort {
    fn read_available(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
        match self.read_now(buf) {
            Ok(0) if !buf.is_empty() => Err(LinkError::Disconnected),
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(e) => Err(link_error(&e)),
        }
    }

    fn write_frame(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        let mut done = 0;
        while let Some(rest) = frame.get(done..).filter(|r| !r.is_empty()) {
            match self.write_now(rest) {
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if done == 0 {
                        return Err(LinkError::Full);
                    }
                    // Part of the frame is out: give the line a moment to
                    // take the rest rather than leave a torn frame.
                    let seen = self
                        .wait(PollFlags::POLLOUT, PollTimeout::from(FINISH_FRAME_MS))
                        .map_err(|e| link_error(&e))?;
                    if !seen.contains(PollFlags::POLLOUT) {
                        return Err(LinkError::Full);
                    }
                }
                Err(e) => return Err(link_error(&e)),
            }
        }
        Ok(())
    }
}

impl embedded_io::ErrorType for SerialPort {
    type Error = io::Error;
}

impl embedded_io::Read for SerialPort {
    /// Waits until at least one byte is there, as embedded-io requires.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.read_now(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait(PollFlags::POLLIN, PollTimeout::NONE)?;
                }
                other => return other,
            }
        }
    }
}

impl embedded_io::ReadReady for SerialPort {
    /// True when a read will not wait: bytes are there, or an error or
    /// hang-up is, which the read then reports.
    fn read_ready(&mut self) -> io::Result<bool> {
        let seen = self.wait(PollFlags::POLLIN, PollTimeout::ZERO)?;
        Ok(!seen.is_empty())
    }
}

impl embedded_io::Write for SerialPort {
    /// Waits until at least one byte is taken, as embedded-io requires.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.write_now(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait(PollFlags::POLLOUT, PollTimeout::NONE)?;
                }
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl embedded_io::WriteReady for SerialPort {
    fn write_ready(&mut self) -> io::Result<bool> {
        let seen = self.wait(PollFlags::POLLOUT, PollTimeout::ZERO)?;
        Ok(!seen.is_empty())
    }
}
