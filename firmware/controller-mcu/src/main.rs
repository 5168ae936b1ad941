//! The firmware's entry point: everything is in the library's `board`
//! module. On the host this binary only says how to build the firmware.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[cortex_m_rt::entry]
fn main() -> ! {
    warden_controller_mcu::board::run::start()
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "warden-controller-mcu is firmware for thumbv7em-none-eabihf: build it with `cargo fw` and run it under \
         qemu-system-arm -M mps2-an386 (see the crate documentation)"
    );
    std::process::exit(2);
}
