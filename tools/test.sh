#!/usr/bin/env bash
# Runs every Warden test on a fresh machine: installs what the tests need
# (Debian packages, the Rust target and components named in
# rust-toolchain.toml, defmt-print), then builds the firmware for the MCU,
# runs the lints, the workspace tests (some need root: network namespaces,
# loop devices, QEMU), builds and checks the Debian packages, and runs a
# 20,000-seed simulation.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/as-root.sh

say() { printf '\n== %s (%ds)\n' "$*" "$SECONDS"; }

# command:package pairs, installed when the command is missing.
need_pkgs=()
# Pacemaker's fencer, Corosync, xmllint and fence-agents' metadata schema
# are for the fence_warden tests.
# dpkg-dev, binutils, lintian, systemd (systemd-analyze) and man-db are for
# the Debian packages' checks.
# promtool (prometheus) checks the metrics pages and the documented alert
# rules.
for pair in ip:iproute2 mkfs.ext4:e2fsprogs e2fsck:e2fsprogs debugfs:e2fsprogs losetup:mount ps:procps \
    qemu-system-arm:qemu-system-arm python3:python3 stonith_admin:pacemaker-cli-utils \
    /usr/lib/pacemaker/pacemaker-fenced:pacemaker corosync:corosync xmllint:libxml2-utils \
    /usr/share/cluster/relaxng/metadata.rng:fence-agents nsenter:util-linux \
    dpkg-shlibdeps:dpkg-dev strip:binutils lintian:lintian systemd-analyze:systemd man:man-db \
    deb-systemd-helper:init-system-helpers \
    promtool:prometheus; do
    cmd=${pair%%:*} pkg=${pair##*:}
    if [[ $cmd == /* ]]; then
        [[ -e $cmd ]] || need_pkgs+=("$pkg")
    else
        command -v "$cmd" >/dev/null 2>&1 || need_pkgs+=("$pkg")
    fi
done
if ((${#need_pkgs[@]})); then
    say "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The tests start Corosync, Pacemaker's fencer and promtool themselves:
    # the packages' own services are neither started nor left enabled.
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
        apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
        rm -f "$policy"
        trap - EXIT
    else
        apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
    fi
    # Only the services of packages this run installed.
    if command -v systemctl >/dev/null 2>&1; then
        for unit in corosync pacemaker prometheus; do
            if printf '%s\n' "${need_pkgs[@]}" | grep -qx "$unit"; then
                systemctl disable "$unit" >/dev/null 2>&1 || true
            fi
        done
    fi
fi

say "toolchain (from rust-toolchain.toml)"
rustup show active-toolchain
# rustup installs what rust-toolchain.toml names only with a new toolchain;
# an existing one gets the target and components here.
rustup target add thumbv7em-none-eabihf
rustup component add llvm-tools clippy rustfmt
command -v defmt-print >/dev/null 2>&1 || cargo install defmt-print --locked

say "warden-core for thumbv7em-none-eabihf (no_std)"
cargo build -p warden-core --target thumbv7em-none-eabihf --release

say "MCU controller firmware (cargo fw)"
cargo fw

say "lints of the no_std core"
cargo clippy -p warden-core --all-targets -- -D warnings

say "workspace tests"
cargo test --workspace --release

say "Debian packages: lintian, systemd-analyze verify, install into a throwaway root"
bash tools/package.sh --check

say "simulation: 20000 seeds"
cargo run --release -q -p warden-sim --bin warden-sim -- --seeds 20000

say "done"
