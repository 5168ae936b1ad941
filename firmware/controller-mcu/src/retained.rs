//! What the board keeps in RAM across a reset (the watchdog's, or any
//! other): the fence records and a boot counter, each checksummed.
//!
//! The bytes live in the `.retained` section, a `NOLOAD` section of the
//! linker script at a fixed address (`RETAINED` in `memory.x`): the start-up
//! code neither zeroes nor initialises it, and neither does QEMU when it
//! reloads the ELF on a reset (it rewrites only the segments that carry file
//! bytes). Its content survives a reset but not a power cut, which is what
//! separates this store from a real board's flash page (see the crate docs).
//!
//! ## Fence records
//!
//! Two slots, each a whole [`fence::image`](warden_bsp::fence::image)
//! (magic, version, generation, bitmask, CRC-32C). A store writes the slot
//! that does *not* hold the newest image, with the generation one higher;
//! a load takes the valid slot with the highest generation. A reset in the
//! middle of a store (a watchdog does not wait) leaves at worst one torn
//! slot, whose checksum fails, and the other one intact: the records are as
//! before the store or as after it, never a mix. This is the same scheme a
//! flash page with two alternating images uses.
//!
//! Blank slots (no fence magic in either) are a store never written: after a
//! cold start, nobody is fenced. A slot with the magic whose image does not
//! check, with no valid slot beside it, is corrupt: the controller refuses
//! to start rather than power on a fenced node.
//!
//! ## Boot counter
//!
//! `"WBOT" | count: u64 | CRC-32C` (16 bytes): bumped at every boot and used
//! as the high half of the session seed, so session nonces of one boot are
//! never those of an earlier boot (DESIGN §2). Invalid (cold start): 0.

use core::sync::atomic::{compiler_fence, Ordering};

use warden_bsp::fence::image::{self, Image};
use warden_bsp::fence::{self as store, Corruption};
use warden_bsp::{FenceStore, FenceStoreError, Fences};
use warden_core::controller::FenceRecord;

/// Length of the boot counter record.
pub const BOOT_LEN: usize = 16;
const BOOT_MAGIC: [u8; 4] = *b"WBOT";
const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// The retained bytes, laid out as the `.retained` section holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[repr(C)]
pub struct Retained {
    /// Two fence images, written alternately.
    pub slots: [[u8; image::LEN]; 2],
    /// The boot counter record.
    pub boots: [u8; BOOT_LEN],
}

impl Retained {
    /// All zero, as QEMU's RAM starts.
    pub const BLANK: Self = Self { slots: [[0; image::LEN]; 2], boots: [0; BOOT_LEN] };

    /// Bumps the boot counter and returns the new count (1 after a cold
    /// start, whose counter does not check).
    pub fn next_boot(&mut self) -> u64 {
        let count = read_boots(&self.boots).unwrap_or(0).wrapping_add(1);
        let mut record = [0u8; BOOT_LEN];
        let (head, sum) = record.split_at_mut(12);
        let (magic, value) = head.split_at_mut(4);
        magic.copy_from_slice(&BOOT_MAGIC);
        value.copy_from_slice(&count.to_le_bytes());
        sum.copy_from_slice(&CRC32C.checksum(head).to_le_bytes());
        self.boots = record;
        compiler_fence(Ordering::SeqCst);
        count
    }

    /// The fence store over the two slots.
    pub fn fences(&mut self) -> RetainedFences<'_> {
        RetainedFences { slots: &mut self.slots }
    }
}

fn read_boots(record: &[u8; BOOT_LEN]) -> Option<u64> {
    let (head, sum) = record.split_at(12);
    let (magic, count) = head.split_at(4);
    let sum: [u8; 4] = sum.try_into().ok()?;
    if magic != BOOT_MAGIC || CRC32C.checksum(head) != u32::from_le_bytes(sum) {
        return None;
    }
    Some(u64::from_le_bytes(count.try_into().ok()?))
}

/// The session seed of boot number `count`: the count in the high half, so
/// the `+k` nonce bumps of one boot never reach the next boot's nonces.
#[must_use]
pub const fn seed(count: u64) -> u64 {
    count << 32
}

/// A [`FenceStore`] over the two retained slots.
#[derive(Debug)]
pub struct RetainedFences<'a> {
    slots: &'a mut [[u8; image::LEN]; 2],
}

/// The newest valid image and the index of its slot; `Ok(None)` when both
/// slots are blank.
fn newest(slots: &[[u8; image::LEN]; 2]) -> Result<Option<(usize, Image)>, Corruption> {
    let decoded = slots.each_ref().map(|s| Image::decode(s));
    let best = decoded
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.as_ref().ok().map(|img| (i, *img)))
        .max_by_key(|(_, img)| img.generation);
    if let Some(best) = best {
        return Ok(Some(best));
    }
    // Neither slot checks. Blank (no magic anywhere) is a store never
    // written; anything else cannot be trusted.
    match decoded.iter().zip(slots.iter()).find(|(_, s)| s.starts_with(&image::MAGIC)) {
        None => Ok(None),
        Some((Err(e), _)) => Err(*e),
        Some((Ok(_), _)) => Ok(None),
    }
}

impl RetainedFences<'_> {
    /// The generation of the newest valid image (0 when never written).
    ///
    /// # Errors
    ///
    /// [`FenceStoreError::Corrupt`] as [`FenceStore::load`].
    pub fn generation(&self) -> Result<u64, FenceStoreError> {
        Ok(newest(self.slots).map_err(FenceStoreError::Corrupt)?.map_or(0, |(_, img)| img.generation))
    }
}

impl FenceStore for RetainedFences<'_> {
    fn load(&mut self) -> Result<Fences, FenceStoreError> {
        Ok(newest(self.slots).map_err(FenceStoreError::Corrupt)?.map_or_else(Fences::default, |(_, img)| img.fences))
    }

    fn store(&mut self, record: FenceRecord) -> Result<(), FenceStoreError> {
        let current = newest(self.slots).map_err(FenceStoreError::Corrupt)?;
        let (slot, before) = match current {
            Some((i, img)) => (1 - i.min(1), img),
            None => (0, Image::default()),
        };
        let fences = store::apply(before.fences, record)?;
        let next = Image { generation: before.generation.wrapping_add(1), fences };
        let target = self.slots.get_mut(slot).ok_or(FenceStoreError::Device { code: 0 })?;
        *target = next.encode();
        // The record must be in RAM before the relay command that follows.
        compiler_fence(Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use warden_core::NodeId;

    use super::*;

    fn fenced(node: u8) -> FenceRecord {
        FenceRecord { node: NodeId(node), fenced: true }
    }

    #[test]
    fn blank_is_nobody_fenced_and_stores_alternate_slots() {
        let mut r = Retained::BLANK;
        assert_eq!(r.fences().load(), Ok([false; 8]));
        r.fences().store(fenced(1)).unwrap();
        assert_eq!(Image::decode(&r.slots[0]).unwrap().generation, 1);
        assert_eq!(r.slots[1], [0; image::LEN], "the second slot is untouched by the first store");
        r.fences().store(fenced(0)).unwrap();
        assert_eq!(Image::decode(&r.slots[1]).unwrap().generation, 2);
        let mut expect = [false; 8];
        expect[0] = true;
        expect[1] = true;
        assert_eq!(r.fences().load(), Ok(expect));
        r.fences().store(FenceRecord { node: NodeId(1), fenced: false }).unwrap();
        assert_eq!(Image::decode(&r.slots[0]).unwrap().generation, 3);
        expect[1] = false;
        assert_eq!(r.fences().load(), Ok(expect));
        assert_eq!(r.fences().generation(), Ok(3));
    }

    #[test]
    fn a_store_torn_at_any_byte_leaves_the_record_before_or_after() {
        let mut r = Retained::BLANK;
        r.fences().store(fenced(2)).unwrap();
        let before = r.clone();
        let mut after = r.clone();
        after.fences().store(fenced(5)).unwrap();
        let new_slot = 1;
        for torn in 0..image::LEN {
            let mut t = before.clone();
            t.slots[new_slot][..torn].copy_from_slice(&after.slots[new_slot][..torn]);
            let loaded = t.fences().load().unwrap();
            assert!(
                loaded == before.clone().fences().load().unwrap() || loaded == after.clone().fences().load().unwrap(),
                "torn at {torn}: {loaded:?}"
            );
        }
    }

    #[test]
    fn a_corrupt_store_refuses_load_and_store() {
        let mut r = Retained::BLANK;
        r.fences().store(fenced(0)).unwrap();
        r.slots[0][16] ^= 1;
        assert_eq!(r.fences().load(), Err(FenceStoreError::Corrupt(Corruption::Checksum)));
        let copy = r.clone();
        assert_eq!(r.fences().store(fenced(1)), Err(FenceStoreError::Corrupt(Corruption::Checksum)));
        assert_eq!(r, copy, "nothing written over a corrupt store");
        // Random bytes without the magic in either slot read as blank.
        let mut noise = Retained::BLANK;
        noise.slots[1][3] = 0x77;
        assert_eq!(noise.fences().load(), Ok([false; 8]));
        assert_eq!(
            r.fences().store(FenceRecord { node: NodeId(9), fenced: true }),
            Err(FenceStoreError::Corrupt(Corruption::Checksum))
        );
        let mut fresh = Retained::BLANK;
        assert_eq!(fresh.fences().store(fenced(9)), Err(FenceStoreError::NoSuchNode(NodeId(9))));
    }

    #[test]
    fn the_boot_counter_counts_and_restarts_when_it_does_not_check() {
        let mut r = Retained::BLANK;
        assert_eq!(r.next_boot(), 1);
        assert_eq!(r.next_boot(), 2);
        assert_eq!(&r.boots[..4], b"WBOT");
        r.boots[5] ^= 1;
        assert_eq!(r.next_boot(), 1);
        assert_eq!(seed(2), 2 << 32);
    }
}
