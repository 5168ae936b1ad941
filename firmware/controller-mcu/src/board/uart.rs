//! The CMSDK APB UARTs: interrupt-driven receive into a heapless queue per
//! UART (sized for what each UART carries), polled transmit with a bound.
//!
//! The receive interrupt of UART `n` clears its interrupt status *first*
//! and then moves every byte the UART holds into the queue: a byte that
//! arrives after the clear raises the interrupt again, so none is left
//! behind. A byte that finds the queue full is dropped and counted.
//!
//! A transmit waits for the one-byte transmit buffer to empty for at most
//! [`TX_SPINS`] looks at the status register (far more than one byte time
//! at 115200 baud). A UART that does not drain by then is wedged, and the
//! call fails with [`UartError::TxStuck`], a device error: the link driver
//! is stalled (see [`crate::progress`]).

use core::cell::RefCell;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicU32, Ordering};

use critical_section::Mutex;
use heapless::Deque;

use super::{Irq, SYSCLK_HZ};

/// Bytes a link UART's receive queue holds: two maximum frames. An agent
/// sends about one frame per keepalive (its Status, now and then a Hello, a
/// Probing or a request), and the main loop empties the queues between
/// steps; its longest pause is a relay query that gets no answer
/// ([`super::run`]'s answer timeout, 500 ms, shorter than any sane
/// keepalive), so two frames are what can pile up. At 115200 baud the
/// line itself could fill it in 22 ms, but no agent talks that much.
pub const LINK_RX_CAPACITY: usize = 2 * warden_core::wire::MAX_FRAME;
/// Bytes the console's receive queue holds: a whole command line and its
/// end of line, with room. Operators type, they do not stream; a pasted
/// burst that overflows it loses bytes (counted), so its line is refused.
pub const CONSOLE_RX_CAPACITY: usize = 64;
/// Bytes the relay module's receive queue holds: eight 4-byte answers. The
/// firmware asks one query at a time and reads its answer at once.
pub const RELAY_RX_CAPACITY: usize = 32;
const _: () = assert!(CONSOLE_RX_CAPACITY > crate::console::MAX_LINE);
/// Looks at the status register before a transmit is declared stuck.
pub const TX_SPINS: u32 = 50_000;
/// Line speed of every UART.
pub const BAUD: u32 = 115_200;

/// Base address of UART `n`.
const BASES: [usize; 5] = [0x4000_4000, 0x4000_5000, 0x4000_6000, 0x4000_7000, 0x4000_9000];
/// Receive interrupt of UART `n` (transmit is one more; not used).
const RX_IRQS: [u16; 5] = [0, 2, 4, 18, 20];

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const INTSTATUS: usize = 0x0C;
const BAUDDIV: usize = 0x10;
const STATE_TXFULL: u32 = 1;
const STATE_RXFULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1;
const CTRL_RX_EN: u32 = 1 << 1;
const CTRL_RX_INTEN: u32 = 1 << 3;
const INT_RX: u32 = 1 << 1;
const INT_RXO: u32 = 1 << 3;

type Queue<const N: usize> = Mutex<RefCell<Deque<u8, N>>>;

static CONSOLE_RX: Queue<CONSOLE_RX_CAPACITY> = Mutex::new(RefCell::new(Deque::new()));
static LINK_RX: [Queue<LINK_RX_CAPACITY>; 3] = [const { Mutex::new(RefCell::new(Deque::new())) }; 3];
static RELAY_RX: Queue<RELAY_RX_CAPACITY> = Mutex::new(RefCell::new(Deque::new()));
static RX_DROPPED: [AtomicU32; 5] = [const { AtomicU32::new(0) }; 5];
static SPURIOUS: AtomicU32 = AtomicU32::new(0);

/// A receive queue, whatever its capacity.
trait RxQueue {
    /// `false` when full.
    fn push(&mut self, byte: u8) -> bool;
    fn pop(&mut self) -> Option<u8>;
    fn is_empty(&self) -> bool;
}

impl<const N: usize> RxQueue for Deque<u8, N> {
    fn push(&mut self, byte: u8) -> bool {
        self.push_back(byte).is_ok()
    }

    fn pop(&mut self) -> Option<u8> {
        self.pop_front()
    }

    fn is_empty(&self) -> bool {
        Self::is_empty(self)
    }
}

/// Runs `f` on UART `index`'s receive queue, in a critical section; `None`
/// beyond UART4.
fn with_rx<R>(index: usize, f: impl FnOnce(&mut dyn RxQueue) -> R) -> Option<R> {
    critical_section::with(|cs| match index {
        0 => Some(f(&mut *CONSOLE_RX.borrow_ref_mut(cs))),
        4 => Some(f(&mut *RELAY_RX.borrow_ref_mut(cs))),
        _ => LINK_RX.get(index.wrapping_sub(1)).map(|q| f(&mut *q.borrow_ref_mut(cs))),
    })
}

fn read(base: usize, offset: usize) -> u32 {
    // SAFETY: `base` is one of `BASES` and `offset` one of the register
    // offsets above: a valid 32-bit MMIO register of a CMSDK UART.
    unsafe { read_volatile((base + offset) as *const u32) }
}

fn write(base: usize, offset: usize, value: u32) {
    // SAFETY: as in `read`.
    unsafe { write_volatile((base + offset) as *mut u32, value) }
}

/// The receive interrupt of the UART on line `irq`; `false` when `irq` is
/// not a UART's.
pub fn on_interrupt(irq: u16) -> bool {
    let Some(index) = RX_IRQS.iter().position(|l| *l == irq) else { return false };
    let Some(&base) = BASES.get(index) else { return false };
    write(base, INTSTATUS, INT_RX | INT_RXO);
    while read(base, STATE) & STATE_RXFULL != 0 {
        // Reading DATA empties the one-byte buffer (register width 32, byte in bits 0-7).
        let byte = (read(base, DATA) & 0xFF) as u8;
        if with_rx(index, |q| q.push(byte)) != Some(true) {
            if let Some(dropped) = RX_DROPPED.get(index) {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    true
}

/// Bytes UART `index` dropped because its receive queue was full.
pub fn rx_dropped(index: usize) -> u32 {
    RX_DROPPED.get(index).map_or(0, |d| d.load(Ordering::Relaxed))
}

/// Counts an interrupt no driver claims.
pub fn count_spurious() {
    SPURIOUS.fetch_add(1, Ordering::Relaxed);
}

/// Interrupts no driver claimed (their lines were masked).
pub fn spurious() -> u32 {
    SPURIOUS.load(Ordering::Relaxed)
}

/// Why a UART call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UartError {
    /// The transmitter did not take a byte within the bound: wedged.
    TxStuck,
}

impl embedded_io::Error for UartError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl core::fmt::Display for UartError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("UART transmitter stuck (wedged)")
    }
}

impl core::error::Error for UartError {}

/// One of the board's UARTs (0 to 4).
#[derive(Debug)]
pub struct Uart {
    index: usize,
    base: usize,
}

impl Uart {
    /// Sets UART `index` up (8N1 at [`BAUD`], receive interrupt on) and
    /// unmasks its receive interrupt. `None` beyond UART4.
    pub fn open(index: usize) -> Option<Self> {
        let base = *BASES.get(index)?;
        let irq = *RX_IRQS.get(index)?;
        write(base, CTRL, 0);
        write(base, BAUDDIV, SYSCLK_HZ / BAUD);
        write(base, INTSTATUS, 0xF);
        write(base, CTRL, CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INTEN);
        // SAFETY: the handler for this line (`on_interrupt`) only touches
        // this UART's registers and its queue behind a critical section.
        unsafe { cortex_m::peripheral::NVIC::unmask(Irq(irq)) };
        Some(Self { index, base })
    }

    /// Which UART it is.
    #[must_use]
    pub const fn index(&self) -> usize {
        self.index
    }

    /// Fault injection: disables the transmitter, so the next bytes never
    /// leave and the UART looks wedged (the console's `wedge` command).
    pub fn wedge(&mut self) {
        write(self.base, CTRL, read(self.base, CTRL) & !CTRL_TX_EN);
    }

    /// Takes the bytes received so far into `buf`; returns how many.
    pub fn take(&mut self, buf: &mut [u8]) -> usize {
        with_rx(self.index, |queue| {
            let mut n = 0;
            for slot in buf.iter_mut() {
                let Some(byte) = queue.pop() else { break };
                *slot = byte;
                n += 1;
            }
            n
        })
        .unwrap_or(0)
    }

    fn has_input(&self) -> bool {
        with_rx(self.index, |q| !q.is_empty()).unwrap_or(false)
    }

    /// Waits (bounded) for the transmit buffer to be empty.
    fn wait_tx_room(&self) -> Result<(), UartError> {
        for _ in 0..TX_SPINS {
            if read(self.base, STATE) & STATE_TXFULL == 0 {
                return Ok(());
            }
        }
        Err(UartError::TxStuck)
    }

    /// Sends one byte, waiting (bounded) for room.
    ///
    /// # Errors
    ///
    /// [`UartError::TxStuck`] when the transmitter stays full.
    pub fn put(&mut self, byte: u8) -> Result<(), UartError> {
        self.wait_tx_room()?;
        write(self.base, DATA, u32::from(byte));
        Ok(())
    }
}

impl embedded_io::ErrorType for Uart {
    type Error = UartError;
}

impl embedded_io::Read for Uart {
    /// Waits for at least one byte (as the trait asks); callers look at
    /// `read_ready` first and never wait here.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.take(buf);
            if n > 0 {
                return Ok(n);
            }
        }
    }
}

impl embedded_io::ReadReady for Uart {
    fn read_ready(&mut self) -> Result<bool, UartError> {
        Ok(self.has_input())
    }
}

impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
        let Some(&first) = buf.first() else { return Ok(0) };
        self.put(first)?;
        let mut n = 1;
        for &byte in buf.iter().skip(1) {
            if read(self.base, STATE) & STATE_TXFULL != 0 {
                break;
            }
            write(self.base, DATA, u32::from(byte));
            n += 1;
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), UartError> {
        self.wait_tx_room()
    }
}

impl embedded_io::WriteReady for Uart {
    /// Ready once the transmit buffer empties; a transmitter that stays full
    /// past the bound is an error (wedged), never "not ready": a UART
    /// drains whatever its peer does.
    fn write_ready(&mut self) -> Result<bool, UartError> {
        self.wait_tx_room().map(|()| true)
    }
}

/// Console output for the logger: never waits past the bound, and once
/// stuck drops bytes without waiting until the transmitter drains again.
pub fn console_write(bytes: &[u8]) {
    static STUCK: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    let Some(&base) = BASES.first() else { return };
    for &byte in bytes {
        let room = read(base, STATE) & STATE_TXFULL == 0;
        if !room && STUCK.load(Ordering::Relaxed) {
            continue;
        }
        let mut spins = TX_SPINS;
        while read(base, STATE) & STATE_TXFULL != 0 && spins > 0 {
            spins -= 1;
        }
        if spins == 0 {
            STUCK.store(true, Ordering::Relaxed);
            continue;
        }
        STUCK.store(false, Ordering::Relaxed);
        write(base, DATA, u32::from(byte));
    }
}
