//! Encoding and decoding relay module frames. See the [module docs](super).

use core::fmt;

use crate::power::Channel;

/// Length of every frame.
pub const FRAME_LEN: usize = 4;
/// The first byte of every frame.
pub const START: u8 = 0xA0;

/// State byte: switch off.
const OFF: u8 = 0x00;
/// State byte: switch on.
const ON: u8 = 0x01;
/// State byte: report the sense reading (Warden's extension).
const REPORT: u8 = 0x02;
/// State byte: report now and at every change (Warden's extension).
const WATCH: u8 = 0x03;

/// A frame whose checksum is right, not yet interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The channel byte as on the wire (1-based).
    pub wire_channel: u8,
    /// The state byte.
    pub state: u8,
}

impl Frame {
    /// The frame's bytes, checksum included.
    #[must_use]
    pub const fn encode(self) -> [u8; FRAME_LEN] {
        [START, self.wire_channel, self.state, checksum(self.wire_channel, self.state)]
    }

    /// The channel, or `None` for wire channel 0.
    #[must_use]
    pub const fn channel(self) -> Option<Channel> {
        match self.wire_channel.checked_sub(1) {
            Some(c) => Some(Channel(c)),
            None => None,
        }
    }
}

/// `(0xA0 + channel + state) mod 256`.
#[must_use]
pub const fn checksum(wire_channel: u8, state: u8) -> u8 {
    START.wrapping_add(wire_channel).wrapping_add(state)
}

/// The bytes of a frame for `channel`, `None` for channel 255 (the wire
/// numbers channels from 1 in one byte).
const fn frame_for(channel: Channel, state: u8) -> Option<[u8; FRAME_LEN]> {
    match channel.0.checked_add(1) {
        Some(wire_channel) => Some(Frame { wire_channel, state }.encode()),
        None => None,
    }
}

/// Host to board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Switch a channel.
    Set {
        /// The channel.
        channel: Channel,
        /// On or off.
        on: bool,
    },
    /// Ask for the channel's sense reading.
    Query {
        /// The channel.
        channel: Channel,
    },
    /// Ask for the channel's sense reading now and, unasked, at every
    /// change from then on.
    Watch {
        /// The channel.
        channel: Channel,
    },
}

impl Command {
    /// The command's bytes; `None` for channel 255, which the wire cannot carry.
    #[must_use]
    pub const fn encode(self) -> Option<[u8; FRAME_LEN]> {
        let (channel, state) = match self {
            Self::Set { channel, on: true } => (channel, ON),
            Self::Set { channel, on: false } => (channel, OFF),
            Self::Query { channel } => (channel, REPORT),
            Self::Watch { channel } => (channel, WATCH),
        };
        frame_for(channel, state)
    }

    /// Interprets a frame received by a board.
    ///
    /// # Errors
    ///
    /// [`FrameError::Channel`] for wire channel 0, [`FrameError::State`] for
    /// a state byte that is not a command.
    pub const fn from_frame(frame: Frame) -> Result<Self, FrameError> {
        let Some(channel) = frame.channel() else {
            return Err(FrameError::Channel);
        };
        match frame.state {
            OFF => Ok(Self::Set { channel, on: false }),
            ON => Ok(Self::Set { channel, on: true }),
            REPORT => Ok(Self::Query { channel }),
            WATCH => Ok(Self::Watch { channel }),
            other => Err(FrameError::State(other)),
        }
    }
}

/// Board to host: the answer to a [`Command::Query`] or a
/// [`Command::Watch`], or a watched channel's change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Report {
    /// The channel.
    pub channel: Channel,
    /// Its sense reading.
    pub powered: bool,
}

impl Report {
    /// The report's bytes; `None` for channel 255.
    #[must_use]
    pub const fn encode(self) -> Option<[u8; FRAME_LEN]> {
        frame_for(self.channel, if self.powered { ON } else { OFF })
    }

    /// Interprets a frame received by a host.
    ///
    /// # Errors
    ///
    /// [`FrameError::Channel`] for wire channel 0, [`FrameError::State`] for
    /// a state byte other than `00`/`01`.
    pub const fn from_frame(frame: Frame) -> Result<Self, FrameError> {
        let Some(channel) = frame.channel() else {
            return Err(FrameError::Channel);
        };
        match frame.state {
            OFF => Ok(Self { channel, powered: false }),
            ON => Ok(Self { channel, powered: true }),
            other => Err(FrameError::State(other)),
        }
    }
}

/// Why a frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameError {
    /// The checksum byte does not match.
    Checksum,
    /// Wire channel 0.
    Channel,
    /// A state byte this direction does not use.
    State(u8),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Checksum => f.write_str("relay frame checksum mismatch"),
            Self::Channel => f.write_str("relay frame names channel 0 (channels are 1-based on the wire)"),
            Self::State(s) => write!(f, "relay frame state byte {s:#04x} is not valid here"),
        }
    }
}

impl core::error::Error for FrameError {}

/// Counters of the [`Decoder`]. They saturate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DecodeStats {
    /// Frames with a good checksum.
    pub frames: u32,
    /// Frames refused for their checksum.
    pub bad_checksum: u32,
    /// Bytes skipped while looking for a frame start.
    pub garbage: u32,
}

/// Finds frames in a byte stream, in any chunking. Holds at most one
/// frame's bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoder {
    buf: [u8; FRAME_LEN],
    len: usize,
    stats: DecodeStats,
}

impl Decoder {
    /// A decoder waiting for a frame start.
    #[must_use]
    pub const fn new() -> Self {
        Self { buf: [0; FRAME_LEN], len: 0, stats: DecodeStats { frames: 0, bad_checksum: 0, garbage: 0 } }
    }

    /// The counters.
    #[must_use]
    pub const fn stats(&self) -> DecodeStats {
        self.stats
    }

    /// Forgets a partial frame (the bytes are counted as garbage).
    pub fn reset(&mut self) {
        self.stats.garbage = self.stats.garbage.saturating_add(self.len as u32);
        self.len = 0;
    }

    /// Feeds bytes; `on_frame` gets every frame with a good checksum, and an
    /// error for every frame start whose checksum is wrong.
    pub fn feed(&mut self, bytes: &[u8], mut on_frame: impl FnMut(Result<Frame, FrameError>)) {
        for &byte in bytes {
            self.push(byte, &mut on_frame);
        }
    }

    fn push(&mut self, byte: u8, on_frame: &mut impl FnMut(Result<Frame, FrameError>)) {
        if self.len == 0 && byte != START {
            self.stats.garbage = self.stats.garbage.saturating_add(1);
            return;
        }
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
        if self.len < FRAME_LEN {
            return;
        }
        let [_, wire_channel, state, sum] = self.buf;
        if sum == checksum(wire_channel, state) {
            self.len = 0;
            self.stats.frames = self.stats.frames.saturating_add(1);
            on_frame(Ok(Frame { wire_channel, state }));
            return;
        }
        self.stats.bad_checksum = self.stats.bad_checksum.saturating_add(1);
        on_frame(Err(FrameError::Checksum));
        // Resume at the next frame start inside the refused bytes: a frame
        // that lost a byte must not take the next good one down with it.
        let rest = [wire_channel, state, sum];
        self.len = 0;
        if let Some(at) = rest.iter().position(|b| *b == START) {
            for b in rest.iter().skip(at) {
                if let Some(slot) = self.buf.get_mut(self.len) {
                    *slot = *b;
                    self.len += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(decoder: &mut Decoder, bytes: &[u8]) -> ([Option<Result<Frame, FrameError>>; 8], usize) {
        let mut out = [None; 8];
        let mut n = 0;
        decoder.feed(bytes, |r| {
            out[n] = Some(r);
            n += 1;
        });
        (out, n)
    }

    #[test]
    fn golden_commands_and_reports() {
        // The LCUS-1 frames every such board documents.
        assert_eq!(Command::Set { channel: Channel(0), on: true }.encode(), Some([0xA0, 0x01, 0x01, 0xA2]));
        assert_eq!(Command::Set { channel: Channel(0), on: false }.encode(), Some([0xA0, 0x01, 0x00, 0xA1]));
        assert_eq!(Command::Set { channel: Channel(3), on: true }.encode(), Some([0xA0, 0x04, 0x01, 0xA5]));
        assert_eq!(Command::Query { channel: Channel(1) }.encode(), Some([0xA0, 0x02, 0x02, 0xA4]));
        assert_eq!(Command::Watch { channel: Channel(0) }.encode(), Some([0xA0, 0x01, 0x03, 0xA4]));
        assert_eq!(Report { channel: Channel(1), powered: false }.encode(), Some([0xA0, 0x02, 0x00, 0xA2]));
        // The checksum wraps modulo 256.
        assert_eq!(Command::Set { channel: Channel(0x5F), on: true }.encode(), Some([0xA0, 0x60, 0x01, 0x01]));
        assert_eq!(Command::Query { channel: Channel(255) }.encode(), None);
        assert_eq!(Report { channel: Channel(255), powered: true }.encode(), None);
    }

    #[test]
    fn every_command_survives_a_round_trip() {
        for c in 0..=254u8 {
            for cmd in [
                Command::Set { channel: Channel(c), on: true },
                Command::Set { channel: Channel(c), on: false },
                Command::Query { channel: Channel(c) },
                Command::Watch { channel: Channel(c) },
            ] {
                let mut d = Decoder::new();
                let (out, n) = decode_all(&mut d, &cmd.encode().unwrap());
                assert_eq!(n, 1);
                assert_eq!(Command::from_frame(out[0].unwrap().unwrap()), Ok(cmd));
            }
        }
    }

    #[test]
    fn garbage_is_skipped_and_counted() {
        let mut d = Decoder::new();
        let on = Command::Set { channel: Channel(1), on: true }.encode().unwrap();
        let mut bytes = [0u8; 7];
        bytes[..3].copy_from_slice(&[0x00, 0x13, 0xFF]);
        bytes[3..].copy_from_slice(&on);
        let (out, n) = decode_all(&mut d, &bytes);
        assert_eq!(n, 1);
        assert_eq!(out[0], Some(Ok(Frame { wire_channel: 2, state: 1 })));
        assert_eq!(d.stats(), DecodeStats { frames: 1, bad_checksum: 0, garbage: 3 });
    }

    #[test]
    fn a_lost_byte_costs_one_frame_only() {
        // First frame lost its state byte; the decoder sees A0 02 A3 | A0 01 00 A1.
        let mut d = Decoder::new();
        let (out, n) = decode_all(&mut d, &[0xA0, 0x02, 0xA3, 0xA0, 0x01, 0x00, 0xA1]);
        assert_eq!(n, 2, "{out:?}");
        assert_eq!(out[0], Some(Err(FrameError::Checksum)));
        assert_eq!(out[1], Some(Ok(Frame { wire_channel: 1, state: 0 })));
        assert_eq!(d.stats().bad_checksum, 1);
        assert_eq!(d.stats().frames, 1);
    }

    #[test]
    fn resync_inside_a_bad_frame() {
        // A0 A0 01 01 A2: the first A0 starts a frame with a bad checksum;
        // the good frame starts at the second byte.
        let mut d = Decoder::new();
        let (out, n) = decode_all(&mut d, &[0xA0, 0xA0, 0x01, 0x01, 0xA2]);
        assert_eq!(n, 2, "{out:?}");
        assert_eq!(out[0], Some(Err(FrameError::Checksum)));
        assert_eq!(out[1], Some(Ok(Frame { wire_channel: 1, state: 1 })));
    }

    #[test]
    fn chunking_does_not_matter() {
        let bytes = [0x55, 0xA0, 0x03, 0x02, 0xA5, 0xA0, 0x01, 0x01, 0xA2];
        let mut whole = Decoder::new();
        let (expected, n) = decode_all(&mut whole, &bytes);
        for split in 0..bytes.len() {
            let mut d = Decoder::new();
            let mut got = [None; 8];
            let mut m = 0;
            for part in [&bytes[..split], &bytes[split..]] {
                d.feed(part, |r| {
                    got[m] = Some(r);
                    m += 1;
                });
            }
            assert_eq!((got, m), (expected, n), "split at {split}");
            assert_eq!(d.stats(), whole.stats());
        }
    }

    #[test]
    fn interpretation_refuses_what_the_direction_does_not_use() {
        let zero = Frame { wire_channel: 0, state: 1 };
        assert_eq!(Command::from_frame(zero), Err(FrameError::Channel));
        assert_eq!(Report::from_frame(zero), Err(FrameError::Channel));
        let query = Frame { wire_channel: 1, state: REPORT };
        assert_eq!(Report::from_frame(query), Err(FrameError::State(2)));
        assert_eq!(Command::from_frame(Frame { wire_channel: 1, state: 7 }), Err(FrameError::State(7)));
    }
}
