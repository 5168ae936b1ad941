//! A group's shared disk: an ext4 image on a loop device that every server
//! sees (as a SAN LUN would be), created by the rig and detached when
//! dropped.
//!
//! A power loss cuts the disk at the same instant as the CPU: the rig shuts
//! the filesystem down without flushing its journal (the ext4 shutdown
//! ioctl `EXT4_IOC_SHUTDOWN` with `NOLOGFLUSH`, as fstests simulate a crash), so
//! what was not on the device stays lost and the next holder replays the
//! journal, exactly as after a real power cut. Only then are the server's
//! processes killed (tearing the mount down cannot flush anything then).

use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use nix::sys::stat::{major, minor};
use nix::unistd::Pid;

use crate::host::tools;
use crate::RigError;

/// The size of the image.
const SIZE_MB: u64 = 64;

/// Where a run keeps the disk image of group `index` named `group`:
/// `/dev/shm/<prefix>.img` (the first group's) or `<prefix>-<group>.img`
/// when that is a tmpfs (an fsync then costs what a SAN's write cache
/// would, not what the build machine's own disk does), else the run
/// directory.
#[must_use]
pub fn image_path(prefix: &crate::host::prefix::Prefix, run_dir: &Path, index: usize, group: &str) -> PathBuf {
    let shm = Path::new(SHM);
    let tmpfs = nix::sys::statfs::statfs(shm).is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC);
    match (tmpfs, index) {
        (true, 0) => shm.join(format!("{prefix}.img")),
        (true, _) => shm.join(format!("{prefix}-{group}.img")),
        (false, _) => run_dir.join(format!("disk-{group}.img")),
    }
}

/// The shared-memory filesystem.
pub const SHM: &str = "/dev/shm";

/// The shared disk.
#[derive(Debug)]
pub struct Disk {
    image: PathBuf,
    device: PathBuf,
    /// `major:minor` as mountinfo shows it.
    dev: String,
    mountpoint: PathBuf,
}

impl Disk {
    /// Makes an ext4 image at `image` labelled `label`, attaches it to a
    /// loop device, and creates `mountpoint` (where servers mount it).
    ///
    /// # Errors
    ///
    /// [`RigError`] naming the file or command that failed.
    pub fn create(image: &Path, label: &str, mountpoint: &Path) -> Result<Self, RigError> {
        let file = std::fs::File::create(image).map_err(RigError::io(format!("creating {}", image.display())))?;
        file.set_len(SIZE_MB << 20).map_err(RigError::io(format!("sizing {}", image.display())))?;
        drop(file);
        tools::run(tools::command("mkfs.ext4").args(["-q", "-F", "-L", label]).arg(image))?;
        let device = tools::run(tools::command("losetup").args(["--find", "--show"]).arg(image))?;
        let device = PathBuf::from(device.trim());
        let mut disk = Self { image: image.to_owned(), device, dev: String::new(), mountpoint: mountpoint.to_owned() };
        let meta =
            std::fs::metadata(&disk.device).map_err(RigError::io(format!("reading {}", disk.device.display())))?;
        disk.dev = format!("{}:{}", major(meta.rdev()), minor(meta.rdev()));
        std::fs::create_dir_all(mountpoint).map_err(RigError::io(format!("creating {}", mountpoint.display())))?;
        Ok(disk)
    }

    /// The loop device.
    #[must_use]
    pub fn device(&self) -> &Path {
        &self.device
    }

    /// Where servers mount it.
    #[must_use]
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Whether it is mounted in the mount namespace of process `pid`.
    #[must_use]
    pub fn mounted_for(&self, pid: Pid) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
            .is_ok_and(|text| text.lines().any(|l| l.split(' ').nth(2) == Some(self.dev.as_str())))
    }

    /// Cuts the filesystem mounted in `pid`'s mount namespace off its
    /// device, journal unflushed: every later write fails, nothing more
    /// reaches the disk.
    ///
    /// # Errors
    ///
    /// [`RigError::Os`] when the mount point cannot be opened or the
    /// kernel refuses the shutdown.
    #[allow(unsafe_code)] // one ioctl, its argument checked below
    pub fn cut_for(&self, pid: Pid) -> Result<(), RigError> {
        // linux/fs.h: FS_IOC_SHUTDOWN _IOR('X', 125, __u32), the flag
        // FS_SHUTDOWN_FLAGS_NOLOGFLUSH (2): the journal is not flushed.
        nix::ioctl_read!(fs_shutdown, b'X', 125, u32);
        const NOLOGFLUSH: u32 = 2;
        let path = PathBuf::from(format!("/proc/{pid}/root"))
            .join(self.mountpoint.strip_prefix("/").unwrap_or(&self.mountpoint));
        let dir = std::fs::File::open(&path).map_err(RigError::io("opening the mount point to cut the disk"))?;
        let mut flags = NOLOGFLUSH;
        // SAFETY: the descriptor is open for the call and the kernel reads
        // one u32 through the pointer, which lives across it.
        unsafe { fs_shutdown(std::os::fd::AsRawFd::as_raw_fd(&dir), &mut flags) }
            .map(drop)
            .map_err(RigError::os("the filesystem shutdown ioctl"))
    }

    /// Whether no one has it mounted (an exclusive open succeeds).
    #[must_use]
    pub fn is_free(&self) -> bool {
        std::fs::OpenOptions::new().read(true).custom_flags(nix::fcntl::OFlag::O_EXCL.bits()).open(&self.device).is_ok()
    }

    /// The contents of `name` at the top of the filesystem, read as the
    /// next holder would find it: the journal replayed first (`e2fsck -p`),
    /// then the file read without mounting (`debugfs`). `None` when the
    /// file does not exist. Only while no server has the disk mounted.
    ///
    /// # Errors
    ///
    /// [`RigError`] when the disk is in use, the check finds uncorrected
    /// errors, or `debugfs` fails.
    pub fn read_file(&self, name: &str) -> Result<Option<String>, RigError> {
        if !self.is_free() {
            return Err(RigError::Broken(format!("{} is still mounted somewhere", self.device.display())));
        }
        let mut fsck = tools::command("e2fsck");
        fsck.arg("-p").arg(&self.device);
        let out = tools::output(&mut fsck)?;
        // 0: clean, 1: errors corrected, 2: corrected, reboot advised.
        if !matches!(out.status.code(), Some(0..=2)) {
            return Err(tools::failed(&fsck, &out));
        }
        let mut debugfs = tools::command("debugfs");
        debugfs.arg("-R").arg(format!("cat /{name}")).arg(&self.device);
        let out = tools::output(&mut debugfs)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("File not found") {
            return Ok(None);
        }
        if !out.status.success() {
            return Err(tools::failed(&debugfs, &out));
        }
        Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()))
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = tools::run(tools::command("losetup").arg("-d").arg(&self.device));
        let _ = std::fs::remove_file(&self.image);
    }
}
