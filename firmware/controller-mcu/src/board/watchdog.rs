//! The CMSDK APB watchdog at `0x4000_8000`, clocked at 25 MHz.
//!
//! It counts `LOAD` down; at zero it raises its interrupt (the NMI on this
//! board) and reloads; at zero again with the interrupt still raised it
//! resets the board. A feed (`INTCLR`) clears the interrupt and reloads, so
//! the board resets `2 × LOAD` ticks after the last feed: `LOAD` is half the
//! timeout. Registers are locked (`LOCK`) between accesses.

use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicBool, Ordering};

use warden_bsp::{Watchdog, WatchdogError};
use warden_core::Duration;

use super::SYSCLK_HZ;

const BASE: usize = 0x4000_8000;
const LOAD: usize = BASE;
const CONTROL: usize = BASE + 0x08;
const INTCLR: usize = BASE + 0x0C;
const LOCK: usize = BASE + 0xC00;
const UNLOCK_KEY: u32 = 0x1ACC_E551;
const INTEN: u32 = 1;
const RESEN: u32 = 1 << 1;

static FIRST_EXPIRY: AtomicBool = AtomicBool::new(false);

/// Called from the NMI: the watchdog's first stage expired.
pub fn note_first_expiry() {
    FIRST_EXPIRY.store(true, Ordering::Relaxed);
}

/// Whether the first stage expired since the last call.
pub fn take_first_expiry() -> bool {
    FIRST_EXPIRY.swap(false, Ordering::Relaxed)
}

fn write(addr: usize, value: u32) {
    // SAFETY: `addr` is one of the watchdog's registers above, a valid
    // 32-bit MMIO location on this board; the main loop is the only user.
    unsafe { write_volatile(addr as *mut u32, value) }
}

/// The watchdog (one per board: create it once).
#[derive(Debug)]
pub struct CmsdkWatchdog {
    started: bool,
}

impl CmsdkWatchdog {
    /// The watchdog, not yet armed.
    #[must_use]
    pub const fn new() -> Self {
        Self { started: false }
    }

    /// Whether `LOAD` is still the value written (a sanity read-back).
    fn load(&self) -> u32 {
        // SAFETY: as in `write`; a read of LOAD has no side effect.
        unsafe { read_volatile(LOAD as *const u32) }
    }
}

impl Default for CmsdkWatchdog {
    fn default() -> Self {
        Self::new()
    }
}

impl Watchdog for CmsdkWatchdog {
    fn start(&mut self, timeout: Duration) -> Result<Duration, WatchdogError> {
        let ticks_per_ms = u64::from(SYSCLK_HZ / 1000);
        let load = timeout.as_millis().saturating_mul(ticks_per_ms) / 2;
        let load = u32::try_from(load)
            .ok()
            .filter(|l| *l >= SYSCLK_HZ / 1000)
            .ok_or(WatchdogError::UnsupportedTimeout { requested: timeout })?;
        write(LOCK, UNLOCK_KEY);
        write(LOAD, load);
        write(INTCLR, 1);
        write(CONTROL, INTEN | RESEN);
        write(LOCK, 0);
        if self.load() != load {
            return Err(WatchdogError::Device { code: 0 });
        }
        self.started = true;
        Ok(Duration::from_millis(u64::from(load) * 2 / ticks_per_ms))
    }

    fn feed(&mut self) -> Result<(), WatchdogError> {
        if !self.started {
            return Err(WatchdogError::NotStarted);
        }
        write(LOCK, UNLOCK_KEY);
        write(INTCLR, 1);
        write(LOCK, 0);
        Ok(())
    }
}
