#!/usr/bin/env bash
# Runs every Warden test on a fresh machine: installs what the tests need
# (Debian packages, the Rust target named in rust-toolchain.toml), then builds
# the firmware core for the MCU, runs the workspace tests (some need root:
# network namespaces, loop devices) and a 20,000-seed simulation.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

need_pkgs=()
for pair in ip:iproute2 mkfs.ext4:e2fsprogs losetup:mount e2fsck:e2fsprogs ps:procps; do
    cmd=${pair%%:*} pkg=${pair##*:}
    command -v "$cmd" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
if ((${#need_pkgs[@]})); then
    say "installing ${need_pkgs[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "these tests need root (network namespaces, loop devices): run as root, or install ${need_pkgs[*]} and re-run with sudo" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "warning: not root; the namespace and loop-device tests will fail and say what they need" >&2
fi

say "toolchain (from rust-toolchain.toml)"
rustup show active-toolchain
rustup target list --installed | grep -q thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf

say "warden-core for thumbv7em-none-eabihf (no_std)"
cargo build -p warden-core --target thumbv7em-none-eabihf --release

say "lints of the no_std core"
cargo clippy -p warden-core --all-targets -- -D warnings

say "workspace tests"
cargo test --workspace --release

say "simulation: 20000 seeds"
cargo run --release -q -p warden-hil --bin warden-sim -- --seeds 20000
