//! The reference board under QEMU, for host programs (the firmware's own
//! test and the process rig): the `qemu-system-arm` command line.
//!
//! Every UART is a unix socket server `u0.sock` .. `u4.sock` in one
//! directory (QEMU waits for a client on each, in that order, before it
//! runs), QMP is `qmp.sock` there, and the configuration blob is loaded at
//! [`CONFIG_ADDRESS`](crate::CONFIG_ADDRESS).

extern crate std;

use std::format;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

/// The UARTs of the board: UART0 (console), UART1–3 (node links), UART4
/// (relay module).
pub const UARTS: usize = 5;

/// Which clock the guest's time follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestClock {
    /// QEMU's instruction count (`-icount shift=7,align=off,sleep=off`):
    /// the firmware's milliseconds follow the instructions it runs, many
    /// times faster than the host's when the host is idle. For tests whose
    /// peers keep no time of their own.
    Instructions,
    /// The host's clock: the firmware's milliseconds are the host's, as
    /// for peers that run on the host's time (real agents).
    Host,
}

/// The arguments of `qemu-system-arm` for `elf` with the configuration
/// `blob`, its sockets in `dir`; `paused` starts it stopped (`-S`) until
/// QMP's `cont`.
#[must_use]
pub fn qemu_args(elf: &Path, blob: &Path, dir: &Path, clock: GuestClock, paused: bool) -> Vec<String> {
    let mut args: Vec<String> = ["-M", "mps2-an386", "-nographic", "-monitor", "none"].map(ToString::to_string).into();
    if paused {
        args.push("-S".into());
    }
    if clock == GuestClock::Instructions {
        args.push("-icount".into());
        args.push("shift=7,align=off,sleep=off".into());
    }
    args.push("-kernel".into());
    args.push(elf.display().to_string());
    args.push("-device".into());
    args.push(format!("loader,file={},addr={:#x}", blob.display(), crate::CONFIG_ADDRESS));
    for u in 0..UARTS {
        args.push("-chardev".into());
        args.push(format!("socket,id=u{u},path={},server=on,wait=on", dir.join(format!("u{u}.sock")).display()));
        args.push("-serial".into());
        args.push(format!("chardev:u{u}"));
    }
    args.push("-qmp".into());
    args.push(format!("unix:{},server=on,wait=off", dir.join("qmp.sock").display()));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_has_every_uart_in_order_and_the_clock_asked_for() {
        let args = qemu_args(Path::new("fw.elf"), Path::new("c.bin"), Path::new("/r"), GuestClock::Host, true);
        let line = args.join(" ");
        assert!(line.starts_with("-M mps2-an386 -nographic -monitor none -S -kernel fw.elf"), "{line}");
        assert!(!line.contains("-icount"), "{line}");
        assert!(line.contains("loader,file=c.bin,addr=0x3f000"), "{line}");
        let serials: Vec<&String> = args.iter().filter(|a| a.starts_with("chardev:")).collect();
        assert_eq!(serials, ["chardev:u0", "chardev:u1", "chardev:u2", "chardev:u3", "chardev:u4"]);
        assert!(line.ends_with("-qmp unix:/r/qmp.sock,server=on,wait=off"), "{line}");
        let icount = qemu_args(Path::new("e"), Path::new("b"), Path::new("d"), GuestClock::Instructions, false);
        assert!(icount.windows(2).any(|w| w[0] == "-icount" && w[1] == "shift=7,align=off,sleep=off"));
        assert!(!icount.iter().any(|a| a == "-S"));
    }
}
