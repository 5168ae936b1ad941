//! Byte links between the controller and one node.

use core::fmt;

use embedded_io::{ErrorKind, Read, ReadReady, Write, WriteReady};
use warden_core::controller::LinkProgress;

/// A link to one node: a serial line, or a UDP socket for a controller with
/// a network port. It carries the frames of [`warden_core::wire`]; framing,
/// authentication and decoding are the caller's (a
/// [`warden_core::wire::Decoder`] per link).
///
/// # Contract
///
/// * [`read_available`](Self::read_available) never waits: it copies the
///   bytes that have arrived into `buf` and returns how many, `Ok(0)` when
///   nothing has. A datagram link returns at most one datagram per call and
///   drops (and counts) a datagram longer than `buf`, so frames never merge.
/// * [`write_frame`](Self::write_frame) never waits for the peer: it hands
///   one whole frame to the hardware or fails. After an error, part of the
///   frame may have gone out; the receiver's decoder drops it at the next
///   delimiter, and the controller's next beat heals the loss.
/// * Errors are per call: a link that failed may work on the next call
///   (a cable plugged back in). [`LinkError::Disconnected`] says the peer
///   is gone for now; [`LinkError::Full`] that the output cannot take a frame
///   now; [`LinkError::Device`] anything else.
pub trait Link {
    /// Copies the bytes that have arrived into `buf`, without waiting.
    ///
    /// # Errors
    ///
    /// [`LinkError::Disconnected`] or [`LinkError::Device`].
    fn read_available(&mut self, buf: &mut [u8]) -> Result<usize, LinkError>;

    /// Sends one whole frame (its delimiter included), without waiting for
    /// the peer.
    ///
    /// # Errors
    ///
    /// [`LinkError::Full`] when the output cannot take the frame now,
    /// [`LinkError::TooLong`] when the link cannot carry a frame this long,
    /// [`LinkError::Disconnected`], [`LinkError::Device`].
    fn write_frame(&mut self, frame: &[u8]) -> Result<(), LinkError>;
}

impl<L: Link + ?Sized> Link for &mut L {
    fn read_available(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
        (**self).read_available(buf)
    }
    fn write_frame(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        (**self).write_frame(frame)
    }
}

/// Why a link call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkError {
    /// The peer is gone for now (hang-up, carrier lost, port unreachable).
    Disconnected,
    /// The output cannot take a whole frame now; nothing was written.
    Full,
    /// The frame is longer than the link can carry; nothing was written.
    TooLong,
    /// Any other device error; `code` is the OS error number (0 on bare metal).
    Device {
        /// OS error number, or 0.
        code: i32,
    },
}

impl LinkError {
    /// What this failure says of the link driver's progress (the core feeds
    /// the watchdog only while none is stalled): a device error stalls the
    /// driver; a peer that is gone or not reading, or a frame too long, is
    /// not the driver's fault.
    #[must_use]
    pub const fn progress(self) -> LinkProgress {
        match self {
            Self::Device { .. } => LinkProgress::Stalled,
            Self::Disconnected | Self::Full | Self::TooLong => LinkProgress::PeerTrouble,
        }
    }
}

/// What a link call came to, for the core: bytes moved (or none to move),
/// or what its error says.
#[must_use]
pub const fn progress_of<T>(result: &Result<T, LinkError>) -> LinkProgress {
    match result {
        Ok(_) => LinkProgress::Moved,
        Err(e) => e.progress(),
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Disconnected => f.write_str("link disconnected (peer gone or carrier lost)"),
            Self::Full => f.write_str("link output full, frame not sent"),
            Self::TooLong => f.write_str("frame too long for the link"),
            Self::Device { code } => write!(f, "link device error (os error {code})"),
        }
    }
}

impl core::error::Error for LinkError {}

/// A [`Link`] over any embedded-io byte stream that can say whether it is
/// ready (a UART driver, typically).
///
/// `write_frame` checks [`WriteReady`] first and then writes the whole frame,
/// which may occupy the caller for one frame's transmission time on a UART
/// without a deep buffer (128 bytes at 115200 baud: 11 ms).
#[derive(Debug)]
pub struct IoLink<T> {
    io: T,
}

impl<T> IoLink<T> {
    /// Wraps `io`.
    pub const fn new(io: T) -> Self {
        Self { io }
    }

    /// The stream itself.
    pub fn inner(&mut self) -> &mut T {
        &mut self.io
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> T {
        self.io
    }
}

fn link_error(kind: ErrorKind) -> LinkError {
    match kind {
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::NotConnected => {
            LinkError::Disconnected
        }
        ErrorKind::OutOfMemory => LinkError::Full,
        _ => LinkError::Device { code: 0 },
    }
}

impl<T: Read + ReadReady + Write + WriteReady> Link for IoLink<T> {
    fn read_available(&mut self, buf: &mut [u8]) -> Result<usize, LinkError> {
        use embedded_io::Error as _;
        if buf.is_empty() || !self.io.read_ready().map_err(|e| link_error(e.kind()))? {
            return Ok(0);
        }
        self.io.read(buf).map_err(|e| link_error(e.kind()))
    }

    fn write_frame(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        use embedded_io::Error as _;
        if !self.io.write_ready().map_err(|e| link_error(e.kind()))? {
            return Err(LinkError::Full);
        }
        self.io.write_all(frame).map_err(|e| link_error(e.kind()))?;
        self.io.flush().map_err(|e| link_error(e.kind()))
    }
}
