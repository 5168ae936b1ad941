//! # warden-controller-mcu
//!
//! The controller of DESIGN §3 on a Cortex-M4F board: the core's sans-IO
//! [`Controller`](warden_core::controller::Controller) driven by the board's
//! UARTs, watchdog and SysTick. The reference board is the **Arm MPS2 with
//! the AN386 FPGA image, as QEMU emulates it** (`qemu-system-arm -M
//! mps2-an386`; QEMU's `hw/arm/mps2.c` is the authority for what is there).
//!
//! ## The board
//!
//! | UART | base | RX / TX IRQ | role |
//! |---|---|---|---|
//! | UART0 | `0x4000_4000` | 0 / 1 | console: defmt log out, operator commands in |
//! | UART1 | `0x4000_5000` | 2 / 3 | link to node 0 |
//! | UART2 | `0x4000_6000` | 4 / 5 | link to node 1 |
//! | UART3 | `0x4000_7000` | 18 / 19 | link to node 2 |
//! | UART4 | `0x4000_9000` | 20 / 21 | the serial relay module (`A0 ch state sum`) |
//!
//! The UARTs are CMSDK APB UARTs (8N1, `BAUDDIV` = 25 MHz / 115200 = 217,
//! one-byte buffers). Receive is interrupt-driven: each RX interrupt moves
//! the byte into that UART's heapless queue (256 bytes for a link, two
//! maximum frames; 64 for the console; 32 for the relay module: see
//! `board::uart` for why; a byte that finds it full is dropped and
//! counted); the main loop takes bytes from the queues.
//! Transmit polls, with a bound: a transmitter that does not take a byte
//! within it is wedged (a UART drains at its baud rate whatever the peer
//! does) and the call fails as a device error. The overflow interrupt (12)
//! is not used. Other devices: the CMSDK watchdog at `0x4000_8000` (its
//! interrupt is the NMI; a second expiry resets the board), SysTick on the
//! 25 MHz processor clock (one interrupt per millisecond).
//!
//! ## Memory map (`memory.x`)
//!
//! | region | address | size | what |
//! |---|---|---|---|
//! | FLASH | `0x0000_0000` | 252 KiB | code and constants (ZBT SSRAM1, where `-kernel` loads the ELF) |
//! | CONFIG | `0x0003_F000` | 4 KiB | the configuration blob ([`blob`]) |
//! | RETAINED | `0x2000_0000` | 256 B | `.retained` (`NOLOAD`): fence records and boot counter ([`retained`]) |
//! | RAM | `0x2000_0100` | 128 KiB − 256 B | data, bss, then the stack from the top down (ZBT SSRAM2&3) |
//!
//! QEMU models these as RAM (4 MiB each) and reloads every ELF segment that
//! carries file bytes on each reset, zero-filling its tail. The `.retained`
//! section carries none, so QEMU leaves it alone, and the start-up code does
//! not touch it either: the fence records survive a watchdog reset (the
//! QEMU test checks it). The budget for a production part is 64 KiB of flash
//! and 16 KiB of RAM; `size.sh` reports against it.
//!
//! ## RAM
//!
//! RAM is `.bss` (no `.data`) plus the stack. The largest object, the
//! core's controller (7.5 KB), is a `.bss` static made once at boot
//! (`cortex_m::singleton!`), copied from the constant `Controller::idle()`
//! and then rebooted in place with the blob's cluster
//! (`Controller::reboot`): it never passes through the stack. Built at run
//! time instead of copied, the idle value would be assembled on the stack
//! first; the constant costs the same flash as a `.data` static would.
//! Boot runs in phases that each return before the next starts, so the
//! stack holds one at a time: the blob is decoded in place
//! ([`blob::decode_into`]), the devices are built where the main loop uses
//! them, and the main loop's frame holds the link decoders. The receive
//! queues are sized per UART (`board::uart`).
//!
//! The stack's high-water mark is measured, not estimated: cortex-m-rt
//! paints the stack at reset (`paint-stack`), and the console's `status`
//! (and the boot lines) report how much of the paint is gone. The QEMU test
//! reads it after placement, a fence, a takeover and a Describe, and again
//! after a watchdog reset; `size.sh` prints data, bss and that mark against
//! the budget.
//!
//! ## Configuration
//!
//! The rig gives the firmware a postcard blob at `0x0003_F000` ([`blob`]):
//! nodes, groups and timing (the core's `ClusterConfig`), the key (or CRC
//! only) and each node's relay channel, behind a magic, a length and a
//! CRC-32C. `warden-mcu-config CLUSTER.toml -o config.bin` makes it from
//! the cluster file; QEMU writes it with `-device
//! loader,file=config.bin,addr=0x3f000` (again at every reset). A missing or
//! corrupt blob, or one the board cannot run, is an error on the console,
//! repeated, and a halt that feeds nothing, so the watchdog (armed before
//! the blob is read) resets the board: never a half-configured controller.
//!
//! ## Boot and main loop
//!
//! As the Linux controller: the watchdog is armed first (a boot that hangs
//! resets); the blob is read; the fence records are read from `.retained`
//! and every relay's sense is read through the module's report query
//! *before* the controller starts; nothing is switched by starting. The main
//! loop then polls, in turn, every link's queue (frames to the controller),
//! the console, the controller's timeout, and the relay sense (every 250 ms,
//! and at once after a switch), and after every step carries out the
//! controller's outputs strictly in order: `Persist` is written to
//! `.retained` and answered (the core sends the relay move it guards only
//! after a durable answer), `Power` goes to the relay module, `Send` to the
//! node's link (what the write came to is told to the core: a transmitter
//! that takes no byte stalls the link), `Alarm` to the log in the core's
//! words, and `FeedWatchdog` feeds the watchdog: the core asks for it only
//! while the loop runs and no link driver is stalled. The loop polls
//! rather than sleeping: under QEMU's `-icount sleep=off` a `WFI` lets
//! guest time leap to the next timer, far ahead of a rig in real time.
//!
//! ## Logs
//!
//! defmt, rzCOBS-framed, on UART0: the console carries only defmt frames
//! out (decode them with `defmt-print -e ELF`), and plain text command lines
//! in ([`console`]). Every line carries the firmware's clock in milliseconds
//! since boot as its timestamp.
//!
//! ## Running it by hand under QEMU
//!
//! ```sh
//! cargo fw                                     # target/thumbv7em-none-eabihf/firmware/warden-controller-mcu
//! cargo run -p warden-controller-mcu --bin warden-mcu-config -- cluster.toml -o config.bin
//! qemu-system-arm -M mps2-an386 -nographic -icount shift=7,align=off,sleep=off \
//!   -kernel target/thumbv7em-none-eabihf/firmware/warden-controller-mcu \
//!   -device loader,file=config.bin,addr=0x3f000 \
//!   -chardev socket,id=u0,path=/tmp/u0.sock,server=on,wait=on -serial chardev:u0 \
//!   -chardev socket,id=u1,path=/tmp/u1.sock,server=on,wait=on -serial chardev:u1 \
//!   -chardev socket,id=u2,path=/tmp/u2.sock,server=on,wait=on -serial chardev:u2 \
//!   -chardev socket,id=u3,path=/tmp/u3.sock,server=on,wait=on -serial chardev:u3 \
//!   -chardev socket,id=u4,path=/tmp/u4.sock,server=on,wait=on -serial chardev:u4 \
//!   -qmp unix:/tmp/qmp.sock,server=on,wait=off -monitor none
//! # then, each in its own terminal, in this order (QEMU waits for each):
//! socat -u UNIX-CONNECT:/tmp/u0.sock - | defmt-print -e target/thumbv7em-none-eabihf/firmware/warden-controller-mcu
//! socat - UNIX-CONNECT:/tmp/u1.sock ...         # the agents' serial lines (node 0, 1, 2)
//! warden-relay-board --socket /tmp/u4.sock --channels 2
//! ```
//!
//! ## A real board's fence store
//!
//! RAM keeps the fence records across a reset, not across a power cut. A
//! production board keeps them in flash, with the same image and the same
//! two-slot scheme as [`retained`]: one erase page holding two alternating
//! [`fence::image`](warden_bsp::fence::image)s (24 bytes each, magic,
//! version, generation, bitmask, CRC-32C). A store erases and writes the
//! slot that does not hold the newest valid image, with the generation one
//! higher, and reads it back before `store` returns `Ok` (only then is the
//! relay switched); a load takes the valid slot with the highest
//! generation. A power cut during a store leaves the other slot intact, so
//! the records are always those before or after the store, never a mix, and
//! a page with the magic but no valid slot is corrupt (refuse to start). Two
//! pages instead of one avoid erasing the page that holds the valid image.
//!
//! ## Layers
//!
//! * [`blob`]: the configuration blob (host-tested).
//! * [`retained`]: the retained fence records and boot counter (host-tested).
//! * [`console`]: the console's command lines (host-tested).
//! * [`emulator`] (host only): QEMU's command line for the reference board.
//! * `board` (MCU target only): the registers, interrupts, clock, watchdog,
//!   UART driver, defmt logger, and the main loop.
#![cfg_attr(not(test), no_std)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

pub mod blob;
pub mod console;
#[cfg(not(target_os = "none"))]
pub mod emulator;
pub mod retained;

#[cfg(target_os = "none")]
pub mod board;

/// Node links on the board (UART1 to UART3): at most this many nodes.
pub const LINK_UARTS: usize = 3;
/// Where the configuration blob is on the reference board (`CONFIG` in `memory.x`).
pub const CONFIG_ADDRESS: u32 = 0x0003_F000;
