//! The wire protocol (DESIGN §2).
//!
//! A frame on the byte stream is `COBS(version | postcard(Message) | tag) 0x00`.
//! The tag is HMAC-SHA256 truncated to 16 bytes under the cluster key, or
//! CRC-32C (4 bytes, little-endian) on links the operator marked `crc`.
//!
//! * [`message`]: the messages as values.
//! * [`frame`]: encoding a message into a frame and the streaming [`Decoder`].
//! * [`session`]: nonces, sequence numbers and replay rejection.
//! * [`summary`] and [`history`]: what the controller tells an operator.

pub mod frame;
pub mod history;
pub mod message;
pub mod session;
pub mod summary;

pub use frame::{
    decode, encode, Auth, DecodeStats, Decoder, EncodeError, FrameError, Key, CRC_TAG_LEN, HMAC_TAG_LEN, MAX_KEY_LEN,
};
pub use history::{
    BoardCounters, CountersAnswer, FenceAction, FenceOp, FenceReason, FenceResult, HistoryAnswer, Requester,
};
pub use message::{Beat, Body, Header, Message, Op, Refusal, Reply, Request, Role, Status};
pub use session::{Initiator, Responder, SessionError};
pub use summary::{NodeSummary, Summary};

/// Protocol version carried in the first byte of every frame.
pub const VERSION: u8 = 1;

/// Largest frame on the wire, in bytes, COBS overhead and the 0x00 delimiter
/// included. Longer input is dropped and counted.
pub const MAX_FRAME: usize = 128;
