#!/usr/bin/env bash
# The main job: a two-server Warden cluster on the built-in rig (real
# warden-agent and warden-controller processes, servers in network and mount
# namespaces, serial lines on pseudo-terminals, relays that really cut power,
# a shared disk on a loop device). The active server loses power, the standby
# takes over, the fenced server stays off until it is unfenced; every step is
# shown with its timing. Needs root; installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

source tools/as-root.sh

need_pkgs=()
for pair in ip:iproute2 bridge:iproute2 mkfs.ext4:e2fsprogs e2fsck:e2fsprogs debugfs:e2fsprogs \
    losetup:mount unshare:util-linux nsenter:util-linux ps:procps python3:python3; do
    cmd=${pair%%:*} pkg=${pair##*:}
    command -v "$cmd" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done
if ((${#need_pkgs[@]})); then
    say "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${need_pkgs[@]}" | sort -u)
fi

say "building (release)"
cargo build --release --workspace --bins

say "the deterministic simulator tells the same story first (virtual time)"
target/release/warden-sim --narrate

say "now for real: warden-rig demo"
exec target/release/warden-rig demo
