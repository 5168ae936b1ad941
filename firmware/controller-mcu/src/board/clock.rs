//! SysTick as the controller's clock: one interrupt per millisecond on the
//! 25 MHz processor clock, counted into a 64-bit millisecond counter.

use core::cell::Cell;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use critical_section::Mutex;
use warden_core::Instant;

use super::SYSCLK_HZ;

static MILLIS: Mutex<Cell<u64>> = Mutex::new(Cell::new(0));

/// Starts the millisecond interrupt.
pub fn start(syst: &mut SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(SYSCLK_HZ / 1000 - 1);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

#[cortex_m_rt::exception]
fn SysTick() {
    critical_section::with(|cs| {
        let ms = MILLIS.borrow(cs);
        ms.set(ms.get().wrapping_add(1));
    });
}

/// Milliseconds since boot.
pub fn now_ms() -> u64 {
    critical_section::with(|cs| MILLIS.borrow(cs).get())
}

/// The board's [`warden_bsp::Clock`]: SysTick milliseconds since boot. A
/// 64-bit count does not wrap in the life of a board, so it never goes
/// backwards.
#[derive(Debug, Clone, Copy, Default)]
pub struct SysTickClock;

impl warden_bsp::Clock for SysTickClock {
    fn now(&self) -> Instant {
        Instant(now_ms())
    }
}

/// Busy-wait delays on the processor clock (for the relay module's polls).
#[derive(Debug, Clone, Copy, Default)]
pub struct Delay;

impl embedded_hal::delay::DelayNs for Delay {
    fn delay_ns(&mut self, ns: u32) {
        let cycles = u64::from(ns) * u64::from(SYSCLK_HZ / 1_000_000) / 1000;
        cortex_m::asm::delay(u32::try_from(cycles).unwrap_or(u32::MAX).max(1));
    }
}
