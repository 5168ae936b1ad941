//! `/proc/self/mountinfo`: what is mounted where.

use std::path::PathBuf;

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Mount id.
    pub id: u32,
    /// Major number of the filesystem's device (`st_dev`).
    pub major: u32,
    /// Minor number of the filesystem's device.
    pub minor: u32,
    /// The directory it is mounted on.
    pub mount_point: PathBuf,
    /// Filesystem type.
    pub fstype: String,
    /// The mount source (usually the device path).
    pub source: String,
}

/// Undoes the octal escapes the kernel writes for space, tab, newline and
/// backslash (`\040`, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> Vec<u8> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' {
            if let Some(octal) = bytes.get(i + 1..i + 4) {
                if octal.iter().all(|d| (b'0'..=b'7').contains(d)) {
                    let value = octal.iter().fold(0_u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                    if let Ok(byte) = u8::try_from(value) {
                        out.push(byte);
                        i += 4;
                        continue;
                    }
                }
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Parses one line; `None` for a malformed one.
pub(super) fn parse_line(line: &str) -> Option<MountEntry> {
    use std::os::unix::ffi::OsStringExt;
    let fields: Vec<&str> = line.split(' ').collect();
    let id = fields.first()?.parse().ok()?;
    let (major, minor) = fields.get(2)?.split_once(':')?;
    let mount_point = PathBuf::from(std::ffi::OsString::from_vec(unescape(fields.get(4)?)));
    // Optional fields run until a lone "-".
    let dash = fields.iter().skip(6).position(|f| *f == "-")? + 6;
    let fstype = unescape(fields.get(dash + 1)?);
    let source = unescape(fields.get(dash + 2)?);
    Some(MountEntry {
        id,
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        mount_point,
        fstype: String::from_utf8_lossy(&fstype).into_owned(),
        source: String::from_utf8_lossy(&source).into_owned(),
    })
}

/// All mounts of the agent's mount namespace, in mount order (a later entry
/// on the same mount point is stacked over an earlier one).
pub(super) fn read() -> std::io::Result<Vec<MountEntry>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(text.lines().filter_map(parse_line).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_line_with_escapes_and_optional_fields() {
        let line = "36 35 7:3 / /mnt/my\\040data rw,noatime master:1 shared:7 - ext4 /dev/loop3 rw,errors=remount-ro";
        let entry = parse_line(line).unwrap();
        assert_eq!(entry.id, 36);
        assert_eq!((entry.major, entry.minor), (7, 3));
        assert_eq!(entry.mount_point, PathBuf::from("/mnt/my data"));
        assert_eq!(entry.fstype, "ext4");
        assert_eq!(entry.source, "/dev/loop3");
    }

    #[test]
    fn malformed_lines_are_skipped() {
        assert_eq!(parse_line(""), None);
        assert_eq!(parse_line("36 35 7:3 / /mnt rw"), None);
        assert_eq!(parse_line("x 35 7:3 / /mnt rw - ext4 /dev/x rw"), None);
    }

    #[test]
    fn reads_our_own_mounts() {
        let mounts = read().unwrap();
        assert!(mounts.iter().any(|m| m.mount_point == std::path::Path::new("/")));
    }
}
