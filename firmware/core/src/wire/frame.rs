//! Frames: encoding and the streaming decoder.
//!
//! On the byte stream a frame is `COBS(content) 0x00`, and the content is
//!
//! ```text
//! version:u8 | postcard(Message) | tag
//! ```
//!
//! where the tag is HMAC-SHA256 under the cluster [`Key`] truncated to its
//! first 16 bytes, or CRC-32C (4 bytes, little-endian), computed over
//! `version | postcard(Message)`. A whole frame, delimiter included, is at most
//! [`MAX_FRAME`] bytes, so the content is at most `MAX_FRAME - 2` bytes (COBS
//! adds one byte to anything shorter than 254).
//!
//! The [`Decoder`] takes bytes in any chunking and holds at most one frame's
//! worth of them: longer input is dropped up to the next delimiter and
//! reported as [`FrameError::TooLong`]. Every frame, good or bad, is reported
//! once and counted in [`DecodeStats`].
//!
//! ```
//! use warden_core::wire::{encode, Auth, Body, Decoder, Header, Key, Message, MAX_FRAME};
//! use warden_core::NodeId;
//!
//! let auth = Auth::Hmac(Key::new(b"cluster key").unwrap());
//! let hello = Message {
//!     header: Header { node: NodeId(1), nonce: 7, echo: 0, seq: 1 },
//!     body: Body::Hello,
//! };
//! let mut frame = [0u8; MAX_FRAME];
//! let len = encode(&hello, &auth, &mut frame).unwrap();
//!
//! let mut decoder = Decoder::new();
//! let mut got = None;
//! // Bytes may arrive in any pieces; the message comes out at the delimiter.
//! for chunk in frame[..len].chunks(3) {
//!     decoder.feed(chunk, &auth, |result| got = Some(result));
//! }
//! assert_eq!(got, Some(Ok(hello)));
//! assert_eq!(decoder.stats().ok, 1);
//! ```

use core::fmt;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Message, MAX_FRAME, VERSION};

/// Length of the HMAC-SHA256 tag on the wire (the leftmost bytes of the MAC).
pub const HMAC_TAG_LEN: usize = 16;
/// Length of the CRC-32C tag on the wire.
pub const CRC_TAG_LEN: usize = 4;
/// Longest cluster key accepted: one SHA-256 block, so the key is used as is
/// (HMAC would otherwise hash it first).
pub const MAX_KEY_LEN: usize = 64;

/// Largest frame content (version, payload, tag) before COBS: COBS adds one
/// byte below 254 bytes of input, and the delimiter is one more.
const MAX_CONTENT: usize = MAX_FRAME - 2;
/// Largest COBS body between two delimiters.
const MAX_BODY: usize = MAX_FRAME - 1;

/// CRC-32C (Castagnoli), as iSCSI uses it.
const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// The cluster key (authkeys' role): 1 to [`MAX_KEY_LEN`] bytes.
///
/// `Debug` shows only its length, so logs never carry the key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The key, zero-padded to one SHA-256 block: HMAC pads short keys with
    /// zeros itself, so this is the same MAC as the unpadded key.
    block: [u8; MAX_KEY_LEN],
    len: u8,
}

impl Key {
    /// A key from its bytes.
    ///
    /// # Errors
    ///
    /// [`FrameError::EmptyKey`] for no bytes, [`FrameError::KeyTooLong`] for
    /// more than [`MAX_KEY_LEN`].
    pub fn new(bytes: &[u8]) -> Result<Self, FrameError> {
        if bytes.is_empty() {
            return Err(FrameError::EmptyKey);
        }
        let len = u8::try_from(bytes.len())
            .ok()
            .filter(|&len| usize::from(len) <= MAX_KEY_LEN)
            .ok_or(FrameError::KeyTooLong { len: bytes.len() })?;
        let mut block = [0u8; MAX_KEY_LEN];
        block.iter_mut().zip(bytes).for_each(|(slot, byte)| *slot = *byte);
        Ok(Self { block, len })
    }

    /// A MAC keyed with this key, ready for input.
    fn mac(&self) -> Hmac<Sha256> {
        // A block-sized key needs no length check, so this cannot fail.
        <Hmac<Sha256> as KeyInit>::new(&self.block.into())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("len", &self.len).finish_non_exhaustive()
    }
}

/// How frames on a link are protected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Auth {
    /// HMAC-SHA256 truncated to [`HMAC_TAG_LEN`] bytes under the cluster key.
    Hmac(Key),
    /// CRC-32C only ([`CRC_TAG_LEN`] bytes): detects line noise, not forgery.
    /// For a trusted point-to-point cable only.
    Crc,
}

impl Auth {
    /// Length of the tag this protection appends to each frame.
    #[must_use]
    pub const fn tag_len(&self) -> usize {
        match self {
            Self::Hmac(_) => HMAC_TAG_LEN,
            Self::Crc => CRC_TAG_LEN,
        }
    }

    /// Writes the tag of `signed` into `tag` (exactly [`Self::tag_len`] bytes).
    fn seal(&self, signed: &[u8], tag: &mut [u8]) {
        match self {
            Self::Hmac(key) => {
                let mut mac = key.mac();
                mac.update(signed);
                let full = mac.finalize().into_bytes();
                tag.iter_mut().zip(full).for_each(|(slot, byte)| *slot = byte);
            }
            Self::Crc => {
                let crc = CRC32C.checksum(signed).to_le_bytes();
                tag.iter_mut().zip(crc).for_each(|(slot, byte)| *slot = byte);
            }
        }
    }

    /// Whether `tag` is the tag of `signed`; the MAC is compared in constant time.
    fn verify(&self, signed: &[u8], tag: &[u8]) -> bool {
        match self {
            Self::Hmac(key) => {
                let mut mac = key.mac();
                mac.update(signed);
                tag.len() == HMAC_TAG_LEN && mac.verify_truncated_left(tag).is_ok()
            }
            Self::Crc => CRC32C.checksum(signed).to_le_bytes().as_slice() == tag,
        }
    }
}

/// Why a frame was rejected, or a key refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameError {
    /// More than [`MAX_FRAME`] bytes before the delimiter; dropped unread.
    TooLong,
    /// The bytes between two delimiters are not valid COBS.
    Cobs,
    /// Two delimiters with nothing between them.
    Empty,
    /// Too short to hold a version, any payload and the tag.
    Truncated,
    /// The tag does not match: corrupted, or not under this key.
    BadTag,
    /// Authentic, but of a protocol version this build does not speak.
    BadVersion(u8),
    /// Authentic, but the payload is not a valid message.
    Decode,
    /// Authentic, but bytes follow the message.
    TrailingBytes,
    /// A cluster key must have at least one byte.
    EmptyKey,
    /// A cluster key longer than [`MAX_KEY_LEN`] bytes.
    KeyTooLong {
        /// The length given.
        len: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => write!(f, "frame longer than {MAX_FRAME} bytes"),
            Self::Cobs => f.write_str("frame is not valid COBS"),
            Self::Empty => f.write_str("empty frame"),
            Self::Truncated => f.write_str("frame too short for version, message and tag"),
            Self::BadTag => f.write_str("frame tag does not match (corrupted or wrong key)"),
            Self::BadVersion(v) => write!(f, "protocol version {v}, expected {VERSION}"),
            Self::Decode => f.write_str("frame payload is not a valid message"),
            Self::TrailingBytes => f.write_str("bytes after the message in the frame"),
            Self::EmptyKey => f.write_str("cluster key is empty"),
            Self::KeyTooLong { len } => {
                write!(f, "cluster key is {len} bytes, at most {MAX_KEY_LEN} allowed")
            }
        }
    }
}

impl core::error::Error for FrameError {}

/// Why a message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is shorter than the frame.
    BufferTooSmall {
        /// Bytes the frame needs.
        needed: usize,
    },
    /// The frame would exceed [`MAX_FRAME`] bytes.
    TooLong,
    /// The message could not be serialized.
    Serialize,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { needed } => {
                write!(f, "output buffer too small, the frame needs {needed} bytes")
            }
            Self::TooLong => write!(f, "message does not fit in a {MAX_FRAME}-byte frame"),
            Self::Serialize => f.write_str("message could not be serialized"),
        }
    }
}

impl core::error::Error for EncodeError {}

/// Encodes `message` as one frame into `out`: COBS-encoded content followed by
/// the 0x00 delimiter. Returns the frame's length (at most [`MAX_FRAME`]).
///
/// # Errors
///
/// [`EncodeError::BufferTooSmall`] when `out` cannot hold the frame (a
/// `MAX_FRAME`-byte buffer always can), [`EncodeError::TooLong`] when the
/// message does not fit in a frame.
pub fn encode(message: &Message, auth: &Auth, out: &mut [u8]) -> Result<usize, EncodeError> {
    let tag_len = auth.tag_len();
    let mut content = [0u8; MAX_CONTENT];
    let (version, rest) = content.split_first_mut().ok_or(EncodeError::TooLong)?;
    *version = VERSION;
    let room = rest.len().saturating_sub(tag_len);
    let payload_room = rest.get_mut(..room).ok_or(EncodeError::TooLong)?;
    let payload_len = match postcard::to_slice(message, payload_room) {
        Ok(used) => used.len(),
        Err(postcard::Error::SerializeBufferFull) => return Err(EncodeError::TooLong),
        Err(_) => return Err(EncodeError::Serialize),
    };
    let signed_len = 1 + payload_len;
    let content_len = signed_len + tag_len;
    {
        let (signed, tail) = content.split_at_mut_checked(signed_len).ok_or(EncodeError::TooLong)?;
        let tag = tail.get_mut(..tag_len).ok_or(EncodeError::TooLong)?;
        auth.seal(signed, tag);
    }
    let content = content.get(..content_len).ok_or(EncodeError::TooLong)?;

    let needed = cobs::max_encoding_length(content_len) + 1;
    let too_small = EncodeError::BufferTooSmall { needed };
    let body = out.get_mut(..needed - 1).ok_or(too_small)?;
    let body_len = cobs::try_encode(content, body).map_err(|_| too_small)?;
    *out.get_mut(body_len).ok_or(too_small)? = 0;
    Ok(body_len + 1)
}

/// Decodes one complete frame, such as a captured one, with or without its
/// trailing 0x00.
///
/// # Errors
///
/// The same [`FrameError`]s as the [`Decoder`]; a 0x00 inside the frame is
/// [`FrameError::Cobs`].
pub fn decode(frame: &[u8], auth: &Auth) -> Result<Message, FrameError> {
    let body = frame.strip_suffix(&[0]).unwrap_or(frame);
    if body.contains(&0) {
        return Err(FrameError::Cobs);
    }
    let mut buf = [0u8; MAX_BODY];
    let buf = buf.get_mut(..body.len()).ok_or(FrameError::TooLong)?;
    buf.copy_from_slice(body);
    open_body(buf, auth)
}

/// Undoes COBS in place, then checks and parses the content.
fn open_body(body: &mut [u8], auth: &Auth) -> Result<Message, FrameError> {
    if body.is_empty() {
        return Err(FrameError::Empty);
    }
    let len = cobs::decode_in_place(body).map_err(|_| FrameError::Cobs)?;
    let content = body.get(..len).ok_or(FrameError::Cobs)?;
    open(content, auth)
}

/// Checks the tag, then the version, then parses the message.
fn open(content: &[u8], auth: &Auth) -> Result<Message, FrameError> {
    let tag_len = auth.tag_len();
    // The tag is checked before the version so that only authentic frames can
    // claim a version mismatch; noise is counted as a bad tag.
    if content.len() <= 1 + tag_len {
        return Err(FrameError::Truncated);
    }
    let (signed, tag) = content.split_at_checked(content.len() - tag_len).ok_or(FrameError::Truncated)?;
    if !auth.verify(signed, tag) {
        return Err(FrameError::BadTag);
    }
    let (&version, payload) = signed.split_first().ok_or(FrameError::Truncated)?;
    if version != VERSION {
        return Err(FrameError::BadVersion(version));
    }
    let (message, rest) = postcard::take_from_bytes::<Message>(payload).map_err(|_| FrameError::Decode)?;
    if rest.is_empty() {
        Ok(message)
    } else {
        Err(FrameError::TrailingBytes)
    }
}

/// Counts of frames the [`Decoder`] has seen, by outcome. Counters saturate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DecodeStats {
    /// Frames decoded into a message.
    pub ok: u32,
    /// Frames dropped for exceeding [`MAX_FRAME`].
    pub too_long: u32,
    /// Frames that were not valid COBS.
    pub cobs: u32,
    /// Empty frames (two delimiters in a row).
    pub empty: u32,
    /// Frames too short to hold version, message and tag.
    pub truncated: u32,
    /// Frames whose tag did not match.
    pub bad_tag: u32,
    /// Authentic frames of another protocol version.
    pub bad_version: u32,
    /// Authentic frames whose payload was not a message.
    pub decode: u32,
    /// Authentic frames with bytes after the message.
    pub trailing_bytes: u32,
}

impl DecodeStats {
    /// All rejected frames, whatever the reason.
    #[must_use]
    pub const fn rejected(&self) -> u32 {
        self.too_long
            .saturating_add(self.cobs)
            .saturating_add(self.empty)
            .saturating_add(self.truncated)
            .saturating_add(self.bad_tag)
            .saturating_add(self.bad_version)
            .saturating_add(self.decode)
            .saturating_add(self.trailing_bytes)
    }

    fn count(&mut self, result: &Result<Message, FrameError>) {
        let counter = match result {
            Ok(_) => &mut self.ok,
            Err(FrameError::TooLong) => &mut self.too_long,
            Err(FrameError::Cobs) => &mut self.cobs,
            Err(FrameError::Empty) => &mut self.empty,
            Err(FrameError::Truncated) => &mut self.truncated,
            Err(FrameError::BadTag) => &mut self.bad_tag,
            Err(FrameError::BadVersion(_)) => &mut self.bad_version,
            Err(FrameError::Decode) => &mut self.decode,
            Err(FrameError::TrailingBytes) => &mut self.trailing_bytes,
            // Key errors come from `Key::new`, never from a frame.
            Err(FrameError::EmptyKey | FrameError::KeyTooLong { .. }) => return,
        };
        *counter = counter.saturating_add(1);
    }
}

/// Streaming frame decoder with a fixed [`MAX_FRAME`]-byte buffer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Decoder {
    /// COBS bytes of the frame being received.
    buf: [u8; MAX_BODY],
    len: usize,
    /// The frame being received outgrew `buf`: drop bytes up to the delimiter.
    overflow: bool,
    stats: DecodeStats,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder waiting for the start of a frame.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            buf: [0; MAX_BODY],
            len: 0,
            overflow: false,
            stats: DecodeStats {
                ok: 0,
                too_long: 0,
                cobs: 0,
                empty: 0,
                truncated: 0,
                bad_tag: 0,
                bad_version: 0,
                decode: 0,
                trailing_bytes: 0,
            },
        }
    }

    /// Feeds bytes in any chunking; calls `on_frame` once per complete frame
    /// (good or bad), in order. Bytes after the last delimiter are kept for
    /// the next call.
    pub fn feed(&mut self, bytes: &[u8], auth: &Auth, mut on_frame: impl FnMut(Result<Message, FrameError>)) {
        for &byte in bytes {
            if byte == 0 {
                let result = self.finish(auth);
                self.stats.count(&result);
                on_frame(result);
            } else if !self.overflow {
                if let Some(slot) = self.buf.get_mut(self.len) {
                    *slot = byte;
                    self.len += 1;
                } else {
                    self.overflow = true;
                }
            }
        }
    }

    /// Counts of frames seen so far.
    #[must_use]
    pub const fn stats(&self) -> DecodeStats {
        self.stats
    }

    /// Ends the frame at a delimiter and starts the next one.
    fn finish(&mut self, auth: &Auth) -> Result<Message, FrameError> {
        let len = core::mem::take(&mut self.len);
        if core::mem::take(&mut self.overflow) {
            return Err(FrameError::TooLong);
        }
        let body = self.buf.get_mut(..len).ok_or(FrameError::TooLong)?;
        open_body(body, auth)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::ids::{GroupSet, NodeId};
    use crate::wire::{Beat, Body, Header, Role, Status};

    fn key() -> Key {
        Key::new(b"unit test key").unwrap()
    }

    fn status() -> Message {
        Message {
            header: Header { node: NodeId(7), nonce: u64::MAX, echo: u64::MAX - 1, seq: u64::MAX - 2 },
            body: Body::Status(Status {
                applied: u64::MAX,
                holds: GroupSet(u32::MAX),
                busy: GroupSet(u32::MAX),
                healthy: GroupSet(u32::MAX),
                failing: GroupSet(u32::MAX),
                stuck: GroupSet(u32::MAX),
                net_score: u16::MAX,
            }),
        }
    }

    fn frame(message: &Message, auth: &Auth) -> ([u8; MAX_FRAME], usize) {
        let mut out = [0u8; MAX_FRAME];
        let len = encode(message, auth, &mut out).unwrap();
        (out, len)
    }

    fn feed_all(decoder: &mut Decoder, bytes: &[u8], auth: &Auth) -> ([Option<Result<Message, FrameError>>; 8], usize) {
        let mut got = [None; 8];
        let mut n = 0;
        decoder.feed(bytes, auth, |r| {
            got[n] = Some(r);
            n += 1;
        });
        (got, n)
    }

    #[test]
    fn key_length_is_checked_and_never_printed() {
        assert_eq!(Key::new(&[]), Err(FrameError::EmptyKey));
        assert_eq!(Key::new(&[1; 65]), Err(FrameError::KeyTooLong { len: 65 }));
        assert_eq!(Key::new(&[1; 300]), Err(FrameError::KeyTooLong { len: 300 }));
        assert!(Key::new(&[1; 64]).is_ok());
        let shown = std::format!("{:?}", Key::new(b"sekrit-sekrit").unwrap());
        assert!(!shown.contains("115"), "{shown}"); // b's' = 115
        assert!(shown.contains("len: 13"), "{shown}");
    }

    #[test]
    fn padded_key_is_plain_hmac_sha256() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let key = Key::new(b"Jefe").unwrap();
        let mut mac = key.mac();
        mac.update(b"what do ya want for nothing?");
        let full = mac.finalize().into_bytes();
        let expected: [u8; 32] = [
            0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00,
            0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
        ];
        assert_eq!(full.as_slice(), &expected);
    }

    #[test]
    fn crc_is_castagnoli() {
        // The check value of CRC-32C.
        assert_eq!(CRC32C.checksum(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn largest_message_fits_under_both_auths() {
        for auth in [Auth::Hmac(key()), Auth::Crc] {
            let (out, len) = frame(&status(), &auth);
            assert!(len <= MAX_FRAME);
            assert_eq!(out[len - 1], 0);
            assert!(!out[..len - 1].contains(&0));
            assert_eq!(decode(&out[..len], &auth), Ok(status()));
        }
    }

    #[test]
    fn small_buffer_is_refused_not_overrun() {
        let auth = Auth::Crc;
        let (_, len) = frame(&status(), &auth);
        let mut out = [0u8; 16];
        assert_eq!(encode(&status(), &auth, &mut out), Err(EncodeError::BufferTooSmall { needed: len }));
        let mut exact = [0u8; MAX_FRAME];
        assert_eq!(encode(&status(), &auth, &mut exact[..len]), Ok(len));
    }

    #[test]
    fn wrong_key_and_wrong_auth_are_bad_tags() {
        let (out, len) = frame(&status(), &Auth::Hmac(key()));
        let other = Auth::Hmac(Key::new(b"another key").unwrap());
        assert_eq!(decode(&out[..len], &other), Err(FrameError::BadTag));
        assert_eq!(decode(&out[..len], &Auth::Crc), Err(FrameError::BadTag));
    }

    /// Seals arbitrary content as a frame, bypassing `encode`'s checks.
    fn raw_frame(content_without_tag: &[u8], auth: &Auth) -> ([u8; 300], usize) {
        let mut content = [0u8; 200];
        let n = content_without_tag.len();
        content[..n].copy_from_slice(content_without_tag);
        let (signed, tail) = content.split_at_mut(n);
        auth.seal(signed, &mut tail[..auth.tag_len()]);
        let mut out = [0u8; 300];
        let len = cobs::encode(&content[..n + auth.tag_len()], &mut out);
        (out, len + 1)
    }

    #[test]
    fn authentic_but_malformed_content_is_named() {
        let auth = Auth::Hmac(key());
        let hello = Message { header: Header { node: NodeId(1), nonce: 1, echo: 0, seq: 1 }, body: Body::Hello };
        let mut payload = [0u8; 64];
        let used = postcard::to_slice(&hello, &mut payload[1..]).unwrap().len();

        payload[0] = VERSION + 1;
        let (out, len) = raw_frame(&payload[..=used], &auth);
        assert_eq!(decode(&out[..len], &auth), Err(FrameError::BadVersion(VERSION + 1)));

        payload[0] = VERSION;
        payload[used + 1] = 0x42;
        let (out, len) = raw_frame(&payload[..used + 2], &auth);
        assert_eq!(decode(&out[..len], &auth), Err(FrameError::TrailingBytes));

        // Body variant 9 does not exist.
        let (out, len) = raw_frame(&[VERSION, 1, 1, 0, 1, 9], &auth);
        assert_eq!(decode(&out[..len], &auth), Err(FrameError::Decode));

        let (out, len) = raw_frame(&[VERSION], &auth);
        assert_eq!(decode(&out[..len], &auth), Err(FrameError::Truncated));
    }

    #[test]
    fn decoder_reports_each_kind_and_recovers() {
        let auth = Auth::Crc;
        let beat = Message {
            header: Header { node: NodeId(2), nonce: 5, echo: 6, seq: 9 },
            body: Body::Beat(Beat { epoch: 3, want: GroupSet(0b101), role: Role::Member }),
        };
        let (good, len) = frame(&beat, &auth);
        let mut decoder = Decoder::new();
        let mut stream = [0u8; 512];
        let mut n = 0;
        let mut put = |bytes: &[u8]| {
            stream[n..n + bytes.len()].copy_from_slice(bytes);
            n += bytes.len();
        };
        put(&[0]); // empty
        put(&[0x05, 1, 0]); // COBS code runs past the end
        put(&[0x02, 1, 0]); // decodes to one byte: truncated
        put(&[0x33; MAX_FRAME]); // too long, no delimiter inside
        put(&[0]);
        put(&good[..len]);
        let (got, count) = feed_all(&mut decoder, &stream[..n], &auth);
        assert_eq!(count, 5);
        assert_eq!(got[0], Some(Err(FrameError::Empty)));
        assert_eq!(got[1], Some(Err(FrameError::Cobs)));
        assert_eq!(got[2], Some(Err(FrameError::Truncated)));
        assert_eq!(got[3], Some(Err(FrameError::TooLong)));
        assert_eq!(got[4], Some(Ok(beat)));
        let stats = decoder.stats();
        assert_eq!((stats.ok, stats.empty, stats.cobs, stats.truncated, stats.too_long), (1, 1, 1, 1, 1));
        assert_eq!(stats.rejected(), 4);
    }

    #[test]
    fn longest_body_is_accepted_one_more_byte_is_not() {
        let auth = Auth::Crc;
        let mut decoder = Decoder::new();
        // MAX_FRAME - 1 COBS bytes plus the delimiter: reaches the content check.
        let mut stream = [0x01u8; MAX_FRAME + 1];
        stream[MAX_FRAME - 1] = 0;
        let (got, _) = feed_all(&mut decoder, &stream[..MAX_FRAME], &auth);
        assert_ne!(got[0], Some(Err(FrameError::TooLong)));
        stream[MAX_FRAME - 1] = 0x01;
        stream[MAX_FRAME] = 0;
        let (got, _) = feed_all(&mut decoder, &stream, &auth);
        assert_eq!(got[0], Some(Err(FrameError::TooLong)));
    }
}
