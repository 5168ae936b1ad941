//! Shared disks: activate, check, mount; and on release, end the processes
//! that hold the filesystem, unmount, deactivate.
//!
//! A release that cannot finish (a holder that will not die, a submount, any
//! other `EBUSY`) is an [`ErrorKind::Busy`] error naming the mount point and
//! the holders: the controller then fences the node rather than let another
//! node mount a filesystem still in use here. Every wait is bounded, so a
//! release never hangs: at most three rounds of (`SIGTERM`, `kill_grace`,
//! `SIGKILL`, `kill_wait`, `umount`).

mod fsck;
mod holders;
mod mountinfo;
mod options;

pub use fsck::{
    is_ext, parse_ext_superblock, read_ext_state, ExtState, FsckPolicy, FsckReport, STATE_AT, SUPERBLOCK_OFFSET,
};
pub use holders::Holder;
pub use mountinfo::MountEntry;
pub use options::{parse as parse_options, MountOptions};

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags};
use nix::sys::signal::Signal;

use crate::drivers::process::Invocation;
use crate::resource::{ErrorKind, Presence, Resource, ResourceError};

/// How many times a release scans for holders, ends them and tries to unmount.
const RELEASE_ROUNDS: u32 = 3;

/// The parameters of a [`Disk`]. Build with [`DiskParams::new`] and change
/// the public fields as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskParams {
    /// The block device: a path (`/dev/vg0/data`), or `UUID=...` /
    /// `LABEL=...` (looked up in `/dev/disk/by-uuid` / `by-label`).
    pub device: String,
    /// Where to mount it: an absolute path to an existing directory, not `/`.
    pub mount_point: PathBuf,
    /// Filesystem type (`ext4`, `xfs`, ...).
    pub fstype: String,
    /// Mount options, `fstab` style (`noatime,errors=remount-ro`); default `defaults`.
    pub options: String,
    /// When to check it before mounting; default [`FsckPolicy::IfDirty`].
    pub fsck: FsckPolicy,
    /// A command run before anything else on start (e.g. `lvchange -aey
    /// vg0/data`, or taking a SCSI persistent reservation); default none.
    pub activate: Option<Vec<String>>,
    /// A command run after unmounting (e.g. `lvchange -an vg0/data`); default
    /// none. It also runs when stopping a disk that is not mounted, so it
    /// must succeed when there is nothing to deactivate.
    pub deactivate: Option<Vec<String>>,
    /// Deadline of the activation and deactivation commands; default 60 s.
    pub command_timeout: Duration,
    /// Deadline of the filesystem check; default 1 h.
    pub fsck_timeout: Duration,
    /// How long holders get between `SIGTERM` and `SIGKILL`; default 5 s.
    pub kill_grace: Duration,
    /// How long to wait for holders to be gone after `SIGKILL`; default 5 s.
    pub kill_wait: Duration,
}

impl DiskParams {
    /// `device` of type `fstype` on `mount_point`, with the defaults above.
    pub fn new(device: impl Into<String>, mount_point: impl Into<PathBuf>, fstype: impl Into<String>) -> Self {
        Self {
            device: device.into(),
            mount_point: mount_point.into(),
            fstype: fstype.into(),
            options: "defaults".to_owned(),
            fsck: FsckPolicy::IfDirty,
            activate: None,
            deactivate: None,
            command_timeout: Duration::from_secs(60),
            fsck_timeout: Duration::from_secs(3600),
            kill_grace: Duration::from_secs(5),
            kill_wait: Duration::from_secs(5),
        }
    }
}

/// A filesystem on a shared disk. See the module documentation.
///
/// * `start`: run the activation command, check the device exists and the
///   mount point is free, apply the fsck policy, mount.
/// * `stop`: end the holders, unmount, run the deactivation command.
/// * `probe`: [`Presence::Active`] when the device is mounted on the mount
///   point (per `/proc/self/mountinfo`, matching the device number or the
///   resolved source path), [`Presence::Unknown`] when it is mounted
///   somewhere else, [`Presence::Inactive`] otherwise.
#[derive(Debug, Clone)]
pub struct Disk {
    params: DiskParams,
    options: MountOptions,
    last_fsck: Option<FsckReport>,
}

/// Where the device stands in the mount table.
#[derive(Debug, Default)]
struct Located {
    /// The device on the mount point.
    ours: Option<MountEntry>,
    /// The device mounted somewhere else.
    elsewhere: Option<MountEntry>,
    /// Something else on the mount point.
    other: Option<MountEntry>,
    /// Mounts below the mount point.
    submounts: Vec<MountEntry>,
}

fn config(message: String) -> ResourceError {
    ResourceError::new(ErrorKind::Config, message)
}

fn check_argv(argv: Option<&Vec<String>>, what: &str) -> Result<(), ResourceError> {
    match argv {
        Some(argv) if argv.first().is_none_or(String::is_empty) => Err(config(format!("{what} command is empty"))),
        Some(argv) if argv.iter().any(|a| a.contains('\0')) => {
            Err(config(format!("{what} command contains a NUL byte")))
        }
        _ => Ok(()),
    }
}

impl Disk {
    /// A disk from its parameters.
    ///
    /// Errors ([`ErrorKind::Config`]): an empty device; a mount point that is
    /// relative or `/`; an empty fstype or one with `,` or whitespace; an
    /// empty activation/deactivation command; a zero command or fsck timeout.
    pub fn new(params: DiskParams) -> Result<Self, ResourceError> {
        let name = format!("disk {} on {}", params.device, params.mount_point.display());
        if params.device.is_empty() || params.device.contains('\0') {
            return Err(config(format!("{name}: device is empty or has a NUL byte")));
        }
        if !params.mount_point.is_absolute() || params.mount_point.parent().is_none() {
            return Err(config(format!("{name}: mount point must be an absolute path other than /")));
        }
        if params.fstype.is_empty() || params.fstype.contains(|c: char| c == ',' || c.is_whitespace() || c == '\0') {
            return Err(config(format!("{name}: filesystem type {:?} is not valid", params.fstype)));
        }
        check_argv(params.activate.as_ref(), &format!("{name}: activation"))?;
        check_argv(params.deactivate.as_ref(), &format!("{name}: deactivation"))?;
        if params.command_timeout.is_zero() || params.fsck_timeout.is_zero() {
            return Err(config(format!("{name}: command and fsck timeouts must be above zero")));
        }
        if params.options.contains('\0') {
            return Err(config(format!("{name}: mount options contain a NUL byte")));
        }
        let options = options::parse(&params.options);
        Ok(Self { params, options, last_fsck: None })
    }

    /// The parameters it was built from.
    pub fn params(&self) -> &DiskParams {
        &self.params
    }

    /// What the filesystem check did before the last mount (`None` before
    /// the first). `reboot_advised` there is worth an alert.
    pub fn last_fsck(&self) -> Option<&FsckReport> {
        self.last_fsck.as_ref()
    }

    /// The device path, `UUID=`/`LABEL=` resolved.
    pub fn device_path(&self) -> PathBuf {
        let device = &self.params.device;
        if let Some(uuid) = device.strip_prefix("UUID=") {
            PathBuf::from("/dev/disk/by-uuid").join(uuid)
        } else if let Some(label) = device.strip_prefix("LABEL=") {
            PathBuf::from("/dev/disk/by-label").join(label)
        } else {
            PathBuf::from(device)
        }
    }

    /// The processes that hold the mounted filesystem now (empty when it is
    /// not mounted on the mount point).
    pub fn holders(&self) -> Result<Vec<Holder>, ResourceError> {
        let located = self.locate()?;
        Ok(match located.ours {
            Some(entry) => holders::find(&self.mount_point(), (entry.major, entry.minor)),
            None => Vec::new(),
        })
    }

    fn mount_point(&self) -> PathBuf {
        std::fs::canonicalize(&self.params.mount_point).unwrap_or_else(|_| self.params.mount_point.clone())
    }

    fn locate(&self) -> Result<Located, ResourceError> {
        let mounts = mountinfo::read().map_err(|e| {
            ResourceError::new(ErrorKind::Failed, format!("{}: cannot read /proc/self/mountinfo: {e}", self.describe()))
        })?;
        let device = self.device_path();
        let canonical_device = std::fs::canonicalize(&device).ok();
        let number = std::fs::metadata(&device)
            .ok()
            .filter(|m| m.file_type().is_block_device())
            .map(|m| (nix::sys::stat::major(m.rdev()), nix::sys::stat::minor(m.rdev())));
        let is_ours = |entry: &MountEntry| {
            number.is_some_and(|(major, minor)| u64::from(entry.major) == major && u64::from(entry.minor) == minor)
                || Path::new(&entry.source) == device
                || canonical_device
                    .as_ref()
                    .is_some_and(|c| std::fs::canonicalize(&entry.source).ok().as_ref() == Some(c))
        };
        let mount_point = self.mount_point();
        let mut located = Located::default();
        for entry in mounts {
            let here = entry.mount_point == mount_point;
            if here && is_ours(&entry) {
                located.ours = Some(entry);
            } else if here {
                located.other = Some(entry);
            } else if entry.mount_point.starts_with(&mount_point) {
                located.submounts.push(entry);
            } else if is_ours(&entry) {
                located.elsewhere = Some(entry);
            }
        }
        Ok(located)
    }

    fn run_command(&self, argv: Option<&Vec<String>>, step: &str) -> Result<(), ResourceError> {
        let Some(invocation) = argv.and_then(|a| Invocation::from_argv(a)) else {
            return Ok(());
        };
        let what = format!("{} {step} command `{}`", self.describe(), argv.map(|a| a.join(" ")).unwrap_or_default());
        let exit = invocation.timeout(self.params.command_timeout).run(&what)?;
        if exit.success() {
            Ok(())
        } else {
            Err(ResourceError::new(
                ErrorKind::Failed,
                format!("{what} failed: {}{}", exit.describe(), exit.output_suffix()),
            ))
        }
    }

    fn mount_activated(&mut self, located: &Located) -> Result<(), ResourceError> {
        let device = self.device_path();
        let name = self.describe();
        match std::fs::metadata(&device) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ResourceError::new(
                    ErrorKind::NotInstalled,
                    format!("{name}: device {} does not exist", device.display()),
                ));
            }
            Err(e) => {
                return Err(ResourceError::new(ErrorKind::Failed, format!("{name}: device {}: {e}", device.display())))
            }
        }
        if !self.params.mount_point.is_dir() {
            return Err(config(format!(
                "{name}: mount point {} is not a directory",
                self.params.mount_point.display()
            )));
        }
        if let Some(other) = &located.other {
            return Err(ResourceError::new(
                ErrorKind::Busy,
                format!(
                    "{name}: {} ({}) is already mounted on {}",
                    other.source,
                    other.fstype,
                    other.mount_point.display()
                ),
            ));
        }
        let report = fsck::check(self.params.fsck, &device, &self.params.fstype, self.params.fsck_timeout).map_err(
            |mut e| {
                e.message = format!("{name}: {}", e.message);
                e
            },
        )?;
        self.last_fsck = Some(report);
        let data = (!self.options.data.is_empty()).then_some(self.options.data.as_str());
        mount(Some(&device), &self.params.mount_point, Some(self.params.fstype.as_str()), self.options.flags, data)
            .map_err(|errno| {
                let kind = match errno {
                    Errno::EPERM | Errno::EACCES => ErrorKind::Permission,
                    Errno::ENODEV | Errno::ENOENT | Errno::ENXIO => ErrorKind::NotInstalled,
                    Errno::EBUSY => ErrorKind::Busy,
                    Errno::EINVAL => ErrorKind::Config,
                    _ => ErrorKind::Failed,
                };
                ResourceError::new(
                    kind,
                    format!(
                        "{name}: mount -t {} -o {} failed: {}",
                        self.params.fstype,
                        self.params.options,
                        errno.desc()
                    ),
                )
            })?;
        if self.locate()?.ours.is_none() {
            return Err(ResourceError::new(
                ErrorKind::Failed,
                format!("{name}: mounted, yet not found in /proc/self/mountinfo"),
            ));
        }
        Ok(())
    }

    /// Ends the holders and unmounts, in bounded rounds.
    fn release(&self, entry: &MountEntry) -> Result<(), ResourceError> {
        let name = self.describe();
        let mount_point = self.mount_point();
        let dev = (entry.major, entry.minor);
        let busy = |holders: &[Holder], why: &str| {
            let located = self.locate().unwrap_or_default();
            let submounts: Vec<String> =
                located.submounts.iter().map(|m| m.mount_point.display().to_string()).collect();
            let pids: Vec<String> = holders.iter().map(Holder::describe).collect();
            ResourceError::new(
                ErrorKind::Busy,
                format!(
                    "{name}: cannot unmount {}: {why}; holders: [{}]; submounts: [{}]",
                    mount_point.display(),
                    pids.join(", "),
                    submounts.join(", ")
                ),
            )
        };
        for _ in 0..RELEASE_ROUNDS {
            let found = holders::find(&mount_point, dev);
            if !found.is_empty() {
                holders::signal(&found, Signal::SIGTERM);
                let survivors = holders::wait_gone(&found, self.params.kill_grace);
                holders::signal(&survivors, Signal::SIGKILL);
                let survivors = holders::wait_gone(&survivors, self.params.kill_wait);
                if !survivors.is_empty() {
                    return Err(busy(&survivors, "holders still alive after SIGKILL"));
                }
            }
            match umount2(&mount_point, MntFlags::empty()) {
                Ok(()) => return Ok(()),
                Err(Errno::EINVAL) if self.locate()?.ours.is_none() => return Ok(()),
                Err(Errno::EBUSY) => {
                    // New holders may have come in since the scan: try again,
                    // unless nothing we could end holds it.
                    let again = holders::find(&mount_point, dev);
                    if again.is_empty() {
                        return Err(busy(&again, "umount: device busy, and no process holding it was found"));
                    }
                }
                Err(Errno::EPERM) => {
                    return Err(ResourceError::new(
                        ErrorKind::Permission,
                        format!("{name}: umount {} not permitted", mount_point.display()),
                    ));
                }
                Err(errno) => {
                    return Err(ResourceError::new(
                        ErrorKind::Failed,
                        format!("{name}: umount {} failed: {}", mount_point.display(), errno.desc()),
                    ));
                }
            }
        }
        let left = holders::find(&mount_point, dev);
        Err(busy(&left, &format!("still busy after {RELEASE_ROUNDS} rounds")))
    }
}

impl Resource for Disk {
    fn describe(&self) -> String {
        format!("disk {} on {}", self.params.device, self.params.mount_point.display())
    }

    fn start(&mut self) -> Result<(), ResourceError> {
        let located = self.locate()?;
        if located.ours.is_some() {
            return Ok(());
        }
        if let Some(elsewhere) = &located.elsewhere {
            return Err(ResourceError::new(
                ErrorKind::Busy,
                format!("{}: the device is already mounted on {}", self.describe(), elsewhere.mount_point.display()),
            ));
        }
        self.run_command(self.params.activate.as_ref(), "activation")?;
        let mounted = self.mount_activated(&located);
        if mounted.is_err() && self.params.activate.is_some() {
            // Leave it as found: an activated but unmounted disk would keep
            // a reservation this node does not use.
            let _ = self.run_command(self.params.deactivate.as_ref(), "deactivation");
        }
        mounted
    }

    fn stop(&mut self) -> Result<(), ResourceError> {
        let located = self.locate()?;
        if let Some(entry) = &located.ours {
            self.release(entry)?;
        } else if let Some(elsewhere) = &located.elsewhere {
            return Err(ResourceError::new(
                ErrorKind::Busy,
                format!(
                    "{}: the device is mounted on {}, not on its mount point; not releasing it",
                    self.describe(),
                    elsewhere.mount_point.display()
                ),
            ));
        }
        self.run_command(self.params.deactivate.as_ref(), "deactivation")
    }

    fn probe(&mut self) -> Result<Presence, ResourceError> {
        let located = self.locate()?;
        Ok(if located.ours.is_some() {
            Presence::Active
        } else if located.elsewhere.is_some() {
            Presence::Unknown
        } else {
            Presence::Inactive
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters_are_refused() {
        let good = DiskParams::new("/dev/sdb1", "/srv/data", "ext4");
        assert!(Disk::new(good.clone()).is_ok());
        let cases = [
            DiskParams { mount_point: "/".into(), ..good.clone() },
            DiskParams { mount_point: "srv".into(), ..good.clone() },
            DiskParams { device: String::new(), ..good.clone() },
            DiskParams { fstype: "ext4,ro".into(), ..good.clone() },
            DiskParams { activate: Some(vec![]), ..good.clone() },
            DiskParams { command_timeout: Duration::ZERO, ..good.clone() },
        ];
        for params in cases {
            let err = Disk::new(params.clone()).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Config, "{params:?}");
        }
    }

    #[test]
    fn uuid_and_label_resolve_under_dev_disk() {
        let disk = Disk::new(DiskParams::new("UUID=1234-abcd", "/srv/data", "ext4")).unwrap();
        assert_eq!(disk.device_path(), PathBuf::from("/dev/disk/by-uuid/1234-abcd"));
        let disk = Disk::new(DiskParams::new("LABEL=data", "/srv/data", "ext4")).unwrap();
        assert_eq!(disk.device_path(), PathBuf::from("/dev/disk/by-label/data"));
    }
}
