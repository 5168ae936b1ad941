//! What the firmware tests share: the firmware image, built once, and the
//! host tools they need, with what to install when one is missing.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The MCU target.
pub const TARGET: &str = "thumbv7em-none-eabihf";

/// The firmware ELF, built as `cargo fw` builds it, in a target directory
/// of the tests' own (the outer cargo holds its own).
pub fn firmware() -> &'static Path {
    static ELF: OnceLock<PathBuf> = OnceLock::new();
    ELF.get_or_init(|| {
        let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("firmware");
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = Command::new(env!("CARGO"))
            .current_dir(&workspace)
            .args(["fw", "--target-dir"])
            .arg(&target_dir)
            .status()
            .unwrap_or_else(|e| panic!("running cargo to build the firmware: {e}"));
        assert!(
            status.success(),
            "`cargo fw` failed ({status}); the target comes from rust-toolchain.toml \
             (rustup target add {TARGET} if it is missing)"
        );
        target_dir.join(TARGET).join("firmware").join("warden-controller-mcu")
    })
}

/// A host tool the tests run; fails with what to install when it is missing.
pub fn require(program: &str, install: &str) {
    match Command::new(program).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("`{program} --version` failed ({}): install it with `{install}`", out.status),
        Err(e) => panic!("{program} is needed by this test and was not found ({e}): install it with `{install}`"),
    }
}

/// `llvm-size` and `llvm-nm` from the toolchain's `llvm-tools` component.
pub fn llvm_tool(name: &str) -> PathBuf {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap_or_else(|e| panic!("rustc --print sysroot: {e}"));
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_owned();
    let path = Path::new(&sysroot).join("lib/rustlib/x86_64-unknown-linux-gnu/bin").join(name);
    assert!(
        path.exists(),
        "{} not found: install it with `rustup component add llvm-tools` (rust-toolchain.toml lists it)",
        path.display()
    );
    path
}
