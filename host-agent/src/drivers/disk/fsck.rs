//! Checking a filesystem before it is mounted.

use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use crate::drivers::process::Invocation;
use crate::resource::{ErrorKind, ResourceError};

/// When to check the filesystem before mounting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsckPolicy {
    /// Never.
    Never,
    /// Only when the superblock says it was not cleanly unmounted or has
    /// errors (ext2/3/4; other types are not checked). A journal to replay
    /// alone, the state an ext3/4 holder leaves when it loses power, is
    /// replayed by the kernel at mount, as Pacemaker's Filesystem agent
    /// leaves it.
    IfDirty,
    /// Every time (`e2fsck -p` for ext2/3/4, `fsck -p -t TYPE` otherwise).
    Always,
}

impl FromStr for FsckPolicy {
    type Err = ResourceError;

    /// `never`, `if-dirty` or `always`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "never" => Ok(Self::Never),
            "if-dirty" => Ok(Self::IfDirty),
            "always" => Ok(Self::Always),
            _ => Err(ResourceError::new(
                ErrorKind::Config,
                format!("fsck policy {s:?} is not one of never, if-dirty, always"),
            )),
        }
    }
}

impl fmt::Display for FsckPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Never => "never",
            Self::IfDirty => "if-dirty",
            Self::Always => "always",
        })
    }
}

/// What the check before the last mount did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsckReport {
    /// Whether a checker ran.
    pub ran: bool,
    /// Why it ran or did not (`superblock state 0x0000 (not clean)`, `clean`, `policy never`).
    pub reason: String,
    /// The checker's exit code, when it ran.
    pub exit_code: Option<i32>,
    /// Exit code 2: errors were corrected and the checker advises a reboot.
    /// The mount went ahead; this is for the operator.
    pub reboot_advised: bool,
    /// The end of the checker's output.
    pub output: String,
}

/// The state fields of an ext2/3/4 superblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtState {
    /// `s_state`: bit 0 "valid" (cleanly unmounted), bit 1 "errors", bit 2 "orphans".
    pub state: u16,
    /// `s_feature_incompat` has `needs_recovery` (a journal to replay).
    pub needs_recovery: bool,
}

impl ExtState {
    /// Whether a check is due: not cleanly unmounted, errors recorded,
    /// orphans being recovered, or a journal to replay.
    pub fn is_dirty(&self) -> bool {
        self.needs_check() || self.needs_recovery
    }

    /// Whether `if-dirty` checks it: not cleanly unmounted, errors
    /// recorded, or orphans being recovered (a journal to replay is the
    /// kernel's to replay).
    pub fn needs_check(&self) -> bool {
        self.state & 0x0001 == 0 || self.state & 0x0006 != 0
    }
}

/// Where the ext superblock starts on the device.
pub const SUPERBLOCK_OFFSET: u64 = 1024;
/// Offset of `s_magic` in the superblock.
const MAGIC_AT: usize = 0x38;
/// Offset of `s_state` in the superblock.
pub const STATE_AT: usize = 0x3A;
/// Offset of `s_feature_incompat` in the superblock.
const INCOMPAT_AT: usize = 0x60;
const EXT_MAGIC: u16 = 0xEF53;
const INCOMPAT_RECOVER: u32 = 0x0004;

/// Reads the state fields from superblock bytes (starting at the
/// superblock); `None` when the bytes are too short or lack the ext magic.
pub fn parse_ext_superblock(superblock: &[u8]) -> Option<ExtState> {
    let u16_at = |at: usize| superblock.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| superblock.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if u16_at(MAGIC_AT)? != EXT_MAGIC {
        return None;
    }
    Some(ExtState { state: u16_at(STATE_AT)?, needs_recovery: u32_at(INCOMPAT_AT)? & INCOMPAT_RECOVER != 0 })
}

/// Reads the ext superblock of `device`.
pub fn read_ext_state(device: &Path) -> Result<ExtState, ResourceError> {
    let file = File::open(device).map_err(|e| {
        ResourceError::new(ErrorKind::Failed, format!("cannot read the superblock of {}: {e}", device.display()))
    })?;
    let mut superblock = [0_u8; 1024];
    file.read_exact_at(&mut superblock, SUPERBLOCK_OFFSET).map_err(|e| {
        ResourceError::new(ErrorKind::Failed, format!("cannot read the superblock of {}: {e}", device.display()))
    })?;
    parse_ext_superblock(&superblock).ok_or_else(|| {
        ResourceError::new(ErrorKind::Config, format!("{} has no ext2/3/4 superblock", device.display()))
    })
}

/// Whether `fstype` is one `e2fsck` checks.
pub fn is_ext(fstype: &str) -> bool {
    matches!(fstype, "ext2" | "ext3" | "ext4")
}

/// Applies the policy to `device` before it is mounted.
///
/// Exit codes of the checker: 0 and 1 (errors corrected) are fine, 2 is fine
/// but advises a reboot (reported in [`FsckReport::reboot_advised`]), any
/// code with a bit above those (4 uncorrected errors, 8 operational error,
/// 16 usage, 32 cancelled, 128 library error) fails the start.
pub(super) fn check(
    policy: FsckPolicy,
    device: &Path,
    fstype: &str,
    timeout: Duration,
) -> Result<FsckReport, ResourceError> {
    let skipped = |reason: String| FsckReport {
        ran: false,
        reason,
        exit_code: None,
        reboot_advised: false,
        output: String::new(),
    };
    let (invocation, reason) = match policy {
        FsckPolicy::Never => return Ok(skipped("policy never".to_owned())),
        FsckPolicy::IfDirty if !is_ext(fstype) => {
            return Ok(skipped(format!("if-dirty does not check {fstype}; the kernel replays its journal")));
        }
        FsckPolicy::IfDirty => {
            let state = read_ext_state(device)?;
            if !state.needs_check() {
                return Ok(skipped(if state.needs_recovery {
                    format!(
                        "clean with a journal to replay (superblock state {:#06x}): the kernel replays it at mount",
                        state.state
                    )
                } else {
                    format!("clean (superblock state {:#06x})", state.state)
                }));
            }
            let reason = format!(
                "dirty (superblock state {:#06x}{})",
                state.state,
                if state.needs_recovery { ", journal needs recovery" } else { "" }
            );
            (Invocation::new("e2fsck").arg("-p").arg(device), reason)
        }
        FsckPolicy::Always if is_ext(fstype) => {
            (Invocation::new("e2fsck").arg("-p").arg(device), "policy always".to_owned())
        }
        FsckPolicy::Always => {
            (Invocation::new("fsck").arg("-p").arg("-t").arg(fstype).arg(device), "policy always".to_owned())
        }
    };
    let what = format!("{} -p {} ({reason})", invocation.program().display(), device.display());
    let exit = invocation.timeout(timeout).run(&what).map_err(|mut e| {
        if e.kind == ErrorKind::NotInstalled {
            e.message.push_str(" (install e2fsprogs)");
        }
        e
    })?;
    match exit.code {
        Some(code @ 0..=3) => Ok(FsckReport {
            ran: true,
            reason,
            exit_code: Some(code),
            reboot_advised: code & 2 != 0,
            output: exit.output,
        }),
        _ => Err(ResourceError::new(
            ErrorKind::Failed,
            format!("{what} failed: {}{}", exit.describe(), exit.output_suffix()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn superblock(state: u16, incompat: u32) -> Vec<u8> {
        let mut sb = vec![0_u8; 1024];
        sb[MAGIC_AT..MAGIC_AT + 2].copy_from_slice(&EXT_MAGIC.to_le_bytes());
        sb[STATE_AT..STATE_AT + 2].copy_from_slice(&state.to_le_bytes());
        sb[INCOMPAT_AT..INCOMPAT_AT + 4].copy_from_slice(&incompat.to_le_bytes());
        sb
    }

    #[test]
    fn reads_the_state() {
        assert!(!parse_ext_superblock(&superblock(1, 0x2c2)).unwrap().is_dirty());
        assert!(parse_ext_superblock(&superblock(0, 0)).unwrap().is_dirty());
        assert!(parse_ext_superblock(&superblock(3, 0)).unwrap().is_dirty());
        assert!(parse_ext_superblock(&superblock(1, INCOMPAT_RECOVER)).unwrap().is_dirty());
        assert_eq!(parse_ext_superblock(&[0_u8; 1024]), None);
        assert_eq!(parse_ext_superblock(&[0_u8; 10]), None);
    }

    #[test]
    fn policies_parse() {
        assert_eq!("if-dirty".parse::<FsckPolicy>().unwrap(), FsckPolicy::IfDirty);
        assert_eq!("sometimes".parse::<FsckPolicy>().unwrap_err().kind, ErrorKind::Config);
        assert_eq!(FsckPolicy::Always.to_string(), "always");
    }
}
