//! The fixed regions of `memory.x`: the configuration blob and the
//! retained `.retained` section.

use core::mem::MaybeUninit;
use core::ptr::{addr_of, addr_of_mut};

use crate::blob::REGION_LEN;
use crate::retained::Retained;

extern "C" {
    /// The `CONFIG` region's first byte (defined in `memory.x`).
    static _warden_config: [u8; REGION_LEN];
}

/// The `.retained` section: `NOLOAD`, never initialised by the start-up
/// code nor by QEMU on a reset. Only ever accessed with volatile reads and
/// writes of the whole struct, since its bytes were not written by this
/// program run.
#[link_section = ".retained"]
static mut RETAINED: MaybeUninit<Retained> = MaybeUninit::uninit();

/// The configuration region as the rig wrote it.
pub fn config_region() -> &'static [u8; REGION_LEN] {
    // SAFETY: `memory.x` reserves `CONFIG` for the blob and places nothing
    // of this program there; the firmware never writes it, so a shared
    // reference for the whole run is sound. Any byte values are valid u8.
    unsafe { &*addr_of!(_warden_config) }
}

/// A copy of the retained bytes.
pub fn read_retained() -> Retained {
    // SAFETY: the section is reserved for this static, properly aligned for
    // `Retained` (byte arrays), and every bit pattern is a valid
    // `Retained`. The read is volatile so the compiler makes no assumption
    // about bytes it did not see written. Single-threaded main loop: no
    // interrupt handler touches it.
    unsafe { addr_of!(RETAINED).cast::<Retained>().read_volatile() }
}

/// Writes the retained bytes back. Bytes that did not change are written
/// with the same values, so a reset during the write tears at most the slot
/// that changed (see [`crate::retained`]).
pub fn write_retained(value: &Retained) {
    // SAFETY: as in `read_retained`; the main loop is the only writer.
    unsafe { addr_of_mut!(RETAINED).cast::<Retained>().write_volatile(value.clone()) }
}

extern "C" {
    /// The top of the stack (cortex-m-rt's linker script).
    static _stack_start: u32;
    /// The lowest address the stack may reach (cortex-m-rt's linker script).
    static _stack_end: u32;
}

/// The stack's high-water mark in bytes: cortex-m-rt paints the stack with
/// `0xCCCC_CCCC` at reset (`paint-stack`); what is no longer paint was used.
pub fn stack_used() -> usize {
    let top = addr_of!(_stack_start) as usize;
    let mut at = addr_of!(_stack_end) as usize;
    while at < top {
        // SAFETY: `at` is a 4-aligned address between the linker's stack
        // bounds, inside RAM; a volatile read of it has no side effect.
        let word = unsafe { core::ptr::read_volatile(at as *const u32) };
        if word != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        at += 4;
    }
    top - at
}
