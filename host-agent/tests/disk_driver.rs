//! The disk driver on a real ext4 filesystem in a loop device.
//!
//! Needs root, `mkfs.ext4` and `e2fsck` (e2fsprogs) and `losetup`
//! (util-linux); without them the tests fail saying what to install.
//!
//! The release that cannot finish is simulated with a tmpfs mounted inside
//! the disk's mount point: `umount` then answers `EBUSY` for as long as the
//! submount stays, deterministically, with no process to kill. The driver
//! must report it as `Busy`, naming the mount point and the submount, within
//! a bound.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use warden_agent::drivers::disk::{read_ext_state, Disk, DiskParams, FsckPolicy, STATE_AT, SUPERBLOCK_OFFSET};
use warden_agent::resource::{ErrorKind, Presence, Resource};

fn require_root_and_tools() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "the disk driver tests need root (mount, losetup); run them as root"
    );
    for (tool, package) in [("mkfs.ext4", "e2fsprogs"), ("e2fsck", "e2fsprogs"), ("losetup", "util-linux")] {
        let found = std::env::var_os("PATH")
            .map(|path| {
                std::env::split_paths(&path).chain(["/sbin".into(), "/usr/sbin".into()]).any(|d| d.join(tool).is_file())
            })
            .unwrap_or(false);
        assert!(found, "{tool} is missing: apt-get install {package}");
    }
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Polls `done` every 10 ms until it holds or `limit` passes.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// An ext4 image on a loop device, with a mount point. Dropping it (also
/// when a test fails) unmounts whatever is left and detaches the loop device.
struct Fixture {
    dir: tempfile::TempDir,
    device: PathBuf,
    mount_point: PathBuf,
}

impl Fixture {
    /// `prepare` may change the image before it is attached.
    fn new(prepare: impl FnOnce(&Path)) -> Self {
        Self::with_features("^metadata_csum", prepare)
    }

    /// Same, with `mkfs.ext4 -O features`.
    fn with_features(features: &str, prepare: impl FnOnce(&Path)) -> Self {
        require_root_and_tools();
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("disk.img");
        fs::File::create(&image).unwrap().set_len(32 << 20).unwrap();
        run("mkfs.ext4", &["-q", "-F", "-O", features, image.to_str().unwrap()]);
        prepare(&image);
        let device = PathBuf::from(run("losetup", &["-f", "--show", image.to_str().unwrap()]));
        let mount_point = dir.path().join("mnt");
        fs::create_dir(&mount_point).unwrap();
        Self { dir, device, mount_point }
    }

    fn params(&self) -> DiskParams {
        let mut params = DiskParams::new(self.device.to_str().unwrap(), &self.mount_point, "ext4");
        params.kill_grace = Duration::from_millis(500);
        params.kill_wait = Duration::from_secs(2);
        params
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("log")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Innermost first; lazily, so a failed test cannot hang here.
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut ours: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|mp| Path::new(mp).starts_with(&self.mount_point))
            .collect();
        ours.sort_by_key(|mp| std::cmp::Reverse(mp.len()));
        for mp in ours {
            let _ = umount2(mp, MntFlags::MNT_DETACH);
        }
        let _ = Command::new("losetup").arg("-d").arg(&self.device).status();
    }
}

fn mount_options(mount_point: &Path) -> Option<String> {
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    mounts
        .lines()
        .find(|l| l.split(' ').nth(4) == mount_point.to_str())
        .and_then(|l| l.split(' ').nth(5).map(str::to_owned))
}

fn reap(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let mut status = None;
    wait_until(limit, || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status
}

#[test]
fn mount_probe_and_release_ends_the_holders() {
    let fixture = Fixture::with_features("metadata_csum", |_| {});
    let log = fixture.log();
    let mut params = fixture.params();
    params.options = "noatime,nodev".into();
    params.activate = Some(vec!["/bin/sh".into(), "-c".into(), format!("echo activate >> {}", log.display())]);
    params.deactivate = Some(vec!["/bin/sh".into(), "-c".into(), format!("echo deactivate >> {}", log.display())]);
    let mut disk = Disk::new(params).unwrap();

    assert_eq!(disk.probe().unwrap(), Presence::Inactive);
    disk.start().unwrap();
    assert_eq!(disk.probe().unwrap(), Presence::Active);
    disk.start().unwrap();
    assert_eq!(fs::read_to_string(&log).unwrap(), "activate\n", "a second start does nothing");
    let report = disk.last_fsck().unwrap();
    assert!(!report.ran && report.reason.starts_with("clean"), "{report:?}");
    let options = mount_options(&fixture.mount_point).unwrap();
    assert!(options.contains("noatime") && options.contains("nodev"), "{options}");

    // Three holders: a working directory, an open file, and an open file in
    // a process that ignores SIGTERM (so only SIGKILL after the grace ends it).
    let data = fixture.mount_point.join("data");
    fs::write(&data, "payload\n").unwrap();
    let mut in_cwd = Command::new("sleep").arg("300").current_dir(&fixture.mount_point).spawn().unwrap();
    let mut tail = Command::new("tail").arg("-f").arg(&data).stdout(Stdio::null()).spawn().unwrap();
    let ready = fixture.dir.path().join("ready");
    let mut stubborn = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("exec 3>>{}; trap '' TERM; touch {}; exec sleep 300", data.display(), ready.display()))
        .spawn()
        .unwrap();
    let expected = [in_cwd.id(), tail.id(), stubborn.id()];
    // Wait until all three hold it (the shell has exec'd into sleep).
    assert!(
        wait_until(Duration::from_secs(10), || {
            let holders: Vec<u32> = disk.holders().unwrap().iter().map(|h| h.pid).collect();
            ready.exists() && expected.iter().all(|pid| holders.contains(pid))
        }),
        "holders seen: {:?}",
        disk.holders().unwrap()
    );
    assert!(!disk.holders().unwrap().iter().any(|h| h.pid == std::process::id()), "the agent never holds itself");

    let started = Instant::now();
    disk.stop().unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(500), "the stubborn holder got its grace: {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(disk.probe().unwrap(), Presence::Inactive);
    assert_eq!(fs::read_to_string(&log).unwrap(), "activate\ndeactivate\n");
    assert_eq!(reap(&mut in_cwd, Duration::from_secs(5)).unwrap().signal(), Some(libc::SIGTERM));
    assert_eq!(reap(&mut tail, Duration::from_secs(5)).unwrap().signal(), Some(libc::SIGTERM));
    assert_eq!(reap(&mut stubborn, Duration::from_secs(5)).unwrap().signal(), Some(libc::SIGKILL));

    // Stopping again is a no-op apart from the (idempotent) deactivation.
    disk.stop().unwrap();
    // The data survived the release.
    disk.start().unwrap();
    assert_eq!(fs::read_to_string(&data).unwrap(), "payload\n");
    disk.stop().unwrap();
}

#[test]
fn release_that_cannot_finish_is_reported_busy_within_a_bound() {
    let fixture = Fixture::with_features("metadata_csum", |_| {});
    let mut disk = Disk::new(fixture.params()).unwrap();
    disk.start().unwrap();
    let sub = fixture.mount_point.join("sub");
    fs::create_dir(&sub).unwrap();
    mount(Some("tmpfs"), &sub, Some("tmpfs"), MsFlags::empty(), None::<&str>).unwrap();
    // A holder inside the submount: found by path, and ended.
    let mut holder = Command::new("sleep").arg("300").current_dir(&sub).spawn().unwrap();
    assert!(wait_until(Duration::from_secs(5), || disk.holders().unwrap().iter().any(|h| h.pid == holder.id())));

    let started = Instant::now();
    let err = disk.stop().unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.kind, ErrorKind::Busy, "{}", err.message);
    let mount_point = fixture.mount_point.display().to_string();
    assert!(err.message.contains(&mount_point), "{}", err.message);
    assert!(err.message.contains(&sub.display().to_string()), "names the submount: {}", err.message);
    // Bounded: one grace and kill wait per round at most, never a hang.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(reap(&mut holder, Duration::from_secs(5)).is_some(), "the holder was ended");
    // Still mounted, and said so.
    assert_eq!(disk.probe().unwrap(), Presence::Active);

    umount2(&sub, MntFlags::empty()).unwrap();
    disk.stop().unwrap();
    assert_eq!(disk.probe().unwrap(), Presence::Inactive);
}

#[test]
fn device_mounted_elsewhere_is_not_taken_or_released() {
    let fixture = Fixture::with_features("metadata_csum", |_| {});
    let other = fixture.dir.path().join("other");
    fs::create_dir(&other).unwrap();
    mount(Some(&fixture.device), &other, Some("ext4"), MsFlags::empty(), None::<&str>).unwrap();
    let mut disk = Disk::new(fixture.params()).unwrap();
    assert_eq!(disk.probe().unwrap(), Presence::Unknown);
    let err = disk.start().unwrap_err();
    assert_eq!(err.kind, ErrorKind::Busy);
    assert!(err.message.contains(&other.display().to_string()), "{}", err.message);
    assert_eq!(disk.stop().unwrap_err().kind, ErrorKind::Busy);
    umount2(&other, MntFlags::empty()).unwrap();

    let mut params = fixture.params();
    params.device = fixture.dir.path().join("no-such-device").display().to_string();
    let err = Disk::new(params).unwrap().start().unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotInstalled, "{}", err.message);
}

/// Clears the "cleanly unmounted" bit of `s_state` in the image.
fn mark_dirty(image: &Path) {
    let file = OpenOptions::new().read(true).write(true).open(image).unwrap();
    let at = SUPERBLOCK_OFFSET + STATE_AT as u64;
    let mut state = [0_u8; 2];
    file.read_exact_at(&mut state, at).unwrap();
    assert_eq!(u16::from_le_bytes(state) & 1, 1, "a fresh filesystem is clean");
    file.write_all_at(&0_u16.to_le_bytes(), at).unwrap();
    file.sync_all().unwrap();
}

/// Sets `needs_recovery` in the image's superblock, as a holder that lost
/// power leaves its ext4 (state still "clean": the journal keeps it whole).
fn mark_needs_recovery(image: &Path) {
    const INCOMPAT_AT: u64 = 0x60;
    let file = OpenOptions::new().read(true).write(true).open(image).unwrap();
    let at = SUPERBLOCK_OFFSET + INCOMPAT_AT;
    let mut incompat = [0_u8; 4];
    file.read_exact_at(&mut incompat, at).unwrap();
    file.write_all_at(&(u32::from_le_bytes(incompat) | 0x0004).to_le_bytes(), at).unwrap();
    file.sync_all().unwrap();
}

#[test]
fn fsck_if_dirty_leaves_a_journal_to_replay_to_the_kernel() {
    let crashed = Fixture::new(mark_needs_recovery);
    let state = read_ext_state(&crashed.device).unwrap();
    assert!(state.needs_recovery && state.is_dirty() && !state.needs_check(), "{state:?}");
    let mut disk = Disk::new(crashed.params()).unwrap();
    disk.start().unwrap();
    let report = disk.last_fsck().unwrap().clone();
    assert!(!report.ran, "{report:?}");
    assert!(report.reason.contains("journal to replay"), "{report:?}");
    disk.stop().unwrap();
    let after = read_ext_state(&crashed.device).unwrap();
    assert!(!after.needs_recovery && !after.is_dirty(), "the mount replayed it: {after:?}");
}

#[test]
fn fsck_if_dirty_runs_only_on_a_dirty_filesystem() {
    // Without metadata_csum, so the state bit can be cleared by hand without
    // also recomputing the superblock checksum.
    let dirty = Fixture::new(mark_dirty);
    let state = read_ext_state(&dirty.device).unwrap();
    assert!(state.is_dirty(), "{state:?}");

    // Never: not checked even though dirty.
    let mut params = dirty.params();
    params.fsck = FsckPolicy::Never;
    let mut never = Disk::new(params).unwrap();
    never.start().unwrap();
    assert!(!never.last_fsck().unwrap().ran);
    never.stop().unwrap();

    // The clean unmount marked it clean; make it dirty again through the device.
    {
        let file = OpenOptions::new().read(true).write(true).open(&dirty.device).unwrap();
        file.write_all_at(&0_u16.to_le_bytes(), SUPERBLOCK_OFFSET + STATE_AT as u64).unwrap();
        file.sync_all().unwrap();
    }
    assert!(read_ext_state(&dirty.device).unwrap().is_dirty());
    let mut disk = Disk::new(dirty.params()).unwrap();
    disk.start().unwrap();
    let report = disk.last_fsck().unwrap().clone();
    assert!(report.ran, "{report:?}");
    assert!(report.reason.contains("dirty") && report.reason.contains("0x0000"), "{report:?}");
    assert!(matches!(report.exit_code, Some(0 | 1)), "{report:?}");
    disk.stop().unwrap();
    assert!(!read_ext_state(&dirty.device).unwrap().is_dirty());

    // Clean: skipped under if-dirty, checked under always.
    let mut clean = Disk::new(dirty.params()).unwrap();
    clean.start().unwrap();
    assert!(!clean.last_fsck().unwrap().ran);
    clean.stop().unwrap();
    let mut params = dirty.params();
    params.fsck = FsckPolicy::Always;
    let mut always = Disk::new(params).unwrap();
    always.start().unwrap();
    let report = always.last_fsck().unwrap();
    assert!(report.ran && report.exit_code == Some(0), "{report:?}");
    always.stop().unwrap();
}
