//! The defmt global logger: rzCOBS frames on UART0, the firmware's
//! milliseconds since boot as every line's timestamp.
//!
//! A frame is written inside a critical section (interrupts off), so lines
//! from anywhere never interleave; the receive interrupts wait meanwhile
//! (the UARTs keep their byte, and QEMU's back-pressure holds the rest).

use core::sync::atomic::{AtomicBool, Ordering};

use super::{clock, uart};

#[defmt::global_logger]
struct Logger;

static TAKEN: AtomicBool = AtomicBool::new(false);
static mut RESTORE: critical_section::RestoreState = critical_section::RestoreState::invalid();
static mut ENCODER: defmt::Encoder = defmt::Encoder::new();

defmt::timestamp!("{=u64}", clock::now_ms());

// SAFETY: `acquire` takes a critical section and the TAKEN flag, so the
// encoder statics are only touched by one frame at a time; `release` gives
// both back in reverse order.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        // SAFETY: paired with the release in `release`.
        let restore = unsafe { critical_section::acquire() };
        if TAKEN.swap(true, Ordering::Relaxed) {
            // A log line from inside a log line (only a fault while logging
            // can do that): halt, and the watchdog resets the board.
            loop {
                cortex_m::asm::nop();
            }
        }
        // SAFETY: inside the critical section, with TAKEN held.
        unsafe {
            RESTORE = restore;
            (*core::ptr::addr_of_mut!(ENCODER)).start_frame(uart::console_write);
        }
    }

    unsafe fn flush() {}

    unsafe fn release() {
        // SAFETY: called by defmt after `acquire`, inside the critical section.
        unsafe {
            (*core::ptr::addr_of_mut!(ENCODER)).end_frame(uart::console_write);
            TAKEN.store(false, Ordering::Relaxed);
            critical_section::release(RESTORE);
        }
    }

    unsafe fn write(bytes: &[u8]) {
        // SAFETY: called by defmt between `acquire` and `release`.
        unsafe { (*core::ptr::addr_of_mut!(ENCODER)).write(bytes, uart::console_write) }
    }
}

/// A panic is a bug: say so on the console, then stop feeding the watchdog
/// (interrupts off, spin), which resets the board.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    cortex_m::interrupt::disable();
    if !TAKEN.load(Ordering::Relaxed) {
        if let Some(location) = info.location() {
            defmt::error!(
                "PANIC at {=str}:{=u32}: halting until the watchdog resets the board",
                location.file(),
                location.line()
            );
        }
    }
    loop {
        cortex_m::asm::nop();
    }
}
