//! The reference board (Arm MPS2 AN386 as QEMU emulates it): registers,
//! interrupts, clock, watchdog, UARTs, the defmt logger, the retained RAM
//! region, and the main loop. Built for the MCU target only.

pub mod clock;
pub mod log;
pub mod memory;
pub mod run;
pub mod uart;
pub mod watchdog;

/// The processor and peripheral clock (SYSCLK) of the MPS2: 25 MHz.
pub const SYSCLK_HZ: u32 = 25_000_000;

/// An interrupt line of the board's NVIC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Irq(pub u16);

// SAFETY: the numbers used are the AN386's UART receive interrupts (0, 2,
// 4, 18, 20), all below the 32 lines QEMU's AN386 NVIC has.
unsafe impl cortex_m::interrupt::InterruptNumber for Irq {
    fn number(self) -> u16 {
        self.0
    }
}

/// Every device interrupt lands here (the vector table has no device
/// entries of its own): UART receive interrupts go to their driver; any
/// other line is masked and counted, so it cannot fire again.
#[cortex_m_rt::exception]
unsafe fn DefaultHandler(irqn: i16) {
    let handled = u16::try_from(irqn).is_ok_and(uart::on_interrupt);
    if !handled {
        if let Ok(line) = u16::try_from(irqn) {
            cortex_m::peripheral::NVIC::mask(Irq(line));
        }
        uart::count_spurious();
    }
}

/// The watchdog's first expiry (its interrupt is wired to the NMI): only
/// noted; the main loop reports it. A second expiry resets the board.
#[cortex_m_rt::exception]
unsafe fn NonMaskableInt() {
    watchdog::note_first_expiry();
}
