#!/usr/bin/env bash
# Builds Warden's Debian packages into target/debian/ and prints their paths:
# warden-agent, warden-controller and warden-tools (docs/packages.md).
# Installs what it needs (cargo-deb, dpkg-dev); running it again builds
# again only what changed.
#
#   bash tools/package.sh            # build the packages
#   bash tools/package.sh --check    # and check them: lintian, systemd-analyze
#                                    # verify, an install into a throwaway root
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/as-root.sh

say() { printf '\n== %s (%ds)\n' "$*" "$SECONDS"; }
die() { printf 'package.sh: %s\n' "$*" >&2; exit 1; }

check=false
case "${1:-}" in
    "") ;;
    --check) check=true ;;
    *) die "usage: bash tools/package.sh [--check]" ;;
esac

# Package, Cargo package, and the programs it installs: path:section.
packages=(warden-agent warden-controller warden-tools)
declare -A crate=([warden-agent]=warden-agent [warden-controller]=warden-controller-linux [warden-tools]=warden-tools)
declare -A programs=(
    [warden-agent]="/usr/sbin/warden-agent:8"
    [warden-controller]="/usr/sbin/warden-controller:8"
    [warden-tools]="/usr/sbin/wardenctl:8 /usr/sbin/fence_warden:8 /usr/bin/warden-frame:1"
)
units=(warden-agent.service warden-controller.service)

# command:package pairs, installed when the command is missing.
need_pkgs=()
pairs=(dpkg-shlibdeps:dpkg-dev strip:binutils)
$check && pairs+=(lintian:lintian systemd-analyze:systemd man:man-db unshare:util-linux)
for pair in "${pairs[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need_pkgs+=("${pair##*:}")
done
if ((${#need_pkgs[@]})); then
    say "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi
# The version the packaging was written against (its metadata keys and the
# maintainer scripts it writes for the units).
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked --version 3.8.0

target=$(cargo metadata --no-deps --format-version 1 | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[[ -n $target ]] || die "cannot tell cargo's target directory (cargo metadata)"

# The three packages only, in one build: features are unified over what one
# build selects, so these binaries carry no test-only feature (the workspace
# tests turn on warden-core's `flaws`).
say "release build of the packaged programs"
cargo build --release --locked -p warden-agent -p warden-controller-linux -p warden-tools \
    --bin warden-agent --bin warden-controller --bin wardenctl --bin fence_warden --bin warden-frame

say "manual pages and completions, from the programs themselves"
assets=$target/release/assets
rm -rf "$assets"
for package in "${packages[@]}"; do
    for program in ${programs[$package]}; do
        program=${program%:*}
        "$target/release/${program##*/}" --generate-assets "$assets" >/dev/null
    done
done
# Compressed as Debian wants manual pages (best, with no time stamp).
gzip -9n "$assets"/man/man*/*

say "packages"
debs=()
for package in "${packages[@]}"; do
    rm -f "$target/debian/${package}"_*.deb
    # Release builds keep line tables (`debug = 1`); the packages are stripped.
    deb=$(cargo deb -p "${crate[$package]}" --no-build --strip --quiet | tail -n 1)
    [[ -f $deb ]] || die "cargo deb -p ${crate[$package]} made no package (it said: $deb)"
    debs+=("$deb")
done

# The throwaway root: an overlay of this machine's own root in a private
# mount namespace (run through unshare), its writes on a tmpfs that goes
# with the namespace. dpkg --root checks the packages' dependencies against
# the real package database and runs their maintainer scripts chrooted
# there (which needs /bin/sh and deb-systemd-helper inside the root):
# nothing is forced, and nothing reaches this machine. Checked there: the
# files, the enabled units, systemd-analyze verify (whose ExecStart binaries
# and man: pages must exist), every program's --version and --help, the
# example files, and the purge.
throwaway_root() {
    local scratch=$1 root=$1/fs/root
    local packages=($2) units=($3) programs=($4)
    local entry path section name version help metadata status unit said
    die() { printf 'package.sh: throwaway root: %s\n' "$*" >&2; exit 1; }
    in_root() { chroot "$root" "$@"; }
    mkdir -p "$scratch/fs"
    mount -t tmpfs tmpfs "$scratch/fs"
    mkdir "$scratch/fs/upper" "$scratch/fs/work" "$root"
    mount -t overlay overlay -o "lowerdir=/,upperdir=$scratch/fs/upper,workdir=$scratch/fs/work" "$root" ||
        die "cannot mount an overlay of / (overlayfs in a mount namespace is needed)"
    # Devices and processes for the maintainer scripts and the programs; no
    # /run/systemd/system, so the scripts start nothing.
    mount --rbind /dev "$root/dev"
    mount --rbind /proc "$root/proc"

    dpkg --root="$root" --install "$scratch"/*.deb </dev/null || die "dpkg --root --install failed"
    for name in "${packages[@]}"; do
        status=$(dpkg-query --root="$root" -W -f '${db:Status-Status}' "$name")
        [[ $status == installed ]] || die "$name is '$status' after dpkg --install"
    done

    for entry in "${programs[@]}"; do
        path=${entry%:*} section=${entry##*:} name=${entry%:*}
        name=${name##*/}
        [[ -x $root$path ]] || die "$path is not installed"
        version=$(in_root "$path" --version) || die "$path --version failed"
        [[ $version == "$name "[0-9]* ]] || die "$path --version said '$version'"
        help=$(in_root "$path" --help) || die "$path --help failed"
        [[ -n $help ]] || die "$path --help said nothing"
        [[ -f $root/usr/share/man/man$section/$name.$section.gz ]] || die "no manual page $name($section)"
        in_root man -w "$section" "$name" >/dev/null || die "man finds no page $name($section)"
        [[ -f $root/usr/share/bash-completion/completions/$name ]] || die "no bash completion for $name"
        [[ -f $root/usr/share/zsh/vendor-completions/_$name ]] || die "no zsh completion for $name"
        [[ -f $root/usr/share/fish/vendor_completions.d/$name.fish ]] || die "no fish completion for $name"
        printf '%-28s %s\n' "$path" "$version"
    done
    metadata=$(in_root /usr/sbin/fence_warden -o metadata) || die "fence_warden -o metadata failed"
    [[ $metadata == *'<resource-agent name="fence_warden"'* ]] || die "fence_warden -o metadata wrote no metadata"

    # The examples are real configurations (the key file they name is made here).
    in_root /usr/sbin/warden-agent check --no-key-file --config /usr/share/doc/warden-agent/examples/cluster.toml ||
        die "warden-agent check refused the example cluster.toml"
    mkdir -p "$root/etc/warden"
    cp "$root"/usr/share/doc/warden-controller/examples/*.toml "$root/etc/warden/"
    head -c 32 /dev/urandom >"$root/etc/warden/cluster.key"
    chmod 600 "$root/etc/warden/cluster.key"
    in_root /usr/sbin/warden-agent check --config /etc/warden/cluster.toml ||
        die "warden-agent check refused the example cluster.toml with its key"
    in_root /usr/sbin/warden-controller --cluster /etc/warden/cluster.toml --controller /etc/warden/controller.toml \
        --check || die "warden-controller --check refused the example files"

    for unit in "${units[@]}"; do
        [[ -L $root/etc/systemd/system/multi-user.target.wants/$unit ]] || die "$unit was not enabled at install"
        # No systemd runs here: verify loads the unit on its own and checks
        # its directives, that ExecStart exists and that its man: page is
        # there. Anything it says (an unknown key is only a warning) fails.
        said=$(in_root systemd-analyze verify "/usr/lib/systemd/system/$unit" 2>&1) && [[ -z $said ]] ||
            die "systemd-analyze verify $unit: ${said:-failed}"
        echo "systemd-analyze verify $unit: ok"
    done

    dpkg --root="$root" --purge "${packages[@]}" </dev/null || die "dpkg --root --purge failed"
    for unit in "${units[@]}"; do
        [[ ! -e $root/etc/systemd/system/multi-user.target.wants/$unit ]] || die "$unit is still enabled after purge"
    done
    for entry in "${programs[@]}"; do
        [[ ! -e $root${entry%:*} ]] || die "${entry%:*} is still there after purge"
    done
    echo "installed, run, verified and purged"
}

if $check; then
    say "lintian"
    # Warnings fail the check like errors: each one left is fixed or
    # overridden with its reason (tools/debian/*.lintian-overrides).
    lintian --fail-on error,warning --display-info "${debs[@]}" || die "lintian refused a package (above)"
    echo "lintian: no error, no warning"

    say "install into a throwaway root"
    scratch=$(mktemp -d /tmp/warden-packages.XXXXXX)
    trap 'rm -rf "$scratch"' EXIT
    cp "${debs[@]}" "$scratch/"
    export -f throwaway_root
    unshare --mount --propagation private bash -euo pipefail -c 'throwaway_root "$@"' throwaway_root \
        "$scratch" "${packages[*]}" "${units[*]}" \
        "${programs[warden-agent]} ${programs[warden-controller]} ${programs[warden-tools]}" ||
        die "the throwaway-root checks failed (above)"
fi

say "built"
printf '%s\n' "${debs[@]}"
