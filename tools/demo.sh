#!/usr/bin/env bash
# The main job on the built-in simulated rig: a narrated failover of a
# two-server cluster, then a 2,000-seed fault campaign with its verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target list --installed >/dev/null 2>&1 || { echo "rustup is needed: https://rustup.rs" >&2; exit 1; }
cargo run --release -q -p warden-hil --bin warden-sim -- --narrate
cargo run --release -q -p warden-hil --bin warden-sim -- --seeds 2000
