#!/usr/bin/env bash
# Size report of the MCU firmware: text/data/bss of the `cargo fw` image
# against the budget (64 KiB flash, 16 KiB RAM), and the largest symbols.
# The stack's high-water mark is measured on the board: the firmware logs it
# ("stack used N bytes") at start and in `status`.
set -euo pipefail
cd "$(dirname "$0")/../.."
target_dir=${CARGO_TARGET_DIR:-target}
cargo fw >&2
elf=$target_dir/thumbv7em-none-eabihf/firmware/warden-controller-mcu
bin=$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin
"$bin/llvm-size" "$elf"
read -r text data bss < <("$bin/llvm-size" "$elf" | awk 'NR == 2 { print $1, $2, $3 }')
flash=$((text + data))
ram=$((data + bss))
printf 'flash (text+data): %6d of 65536 bytes (%s)\n' "$flash" "$([ "$flash" -le 65536 ] && echo within budget || echo OVER budget)"
printf 'RAM (data+bss):    %6d of 16384 bytes, stack not included (%s)\n' "$ram" "$([ "$ram" -le 16384 ] && echo within budget || echo OVER budget)"
echo "largest symbols:"
"$bin/llvm-nm" --size-sort --radix=d -C "$elf" | tail -15
