//! The fence image: all fence records in one small, versioned, checksummed
//! block, written whole. The Linux file store writes it as a file; a flash
//! store can write it to alternating pages and keep the valid one with the
//! highest generation.
//!
//! ```text
//! offset size
//!  0      4   magic "WFEN"
//!  4      1   version (1)
//!  5      3   reserved, zero
//!  8      8   generation, u64 little-endian: +1 at every store
//! 16      4   fenced nodes, u32 little-endian bitmask (bit n = node n)
//! 20      4   CRC-32C (iSCSI) of bytes 0..20, little-endian
//! ```

use warden_core::MAX_NODES;

use super::{Corruption, Fences};

/// Length of an image in bytes.
pub const LEN: usize = 24;
/// The format version written by this build.
pub const VERSION: u8 = 1;
/// The magic bytes at the start of every image.
pub const MAGIC: [u8; 4] = *b"WFEN";

const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// The decoded content of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Image {
    /// Incremented at every store.
    pub generation: u64,
    /// Fenced nodes by index.
    pub fences: Fences,
}

impl Image {
    /// The image's bytes.
    #[must_use]
    pub fn encode(&self) -> [u8; LEN] {
        let mut mask = 0u32;
        for (i, fenced) in self.fences.iter().enumerate() {
            if *fenced {
                mask |= 1 << i;
            }
        }
        let mut out = [0u8; LEN];
        let (head, crc) = out.split_at_mut(20);
        let (magic, rest) = head.split_at_mut(4);
        magic.copy_from_slice(&MAGIC);
        let (version, rest) = rest.split_at_mut(4);
        version.copy_from_slice(&[VERSION, 0, 0, 0]);
        let (generation, bits) = rest.split_at_mut(8);
        generation.copy_from_slice(&self.generation.to_le_bytes());
        bits.copy_from_slice(&mask.to_le_bytes());
        let sum = CRC32C.checksum(head);
        crc.copy_from_slice(&sum.to_le_bytes());
        out
    }

    /// Checks and decodes an image.
    ///
    /// # Errors
    ///
    /// The [`Corruption`] found: wrong length, magic, checksum, version or
    /// reserved bits, checked in that order.
    pub fn decode(bytes: &[u8]) -> Result<Self, Corruption> {
        let bytes: &[u8; LEN] = bytes.try_into().map_err(|_| Corruption::Length { found: bytes.len() })?;
        let (head, crc) = bytes.split_at(20);
        let (magic, rest) = head.split_at(4);
        if magic != MAGIC {
            return Err(Corruption::Magic);
        }
        let crc: [u8; 4] = crc.try_into().map_err(|_| Corruption::Length { found: LEN })?;
        if CRC32C.checksum(head) != u32::from_le_bytes(crc) {
            return Err(Corruption::Checksum);
        }
        let (version, rest) = rest.split_at(4);
        match version {
            [VERSION, 0, 0, 0] => {}
            [VERSION, ..] => return Err(Corruption::Reserved),
            [v, ..] => return Err(Corruption::Version(*v)),
            [] => return Err(Corruption::Length { found: LEN }),
        }
        let (generation, bits) = rest.split_at(8);
        let generation = u64::from_le_bytes(generation.try_into().map_err(|_| Corruption::Length { found: LEN })?);
        let mask = u32::from_le_bytes(bits.try_into().map_err(|_| Corruption::Length { found: LEN })?);
        if MAX_NODES < 32 && mask >> MAX_NODES != 0 {
            return Err(Corruption::Reserved);
        }
        let mut fences = [false; MAX_NODES];
        for (i, fenced) in fences.iter_mut().enumerate() {
            *fenced = mask & (1 << i) != 0;
        }
        Ok(Self { generation, fences })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_image() {
        let mut fences = [false; MAX_NODES];
        fences[1] = true;
        fences[3] = true;
        let image = Image { generation: 5, fences };
        let bytes = image.encode();
        assert_eq!(&bytes[..20], b"WFEN\x01\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00");
        let crc = CRC32C.checksum(&bytes[..20]).to_le_bytes();
        assert_eq!(&bytes[20..], &crc);
        assert_eq!(Image::decode(&bytes), Ok(image));
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let mut fences = [false; MAX_NODES];
        fences[0] = true;
        let good = Image { generation: 77, fences }.encode();
        for byte in 0..LEN {
            for bit in 0..8 {
                let mut bad = good;
                bad[byte] ^= 1 << bit;
                assert!(Image::decode(&bad).is_err(), "flip of byte {byte} bit {bit} was accepted");
            }
        }
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let good = Image::default().encode();
        assert_eq!(Image::decode(&good[..10]), Err(Corruption::Length { found: 10 }));
        assert_eq!(Image::decode(&[]), Err(Corruption::Length { found: 0 }));
        let mut magic = good;
        magic[0] = b'X';
        assert_eq!(Image::decode(&magic), Err(Corruption::Magic));
        let mut sum = good;
        sum[23] ^= 0xff;
        assert_eq!(Image::decode(&sum), Err(Corruption::Checksum));
        // A future version with a correct checksum.
        let mut future = good;
        future[4] = 2;
        let crc = CRC32C.checksum(&future[..20]).to_le_bytes();
        future[20..].copy_from_slice(&crc);
        assert_eq!(Image::decode(&future), Err(Corruption::Version(2)));
        // A node bit beyond MAX_NODES with a correct checksum.
        let mut wide = good;
        wide[16 + MAX_NODES / 8] |= 1 << (MAX_NODES % 8);
        let crc = CRC32C.checksum(&wide[..20]).to_le_bytes();
        wide[20..].copy_from_slice(&crc);
        assert_eq!(Image::decode(&wide), Err(Corruption::Reserved));
    }
}
