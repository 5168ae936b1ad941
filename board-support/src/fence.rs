//! Durable fence records (DESIGN rule 3: a fenced node stays off across
//! controller reboots).

use core::fmt;

use warden_core::controller::FenceRecord;
use warden_core::{NodeId, MAX_NODES};

pub mod image;

/// Which nodes are fenced, by node index: the shape `Boot::fenced` takes.
pub type Fences = [bool; MAX_NODES];

/// Where the controller keeps its fence records.
///
/// # Contract
///
/// * [`load`](Self::load) returns the records as last stored. A store that
///   was never written loads as "nobody fenced". A store whose content
///   cannot be trusted (bad checksum, unknown version, torn write that left
///   no valid copy) is [`FenceStoreError::Corrupt`], never "nobody fenced":
///   the controller refuses to start rather than power on a fenced node.
/// * When [`store`](Self::store) returns `Ok`, the record survives power
///   loss and reset: a `load` after any crash returns it (or a later one).
///   When it returns an error, the stored state is the one before the call
///   or the one after it, never a mix; the caller must not carry out the
///   effect the record guards (the controller does not switch the relay).
/// * Records of other nodes are left as they are.
pub trait FenceStore {
    /// Reads every node's record.
    ///
    /// # Errors
    ///
    /// [`FenceStoreError::Corrupt`] when the stored content cannot be
    /// trusted, [`FenceStoreError::Device`] when it cannot be read.
    fn load(&mut self) -> Result<Fences, FenceStoreError>;

    /// Stores one record durably.
    ///
    /// # Errors
    ///
    /// [`FenceStoreError::NoSuchNode`] for a node id at or above
    /// [`MAX_NODES`], [`FenceStoreError::Corrupt`] when the current content
    /// cannot be trusted (nothing is written over it),
    /// [`FenceStoreError::Device`] when it cannot be written durably.
    fn store(&mut self, record: FenceRecord) -> Result<(), FenceStoreError>;
}

impl<S: FenceStore + ?Sized> FenceStore for &mut S {
    fn load(&mut self) -> Result<Fences, FenceStoreError> {
        (**self).load()
    }
    fn store(&mut self, record: FenceRecord) -> Result<(), FenceStoreError> {
        (**self).store(record)
    }
}

/// What is wrong with stored fence records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Corruption {
    /// Not the length of a fence image.
    Length {
        /// Bytes found.
        found: usize,
    },
    /// The magic bytes are not `WFEN`.
    Magic,
    /// The checksum does not match the content.
    Checksum,
    /// A format version this build does not read.
    Version(u8),
    /// Bits set for nodes above [`MAX_NODES`], or nonzero reserved bytes.
    Reserved,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { found } => {
                write!(f, "{found} bytes, a fence image is {} bytes", image::LEN)
            }
            Self::Magic => f.write_str("not a fence image (bad magic)"),
            Self::Checksum => f.write_str("checksum mismatch"),
            Self::Version(v) => write!(f, "format version {v}, this build reads {}", image::VERSION),
            Self::Reserved => f.write_str("reserved bits are set"),
        }
    }
}

/// Why the fence store failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FenceStoreError {
    /// The stored records cannot be trusted.
    Corrupt(Corruption),
    /// The record names a node id at or above [`MAX_NODES`].
    NoSuchNode(NodeId),
    /// The medium failed; `code` is the OS error number (0 on bare metal).
    Device {
        /// OS error number, or 0.
        code: i32,
    },
}

impl fmt::Display for FenceStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt(c) => write!(f, "fence records are corrupt: {c}"),
            Self::NoSuchNode(n) => write!(f, "no fence record slot for {n} (at most {MAX_NODES} nodes)"),
            Self::Device { code } => write!(f, "fence store medium failed (os error {code})"),
        }
    }
}

impl core::error::Error for FenceStoreError {}

/// `fences` with `record` applied.
///
/// # Errors
///
/// [`FenceStoreError::NoSuchNode`] for a node beyond [`MAX_NODES`].
pub fn apply(mut fences: Fences, record: FenceRecord) -> Result<Fences, FenceStoreError> {
    let slot = fences.get_mut(record.node.index()).ok_or(FenceStoreError::NoSuchNode(record.node))?;
    *slot = record.fenced;
    Ok(fences)
}
