//! The serial relay module: the cheap USB/serial relay boards (LCUS-1 and
//! kin) that the controller, or the rig playing a relay board, speaks to.
//!
//! ## The frame
//!
//! Every frame is four bytes, in both directions:
//!
//! ```text
//! A0 <channel> <state> <checksum>      checksum = (0xA0 + channel + state) mod 256
//! ```
//!
//! `channel` is 1-based on the wire (wire channel `n` is [`Channel`]`(n - 1)`,
//! so channels 0 to 254 can be addressed; wire channel 0 is refused).
//!
//! Host to board:
//!
//! | state | meaning |
//! |---|---|
//! | `0x00` | switch the channel off |
//! | `0x01` | switch the channel on |
//! | `0x02` | report: answer with the channel's sense reading (Warden's extension) |
//! | `0x03` | watch: answer as `0x02` does, then report every change of that sense reading unasked (Warden's extension) |
//!
//! The boards standardise only `00`/`01` and answer nothing. Warden adds the
//! report query: the board answers `A0 <channel> <00|01> <checksum>` with the
//! channel's *sense* reading (`01`: powered). The answer has the shape of a
//! command; which one it is follows from the direction it travels. A board
//! that does not know the channel, or a board without the extension, stays
//! silent, and the host reports no answer, never a guess. A board with sense
//! inputs of its own reports those; a plain board reports its relay state,
//! which confirms the command was taken but not that the server lost power.
//!
//! A watched channel's reports come unasked, the moment its sense changes:
//! a server that loses its supply is seen in one frame time (4 ms at 9600
//! baud) instead of at the next query. A host cannot tell an unasked report
//! from an answer, and needs not: every report is a reading of the channel
//! it names. A board without the extension ignores the watch and the host
//! goes on asking.
//!
//! Frames are found in the byte stream by their `A0` and checked by their
//! checksum; after a bad checksum the decoder resumes at the next `A0`
//! inside the rejected bytes, so one lost byte costs at most one frame.
//! Bytes before an `A0`, and frames with a bad checksum, are counted.
//!
//! ## Parts
//!
//! * [`codec`]: [`Command`], [`Report`] and the streaming [`Decoder`].
//! * [`board`]: [`Board`], a relay board's state machine (the emulator the
//!   rig runs on a pseudo-terminal, or on the UART QEMU exposes).
//! * [`module`]: [`RelayModule`], the host's [`PowerSwitch`](crate::PowerSwitch)
//!   driver over any embedded-io byte stream.

pub mod board;
pub mod codec;
pub mod module;

pub use board::{Board, BoardEvent, BoardStats};
pub use codec::{Command, DecodeStats, Decoder, Frame, FrameError, Report, FRAME_LEN, START};
pub use module::{RelayModule, RelayStats};
