//! Mount options: the `fstab`-style string split into flags for `mount(2)`
//! and the filesystem-specific data string.

use nix::mount::MsFlags;

/// Options as `mount(2)` takes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// The generic flags (`ro`, `nosuid`, `noatime`, ...).
    pub flags: MsFlags,
    /// The rest, comma-separated, for the filesystem (`errors=remount-ro`, ...).
    pub data: String,
}

/// Options that only mean something to `mount(8)` or `fstab` and are
/// dropped (`defaults` is the empty set of changes).
const FSTAB_ONLY: [&str; 10] =
    ["defaults", "auto", "noauto", "nofail", "_netdev", "user", "nouser", "users", "owner", "group"];

/// Splits `rw,noatime,errors=remount-ro` into flags and data. Empty items
/// are ignored; options that only `fstab` understands (`defaults`,
/// `noauto`, `nofail`, `_netdev`, `x-*`, `comment=*`, ...) are dropped;
/// anything else is passed to the filesystem, which rejects what it does not
/// know when mounting.
pub fn parse(options: &str) -> MountOptions {
    let mut flags = MsFlags::empty();
    let mut data: Vec<&str> = Vec::new();
    for option in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let (set, clear) = match option {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "lazytime" => (MsFlags::MS_LAZYTIME, MsFlags::empty()),
            "nolazytime" => (MsFlags::empty(), MsFlags::MS_LAZYTIME),
            "silent" => (MsFlags::MS_SILENT, MsFlags::empty()),
            "loud" => (MsFlags::empty(), MsFlags::MS_SILENT),
            _ if FSTAB_ONLY.contains(&option) || option.starts_with("x-") || option.starts_with("comment=") => {
                continue;
            }
            _ => {
                data.push(option);
                continue;
            }
        };
        flags.insert(set);
        flags.remove(clear);
    }
    MountOptions { flags, data: data.join(",") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_flags_from_data() {
        let parsed = parse("defaults,ro,noatime,,errors=remount-ro,nofail,x-systemd.automount,data=ordered");
        assert_eq!(parsed.flags, MsFlags::MS_RDONLY | MsFlags::MS_NOATIME);
        assert_eq!(parsed.data, "errors=remount-ro,data=ordered");
    }

    #[test]
    fn later_options_win() {
        assert_eq!(parse("ro,rw").flags, MsFlags::empty());
        assert_eq!(parse("rw,ro").flags, MsFlags::MS_RDONLY);
        assert_eq!(parse("").data, "");
    }
}
