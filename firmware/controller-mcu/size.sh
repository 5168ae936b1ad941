#!/usr/bin/env bash
# Size report of the MCU firmware against the budget of a production part
# (64 KiB flash, 16 KiB RAM): text/data/bss of the `cargo fw` image, the
# stack's high-water mark measured under QEMU, and the largest symbols.
#
# The high-water mark is the firmware's own measure: cortex-m-rt paints the
# stack at reset (`paint-stack`) and the console's `status` says how much
# of the paint is gone. The QEMU test (tests/qemu.rs) asks for it after
# boot, placement, a fence, a takeover and a Describe, and again after a
# watchdog reset, and prints the larger. So this needs what that test
# needs: qemu-system-arm and defmt-print.
#
# RAM is data + bss + the measured stack; STACK_MARGIN bytes (default
# 1024) are kept free on top of it for the paths the test does not take
# (other console and agent commands, an interrupt on top of the deepest
# call, the watchdog's NMI on top of that).
set -euo pipefail
cd "$(dirname "$0")/../.."
target_dir=${CARGO_TARGET_DIR:-target}
margin=${STACK_MARGIN:-1024}
flash_budget=65536
ram_budget=16384

cargo fw >&2
elf=$target_dir/thumbv7em-none-eabihf/firmware/warden-controller-mcu
bin=$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin
"$bin/llvm-size" "$elf"
read -r text data bss < <("$bin/llvm-size" "$elf" | awk 'NR == 2 { print $1, $2, $3 }')

echo "measuring the stack under QEMU (cargo test -p warden-controller-mcu --test qemu)..." >&2
if ! out=$(cargo test -p warden-controller-mcu --test qemu fences_the_silent_holder -- --nocapture 2>&1); then
    printf '%s\n' "$out" >&2
    echo "size.sh: the QEMU test failed, so the stack was not measured" >&2
    exit 1
fi
line=$(grep -m1 '^firmware stack high-water: ' <<<"$out" || true)
stack=$(sed -n 's/^firmware stack high-water: \([0-9]*\) bytes.*/\1/p' <<<"$line")
if [ -z "$stack" ]; then
    echo "size.sh: the QEMU test printed no stack high-water mark" >&2
    exit 1
fi

flash=$((text + data))
ram=$((data + bss + stack))
left=$((ram_budget - ram))
verdict() { [ "$1" -le "$2" ] && echo "within budget" || echo "OVER budget"; }
printf 'flash (text+data):        %6d of %d bytes (%s)\n' "$flash" "$flash_budget" "$(verdict "$flash" "$flash_budget")"
printf 'RAM data+bss:             %6d bytes\n' "$((data + bss))"
printf 'stack high-water:         %6d bytes, measured under QEMU %s\n' "$stack" "${line#*bytes }"
printf 'RAM data+bss+stack:       %6d of %d bytes, %d left (%s)\n' "$ram" "$ram_budget" "$left" "$(verdict "$ram" "$ram_budget")"
printf 'stack margin kept:        %6d bytes (%s)\n' "$margin" "$([ "$left" -ge "$margin" ] && echo kept || echo NOT kept)"
echo "largest symbols:"
"$bin/llvm-nm" --size-sort --radix=d -C "$elf" | tail -15
# What LLVM keeps on the stack, function by function: the prologues'
# register pushes and `sub sp` (a call chain's frames add up; the measured
# high-water above is what the chains the test takes really used).
echo "largest stack frames (bytes, from the prologues):"
"$bin/llvm-objdump" -d --no-show-raw-insn -C "$elf" | awk '
    function number(s,   v, i) {
        if (s !~ /^0x/) return s + 0
        v = 0
        for (i = 3; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return v
    }
    /^[0-9a-f]+ </ { f = $0; sub(/^[0-9a-f]+ </, "", f); sub(/>:$/, "", f); next }
    /\tv?push(\.w)?\t/ {
        regs = $0; sub(/.*\{/, "", regs); sub(/\}.*/, "", regs)
        frame[f] += (split(regs, r, ",")) * ($0 ~ /\{d[0-9]/ ? 8 : 4)
    }
    /\tsub(\.w|w)?\tsp, (sp, )?#/ { n = $0; sub(/.*#/, "", n); frame[f] += number(tolower(n)) }
    END { for (f in frame) printf "%8d %s\n", frame[f], substr(f, 1, 100) }
' | sort -rn | head -12
