//! `kind = "disk"`: a filesystem on a shared disk, how it is checked and
//! mounted, and the commands around it.

use std::path::{Component, Path};
use std::time::Duration;

use super::{Checked, Claims, Table};
use crate::error::Problem;
use crate::model::{DiskConfig, Fsck};
use crate::raw::RawDisk;
use crate::validate::value::{absolute, argv, min_duration};

pub(super) fn check(r: &RawDisk, table: &Table, claims: &mut Claims<'_>) -> Checked<DiskConfig> {
    let dev = table.required(&r.device, "device")?;
    let device = dev.get_ref().clone();
    let tagged = ["UUID=", "LABEL="].iter().any(|p| device.strip_prefix(p).is_some_and(|v| !v.is_empty()));
    if !(tagged || (device.starts_with('/') && device.len() > 1)) {
        return Err(Problem::at(
            dev.span(),
            format!("`{device}` is not an absolute device path, UUID=... or LABEL=..."),
        ));
    }
    let mp = table.required(&r.mountpoint, "mountpoint")?;
    let mountpoint = absolute(mp)?;
    if mountpoint == Path::new("/") {
        return Err(Problem::at(mp.span(), "the root directory cannot be a shared disk's mount point"));
    }
    if mountpoint.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(Problem::at(mp.span(), format!("`{}` contains `..`", mountpoint.display())));
    }
    let ft = table.required(&r.fstype, "fstype")?;
    let fstype = ft.get_ref().clone();
    if fstype.is_empty() || !fstype.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        return Err(Problem::at(ft.span(), format!("`{fstype}` is not a filesystem type (ext4, xfs, ...)")));
    }
    let options = match &r.options {
        None => "defaults".to_owned(),
        Some(o) => {
            let v = o.get_ref();
            if v.is_empty() || v.chars().any(char::is_whitespace) {
                return Err(Problem::at(
                    o.span(),
                    "mount options are one comma-separated word (noatime,errors=remount-ro)",
                ));
            }
            v.clone()
        }
    };
    let fsck = match &r.fsck {
        None => Fsck::IfDirty,
        Some(f) => match f.get_ref().as_str() {
            "never" => Fsck::Never,
            "if-dirty" => Fsck::IfDirty,
            "always" => Fsck::Always,
            other => {
                return Err(Problem::at(
                    f.span(),
                    format!("unknown fsck policy `{other}` (known: never, if-dirty, always)"),
                ))
            }
        },
    };
    let disk = DiskConfig {
        device,
        mountpoint,
        fstype,
        options,
        fsck,
        activate: r.activate.as_ref().map(argv).transpose()?,
        deactivate: r.deactivate.as_ref().map(argv).transpose()?,
        kill_grace: r.kill_grace.as_ref().map_or(Duration::from_secs(5), |d| d.get_ref().std()),
        timeout: r.timeout.as_ref().map_or(Ok(Duration::from_secs(60)), |d| min_duration(d, 1))?,
        fsck_timeout: r.fsck_timeout.as_ref().map_or(Ok(Duration::from_secs(3600)), |d| min_duration(d, 1))?,
    };
    claims.mountpoint(&disk.mountpoint, mp.span())?;
    Ok(disk)
}
