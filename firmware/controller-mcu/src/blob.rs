//! The configuration blob: what the rig (or the factory) writes at a fixed
//! address for the firmware to read at boot.
//!
//! ```text
//! offset size
//!  0      4   magic "WCFG"
//!  4      1   format version (1)
//!  5      3   reserved, zero
//!  8      4   payload length n, u32 little-endian (1 ..= MAX_PAYLOAD)
//! 12      4   CRC-32C (iSCSI) of bytes 0..12 followed by the payload, little-endian
//! 16      n   payload: postcard(BoardConfig)
//! ```
//!
//! The payload is the core's [`ClusterConfig`] (nodes, groups, timing), how
//! frames are authenticated (the key itself, or CRC only), and each node's
//! relay channel. [`decode`] checks everything before anything is used: the
//! header, the checksum, the postcard payload with no trailing bytes, the
//! cluster configuration as the core validates it, the key, the node count
//! against the board's link UARTs and the relay channels. A blob is taken
//! whole or refused whole. The board decodes it with [`decode_into`], in
//! place (see `place`), to keep its stack small.

use core::fmt;

use serde::{Deserialize, Serialize};
use warden_bsp::Channel;
use warden_core::controller::{ClusterConfig, ConfigError};
use warden_core::wire::{Auth, FrameError, Key, MAX_KEY_LEN};
use warden_core::MAX_NODES;

mod place;

/// The magic bytes at the start of every blob.
pub const MAGIC: [u8; 4] = *b"WCFG";
/// The format version written by this build.
pub const VERSION: u8 = 1;
/// Length of the header before the payload.
pub const HEADER_LEN: usize = 16;
/// Bytes set aside for the blob on the board (one flash page).
pub const REGION_LEN: usize = 4096;
/// Longest payload a blob may carry.
pub const MAX_PAYLOAD: usize = REGION_LEN - HEADER_LEN;

const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// How frames are authenticated, as the blob carries it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthConfig {
    /// CRC-32C only (a trusted point-to-point cable).
    Crc,
    /// HMAC-SHA256/16 under this cluster key.
    Hmac(heapless::Vec<u8, MAX_KEY_LEN>),
}

impl fmt::Debug for AuthConfig {
    /// Never shows the key, only its length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Crc => f.write_str("Crc"),
            Self::Hmac(key) => f.debug_struct("Hmac").field("key_len", &key.len()).finish_non_exhaustive(),
        }
    }
}

/// Everything the firmware is told about the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardConfig {
    /// Nodes, groups and timing, as the core takes them.
    pub cluster: ClusterConfig,
    /// How frames are authenticated.
    pub auth: AuthConfig,
    /// The relay module channel (from 0) powering each node, by node id.
    pub relays: heapless::Vec<u8, MAX_NODES>,
}

impl BoardConfig {
    /// No nodes, no groups, CRC only: a value to [`decode_into`] (it does
    /// not validate).
    pub const EMPTY: Self = Self { cluster: ClusterConfig::EMPTY, auth: AuthConfig::Crc, relays: heapless::Vec::new() };

    /// The frame protection to use.
    ///
    /// # Errors
    ///
    /// The key's [`FrameError`] (empty or too long).
    pub fn frame_auth(&self) -> Result<Auth, FrameError> {
        match &self.auth {
            AuthConfig::Crc => Ok(Auth::Crc),
            AuthConfig::Hmac(key) => Key::new(key).map(Auth::Hmac),
        }
    }

    /// The relay channel of node `index`.
    #[must_use]
    pub fn relay(&self, index: usize) -> Option<Channel> {
        self.relays.get(index).copied().map(Channel)
    }

    /// Channels the relay module must have: the highest one used, plus one.
    #[must_use]
    pub fn relay_channels(&self) -> u8 {
        self.relays.iter().max().map_or(0, |c| c.saturating_add(1))
    }

    /// Checks what the core does not: the key, the node count against
    /// `links` link UARTs, one distinct relay channel per node.
    ///
    /// # Errors
    ///
    /// The first [`BlobError`] found.
    pub fn validate(&self, links: usize) -> Result<(), BlobError> {
        self.cluster.validate().map_err(BlobError::Cluster)?;
        self.frame_auth().map_err(BlobError::Key)?;
        let nodes = usize::from(self.cluster.nodes);
        if nodes > links {
            return Err(BlobError::TooManyNodes { nodes: self.cluster.nodes, links });
        }
        if self.relays.len() != nodes {
            return Err(BlobError::RelayCount { nodes: self.cluster.nodes, relays: self.relays.len() });
        }
        for (i, channel) in self.relays.iter().enumerate() {
            if *channel == u8::MAX || self.relays.iter().take(i).any(|c| c == channel) {
                return Err(BlobError::BadRelay { channel: *channel });
            }
        }
        Ok(())
    }
}

/// Why a blob was refused (or could not be written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobError {
    /// No blob at all: the region is blank (all zero or all 0xFF bytes
    /// where the magic should be).
    Missing,
    /// Not a blob (bad magic).
    Magic,
    /// A format version this build does not read.
    Version(u8),
    /// Reserved header bytes are not zero.
    Reserved,
    /// The payload length is zero or larger than the region allows.
    Length {
        /// The length in the header.
        len: u32,
    },
    /// The checksum does not match.
    Checksum,
    /// The payload is not a board configuration.
    Decode,
    /// Bytes follow the configuration in the payload.
    TrailingBytes,
    /// The core refuses the cluster configuration.
    Cluster(ConfigError),
    /// The cluster key is refused.
    Key(FrameError),
    /// More nodes than the board has link UARTs.
    TooManyNodes {
        /// Nodes in the configuration.
        nodes: u8,
        /// Link UARTs on the board.
        links: usize,
    },
    /// Not exactly one relay channel per node.
    RelayCount {
        /// Nodes in the configuration.
        nodes: u8,
        /// Relay channels given.
        relays: usize,
    },
    /// A relay channel given twice, or 255 (the module's wire cannot carry it).
    BadRelay {
        /// The channel.
        channel: u8,
    },
    /// (Encoding) the configuration does not fit in a blob.
    TooLarge,
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => f.write_str("no configuration blob (the region is blank)"),
            Self::Magic => f.write_str("not a configuration blob (bad magic)"),
            Self::Version(v) => write!(f, "configuration blob format {v}, this build reads {VERSION}"),
            Self::Reserved => f.write_str("configuration blob header has reserved bytes set"),
            Self::Length { len } => write!(f, "configuration blob payload length {len} (1..={MAX_PAYLOAD} allowed)"),
            Self::Checksum => f.write_str("configuration blob checksum mismatch"),
            Self::Decode => f.write_str("configuration blob payload is not a board configuration"),
            Self::TrailingBytes => f.write_str("configuration blob payload has bytes after the configuration"),
            Self::Cluster(e) => write!(f, "cluster configuration refused: {e}"),
            Self::Key(e) => write!(f, "cluster key refused: {e}"),
            Self::TooManyNodes { nodes, links } => {
                write!(f, "{nodes} nodes, the board has {links} link UARTs")
            }
            Self::RelayCount { nodes, relays } => write!(f, "{nodes} nodes but {relays} relay channels"),
            Self::BadRelay { channel } => write!(f, "relay channel {channel} used twice or out of range"),
            Self::TooLarge => write!(f, "configuration does not fit in {MAX_PAYLOAD} bytes"),
        }
    }
}

impl core::error::Error for BlobError {}

/// A short name of the error for counters and logs on the board.
impl BlobError {
    /// One word naming the error (the board's console prints it).
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Magic => "magic",
            Self::Version(_) => "version",
            Self::Reserved => "reserved",
            Self::Length { .. } => "length",
            Self::Checksum => "checksum",
            Self::Decode => "decode",
            Self::TrailingBytes => "trailing-bytes",
            Self::Cluster(_) => "cluster",
            Self::Key(_) => "key",
            Self::TooManyNodes { .. } => "too-many-nodes",
            Self::RelayCount { .. } => "relay-count",
            Self::BadRelay { .. } => "bad-relay",
            Self::TooLarge => "too-large",
        }
    }
}

fn checksum(header: &[u8], payload: &[u8]) -> u32 {
    let mut digest = CRC32C.digest();
    digest.update(header);
    digest.update(payload);
    digest.finalize()
}

/// Writes `config` as a blob into `out`; returns the blob's length.
///
/// # Errors
///
/// [`BlobError::TooLarge`] when it does not fit in `out` or in a blob.
pub fn encode(config: &BoardConfig, out: &mut [u8]) -> Result<usize, BlobError> {
    let (header, rest) = out.split_at_mut_checked(HEADER_LEN).ok_or(BlobError::TooLarge)?;
    let room = rest.len().min(MAX_PAYLOAD);
    let payload = rest.get_mut(..room).ok_or(BlobError::TooLarge)?;
    let len = postcard::to_slice(config, payload).map_err(|_| BlobError::TooLarge)?.len();
    let payload = payload.get(..len).ok_or(BlobError::TooLarge)?;
    let len32 = u32::try_from(len).map_err(|_| BlobError::TooLarge)?;
    let mut head = [0u8; HEADER_LEN];
    head[..4].copy_from_slice(&MAGIC);
    head[4] = VERSION;
    head[8..12].copy_from_slice(&len32.to_le_bytes());
    let sum = checksum(&head[..12], payload);
    head[12..].copy_from_slice(&sum.to_le_bytes());
    header.copy_from_slice(&head);
    Ok(HEADER_LEN + len)
}

/// Reads and checks the blob at the start of `region`.
///
/// # Errors
///
/// As [`decode_into`].
pub fn decode(region: &[u8], links: usize) -> Result<BoardConfig, BlobError> {
    let mut config = BoardConfig::EMPTY;
    decode_into(region, links, &mut config)?;
    Ok(config)
}

/// Reads and checks the blob at the start of `region` into `config`, in
/// place: no whole configuration passes through the stack. On an error,
/// `config` holds whatever was decoded before it and must not be used.
///
/// # Errors
///
/// The first [`BlobError`] found, checked in this order: magic (blank is
/// [`BlobError::Missing`]), version, reserved bytes, length, checksum,
/// payload, then [`BoardConfig::validate`] against `links` link UARTs.
pub fn decode_into(region: &[u8], links: usize, config: &mut BoardConfig) -> Result<(), BlobError> {
    let (header, rest) = region.split_at_checked(HEADER_LEN).ok_or(BlobError::Length { len: 0 })?;
    let Some((magic, header_rest)) = header.split_first_chunk::<4>() else { return Err(BlobError::Magic) };
    if *magic != MAGIC {
        return Err(if magic.iter().all(|b| *b == 0) || magic.iter().all(|b| *b == 0xFF) {
            BlobError::Missing
        } else {
            BlobError::Magic
        });
    }
    let Some((version, header_rest)) = header_rest.split_first_chunk::<4>() else { return Err(BlobError::Magic) };
    match version {
        [VERSION, 0, 0, 0] => {}
        [VERSION, ..] => return Err(BlobError::Reserved),
        [v, ..] => return Err(BlobError::Version(*v)),
    }
    let Some((len, sum)) = header_rest.split_first_chunk::<4>() else { return Err(BlobError::Magic) };
    let len = u32::from_le_bytes(*len);
    let sum: [u8; 4] = sum.try_into().map_err(|_| BlobError::Magic)?;
    let payload = usize::try_from(len)
        .ok()
        .filter(|n| (1..=MAX_PAYLOAD).contains(n))
        .and_then(|n| rest.get(..n))
        .ok_or(BlobError::Length { len })?;
    let signed = header.get(..12).ok_or(BlobError::Magic)?;
    if checksum(signed, payload) != u32::from_le_bytes(sum) {
        return Err(BlobError::Checksum);
    }
    let mut payload = postcard::Deserializer::from_bytes(payload);
    serde::de::DeserializeSeed::deserialize(place::Board(config), &mut payload).map_err(|_| BlobError::Decode)?;
    let trailing = payload.finalize().map_err(|_| BlobError::Decode)?;
    if !trailing.is_empty() {
        return Err(BlobError::TrailingBytes);
    }
    config.validate(links)
}

#[cfg(test)]
mod tests {
    use warden_core::controller::{GroupPlacement, Timing};
    use warden_core::{NodeId, MAX_GROUPS};

    use super::*;

    fn config() -> BoardConfig {
        let mut eligible = heapless::Vec::new();
        eligible.extend_from_slice(&[NodeId(0), NodeId(1)]).unwrap();
        let mut groups = heapless::Vec::new();
        groups.push(GroupPlacement { eligible, auto_failback: false }).unwrap();
        BoardConfig {
            cluster: ClusterConfig { nodes: 2, groups, timing: Timing::DEFAULT, fence_idle_dead: false },
            auth: AuthConfig::Hmac(heapless::Vec::from_slice(b"a blob test key").unwrap()),
            relays: heapless::Vec::from_slice(&[0, 3]).unwrap(),
        }
    }

    fn blob(config: &BoardConfig) -> [u8; REGION_LEN] {
        let mut region = [0u8; REGION_LEN];
        encode(config, &mut region).unwrap();
        region
    }

    /// Rewrites the checksum after an edit, so the edit itself is what is refused.
    fn reseal(region: &mut [u8]) {
        let len = u32::from_le_bytes(region[8..12].try_into().unwrap()) as usize;
        let sum = checksum(&region[..12], &region[HEADER_LEN..HEADER_LEN + len]);
        region[12..16].copy_from_slice(&sum.to_le_bytes());
    }

    #[test]
    fn round_trip_and_golden_header() {
        let config = config();
        let region = blob(&config);
        assert_eq!(&region[..8], b"WCFG\x01\x00\x00\x00");
        let decoded = decode(&region, 3).unwrap();
        assert_eq!(decoded, config);
        assert_eq!(decoded.relay(1), Some(Channel(3)));
        assert_eq!(decoded.relay_channels(), 4);
        assert_eq!(decoded.frame_auth().unwrap(), Auth::Hmac(Key::new(b"a blob test key").unwrap()));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let shown = format!("{:?}", config());
        assert!(!shown.contains("97"), "{shown}");
        assert!(shown.contains("key_len: 15"), "{shown}");
    }

    #[test]
    fn blank_regions_are_missing_not_corrupt() {
        assert_eq!(decode(&[0u8; REGION_LEN], 3), Err(BlobError::Missing));
        assert_eq!(decode(&[0xFFu8; REGION_LEN], 3), Err(BlobError::Missing));
        assert_eq!(decode(&[0u8; 3], 3), Err(BlobError::Length { len: 0 }));
    }

    #[test]
    fn every_single_bit_flip_of_header_and_payload_is_refused() {
        let good = blob(&config());
        let len = u32::from_le_bytes(good[8..12].try_into().unwrap()) as usize;
        for byte in 0..HEADER_LEN + len {
            for bit in 0..8 {
                let mut bad = good;
                bad[byte] ^= 1 << bit;
                assert!(decode(&bad, 3).is_err(), "flip of byte {byte} bit {bit} was accepted");
            }
        }
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let good = blob(&config());
        let mut magic = good;
        magic[0] = b'X';
        assert_eq!(decode(&magic, 3), Err(BlobError::Magic));
        let mut version = good;
        version[4] = 9;
        assert_eq!(decode(&version, 3), Err(BlobError::Version(9)));
        let mut reserved = good;
        reserved[6] = 1;
        assert_eq!(decode(&reserved, 3), Err(BlobError::Reserved));
        let mut long = good;
        long[8..12].copy_from_slice(&5000u32.to_le_bytes());
        assert_eq!(decode(&long, 3), Err(BlobError::Length { len: 5000 }));
        let mut empty = good;
        empty[8..12].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(decode(&empty, 3), Err(BlobError::Length { len: 0 }));
        let mut sum = good;
        sum[HEADER_LEN] ^= 0x40;
        assert_eq!(decode(&sum, 3), Err(BlobError::Checksum));
        // A length one byte longer takes in a zero byte after the payload.
        let mut trailing = good;
        let len = u32::from_le_bytes(good[8..12].try_into().unwrap());
        trailing[8..12].copy_from_slice(&(len + 1).to_le_bytes());
        reseal(&mut trailing);
        assert_eq!(decode(&trailing, 3), Err(BlobError::TrailingBytes));
        let mut garbage = good;
        garbage[HEADER_LEN] = 0;
        garbage[HEADER_LEN + 1..HEADER_LEN + len as usize].fill(0xFF);
        reseal(&mut garbage);
        assert_eq!(decode(&garbage, 3), Err(BlobError::Decode));
    }

    #[test]
    fn configurations_the_board_cannot_run_are_refused_whole() {
        assert_eq!(decode(&blob(&config()), 1), Err(BlobError::TooManyNodes { nodes: 2, links: 1 }));
        let mut one_relay = config();
        one_relay.relays.pop();
        assert_eq!(decode(&blob(&one_relay), 3), Err(BlobError::RelayCount { nodes: 2, relays: 1 }));
        let mut shared = config();
        shared.relays = heapless::Vec::from_slice(&[2, 2]).unwrap();
        assert_eq!(decode(&blob(&shared), 3), Err(BlobError::BadRelay { channel: 2 }));
        let mut no_key = config();
        no_key.auth = AuthConfig::Hmac(heapless::Vec::new());
        assert_eq!(decode(&blob(&no_key), 3), Err(BlobError::Key(FrameError::EmptyKey)));
        let mut no_nodes = config();
        no_nodes.cluster.nodes = 0;
        no_nodes.relays.clear();
        assert_eq!(decode(&blob(&no_nodes), 3), Err(BlobError::Cluster(ConfigError::NodeCount(0))));
        let mut crc = config();
        crc.auth = AuthConfig::Crc;
        assert_eq!(decode(&blob(&crc), 3).unwrap().frame_auth(), Ok(Auth::Crc));
    }

    /// Decodes `payload` in place, over a value that already holds another
    /// configuration, as the board does.
    fn in_place(payload: &[u8]) -> Option<BoardConfig> {
        let mut config = config();
        config.cluster.groups.push(config.cluster.groups[0].clone()).unwrap();
        config.cluster.fence_idle_dead = true;
        let mut de = postcard::Deserializer::from_bytes(payload);
        serde::de::DeserializeSeed::deserialize(place::Board(&mut config), &mut de).ok()?;
        de.finalize().ok().filter(|rest| rest.is_empty())?;
        Some(config)
    }

    /// Every node in every group, every timing key set: the largest blob.
    fn largest() -> BoardConfig {
        let mut config = config();
        let eligible: heapless::Vec<NodeId, MAX_NODES> = (0..MAX_NODES as u8).rev().map(NodeId).collect();
        config.cluster.nodes = MAX_NODES as u8;
        config.cluster.groups =
            (0..MAX_GROUPS).map(|g| GroupPlacement { eligible: eligible.clone(), auto_failback: g % 2 == 0 }).collect();
        config.cluster.timing.auto_unfence_after = Some(warden_core::Duration::from_millis(u64::MAX));
        config.cluster.timing.failure_timeout = warden_core::Duration::from_millis(1 << 40);
        config.cluster.fence_idle_dead = true;
        config.auth = AuthConfig::Hmac(heapless::Vec::from_slice(&[0xA5; MAX_KEY_LEN]).unwrap());
        config.relays = (0..MAX_NODES as u8).map(|c| 7 - c).collect();
        config
    }

    #[test]
    fn in_place_decoding_reads_what_the_derived_serde_writes() {
        let mut crc = config();
        crc.auth = AuthConfig::Crc;
        let mut no_groups = config();
        no_groups.cluster.groups.clear();
        for config in [config(), crc, no_groups, largest()] {
            let mut buf = [0u8; MAX_PAYLOAD];
            let payload = postcard::to_slice(&config, &mut buf).unwrap();
            assert_eq!(in_place(payload).as_ref(), Some(&config));
            assert_eq!(decode(&blob(&config), MAX_NODES), decode_derived(&blob(&config), MAX_NODES));
        }
    }

    #[test]
    fn in_place_decoding_refuses_what_the_derived_serde_refuses() {
        let config = largest();
        let mut buf = [0u8; MAX_PAYLOAD];
        let payload = postcard::to_slice(&config, &mut buf).unwrap().to_vec();
        let derived = |bytes: &[u8]| {
            postcard::take_from_bytes::<BoardConfig>(bytes).ok().filter(|(_, rest)| rest.is_empty()).map(|(c, _)| c)
        };
        for len in 0..payload.len() {
            assert_eq!(in_place(&payload[..len]), derived(&payload[..len]), "payload cut at {len}");
        }
        // Values that move varints, lengths, enum tags and options across
        // their limits, at every offset: both accept the same bytes, with
        // the same result.
        for offset in 0..payload.len() {
            let near = [payload[offset] ^ 1, payload[offset].wrapping_add(1), payload[offset].wrapping_sub(1)];
            for value in
                [0x00, 0x01, 0x02, 0x08, 0x09, 0x20, 0x21, 0x40, 0x41, 0x7F, 0x80, 0xFF].into_iter().chain(near)
            {
                let mut bad = payload.clone();
                bad[offset] = value;
                assert_eq!(in_place(&bad), derived(&bad), "byte {offset} set to {value:#x}");
            }
        }
        // One group more than the list holds (the count is the byte after `nodes`).
        let mut too_many = payload.clone();
        too_many[1] = MAX_GROUPS as u8 + 1;
        too_many.splice(2..2, payload[2..2 + 10].iter().copied());
        assert_eq!(in_place(&too_many), None);
        assert_eq!(derived(&too_many), None);
    }

    /// `decode` as it was written with the derived `Deserialize`, to compare.
    fn decode_derived(region: &[u8], links: usize) -> Result<BoardConfig, BlobError> {
        let len = u32::from_le_bytes(region[8..12].try_into().unwrap()) as usize;
        let (config, rest) = postcard::take_from_bytes::<BoardConfig>(&region[HEADER_LEN..HEADER_LEN + len])
            .map_err(|_| BlobError::Decode)?;
        if !rest.is_empty() {
            return Err(BlobError::TrailingBytes);
        }
        config.validate(links)?;
        Ok(config)
    }

    #[test]
    fn a_buffer_too_small_is_an_error() {
        let mut small = [0u8; 20];
        assert_eq!(encode(&config(), &mut small), Err(BlobError::TooLarge));
    }
}
