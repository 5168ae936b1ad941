# Sourced by demo.sh and test.sh: the rig and the namespace tests need root.
# As root (a fresh machine is often a root shell without sudo) the script
# goes on; as another user it runs itself again through sudo, keeping the
# Rust toolchain the user has (sudo's secure_path would lose ~/.cargo/bin).
# Without sudo it says what to do and stops.
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        exec sudo env "PATH=$PATH" "CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}" \
            "RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}" bash "tools/$(basename "$0")" "$@"
    fi
    echo "$(basename "$0") needs root (network namespaces, loop devices) and there is no sudo: run it from a root shell" >&2
    exit 1
fi
