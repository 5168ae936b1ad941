//! For the MCU target: puts `memory.x` where cortex-m-rt's `link.x` finds
//! it, passes the linker scripts to the firmware binary only, and turns the
//! defmt log level up to `info` unless `DEFMT_LOG` says otherwise.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEFMT_LOG");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::copy("memory.x", out.join("memory.x")) {
        println!("cargo:warning=copying memory.x: {e}");
    }
    println!("cargo:rustc-link-search={}", out.display());
    for script in ["-Tlink.x", "-Tdefmt.x"] {
        println!("cargo:rustc-link-arg-bin=warden-controller-mcu={script}");
    }
    if std::env::var_os("DEFMT_LOG").is_none() {
        println!("cargo:rustc-env=DEFMT_LOG=info");
    }
}
