//! What the process-level tests share: checks that say what to install,
//! guards that remove what a test made (on success and on failure), and
//! waits on events with a deadline.
//!
//! Everything a test creates is named with [`prefix`] (`wdn<pid>x<n>`), so
//! leftovers of a killed run are recognisable, and [`remove_stale`] removes
//! those of runs whose process is gone.

#![allow(dead_code, unreachable_pub)]

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::mount::{umount2, MntFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The agent binary under test.
pub const AGENT: &str = env!("CARGO_BIN_EXE_warden-agent");

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A name no other test or run uses: `wdn<pid>x<n>` (at most 15 bytes
/// with a short suffix, so it also fits interface names).
pub fn prefix() -> String {
    format!("wdn{}x{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst))
}

/// Fails the test, saying what to install, unless every `(tool, package)`
/// is on the path (or in /sbin, /usr/sbin), and unless we are root.
pub fn require(tools: &[(&str, &str)]) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "these tests create namespaces, loop devices and mounts: run them as root"
    );
    let mut missing = Vec::new();
    for (tool, package) in tools {
        let found = std::env::var_os("PATH")
            .map(|path| {
                std::env::split_paths(&path).chain(["/sbin".into(), "/usr/sbin".into()]).any(|d| d.join(tool).is_file())
            })
            .unwrap_or(false);
        if !found {
            missing.push(format!("`{tool}` (Debian package {package})"));
        }
    }
    assert!(missing.is_empty(), "missing: {}; install with apt-get install", missing.join(", "));
}

/// Runs a command to its end; panics with its stderr if it fails.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(out.status.success(), "{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `done` holds, checking every 10 ms, at most `limit`;
/// panics naming `what` after that. For states (a file, an entry, a mount)
/// that change because of something the test did.
pub fn wait_for<T>(limit: Duration, what: &str, mut done: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = done() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (at most `limit`) for a message containing `needle` on `rx`,
/// skipping the others.
pub fn wait_message(rx: &Receiver<String>, needle: &str, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(message) if message.contains(needle) => return Some(message),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// Removes namespaces, loop devices and mounts left by earlier runs of
/// these tests whose process no longer exists.
pub fn remove_stale() {
    let dead = |name: &str| {
        name.strip_prefix("wdn")
            .and_then(|r| r.split('x').next())
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|pid| pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists())
    };
    if let Ok(list) = fs::read_dir("/var/run/netns") {
        for entry in list.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if dead(&name) {
                let _ = Command::new("ip").args(["netns", "del", &name]).status();
            }
        }
    }
}

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: String) -> Self {
        run("ip", &["netns", "add", &name]);
        run("ip", &["-n", &name, "link", "set", "lo", "up"]);
        Self { name }
    }

    /// `ip -n NAME args...`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// The path `nsenter --net=` takes.
    pub fn path(&self) -> String {
        format!("/var/run/netns/{}", self.name)
    }

    /// A command run inside the namespace (only the network namespace is
    /// entered: mounts stay shared with the test, unlike `ip netns exec`).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.path())).arg("--").arg(program);
        c
    }

    /// Runs `f` on a thread inside the namespace.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = self.path();
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
                    .unwrap_or_else(|e| panic!("setns {path}: {e}"));
                f()
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// A mount namespace of the test's own, with private propagation, kept
/// alive by a bind mount of it on a file. The disk tests mount in here:
/// a mount made in the host's namespace would be copied into any mount
/// namespace another program creates meanwhile (the host's propagation is
/// private), and such a copy keeps the filesystem busy after the test
/// unmounts it. Dropping it unmounts the file, which ends the namespace and
/// every mount in it.
pub struct Mountns {
    file: PathBuf,
}

impl Mountns {
    /// A new namespace persisted at `dir/mnt.ns` (a directory of the test's).
    pub fn new(dir: &Path) -> Self {
        let file = dir.join("mnt.ns");
        fs::write(&file, "").expect("namespace file");
        run("unshare", &[&format!("--mount={}", file.display()), "--propagation", "private", "true"]);
        Self { file }
    }

    /// `program` run inside this mount namespace (and `net`'s network
    /// namespace, if given).
    pub fn command(&self, net: Option<&Netns>, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--mount={}", self.file.display()));
        if let Some(net) = net {
            c.arg(format!("--net={}", net.path()));
        }
        c.arg("--").arg(program);
        c
    }

    /// Mount points at or below `dir` in this namespace.
    pub fn mounts_at_or_below(&self, dir: &Path) -> Vec<PathBuf> {
        let out = self.command(None, "cat").arg("/proc/self/mountinfo").output().expect("nsenter cat");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(PathBuf::from))
            .filter(|mp| mp.starts_with(dir))
            .collect()
    }

    /// Whether something is mounted exactly on `dir` in this namespace.
    pub fn mounted(&self, dir: &Path) -> bool {
        self.mounts_at_or_below(dir).iter().any(|m| m == dir)
    }
}

impl Drop for Mountns {
    fn drop(&mut self) {
        let _ = umount2(&self.file, MntFlags::MNT_DETACH);
        let _ = fs::remove_file(&self.file);
    }
}

/// An ext4 image on a loop device, filled from `files`. Dropping it
/// unmounts whatever is mounted at or below `mount_point` (innermost
/// first, lazily so a failed test cannot hang here) and detaches the device.
pub struct LoopDisk {
    pub dir: tempfile::TempDir,
    pub device: String,
    pub mount_point: PathBuf,
}

impl LoopDisk {
    pub fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::Builder::new().prefix(&prefix()).tempdir().expect("tempdir");
        let content = dir.path().join("content");
        fs::create_dir(&content).expect("content dir");
        for (name, text) in files {
            fs::write(content.join(name), text).expect("content file");
        }
        let image = dir.path().join("disk.img");
        fs::File::create(&image).and_then(|f| f.set_len(32 << 20)).expect("image");
        run("mkfs.ext4", &["-q", "-F", "-d", content.to_str().unwrap(), image.to_str().unwrap()]);
        let device = run("losetup", &["-f", "--show", image.to_str().unwrap()]).trim().to_owned();
        let mount_point = dir.path().join("mnt");
        fs::create_dir(&mount_point).expect("mount point");
        Self { dir, device, mount_point }
    }

    /// Whether the device is mounted on the mount point now.
    pub fn mounted(&self) -> bool {
        mounts_at_or_below(&self.mount_point).iter().any(|m| m == &self.mount_point)
    }
}

/// Mount points at or below `dir`, from /proc/self/mountinfo.
pub fn mounts_at_or_below(dir: &Path) -> Vec<PathBuf> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(PathBuf::from))
        .filter(|mp| mp.starts_with(dir))
        .collect()
}

impl Drop for LoopDisk {
    fn drop(&mut self) {
        let mut ours = mounts_at_or_below(&self.mount_point);
        ours.sort_by_key(|mp| std::cmp::Reverse(mp.as_os_str().len()));
        for mp in ours {
            let _ = umount2(&mp, MntFlags::MNT_DETACH);
        }
        let _ = Command::new("losetup").arg("-d").arg(&self.device).status();
    }
}

/// Processes a test started (or found started on its behalf, like a
/// service left running by a stopped agent): killed by pid on drop.
#[derive(Default)]
pub struct Pids(pub Mutex<Vec<u32>>);

impl Pids {
    pub fn add(&self, pid: u32) {
        self.0.lock().unwrap().push(pid);
    }
}

impl Drop for Pids {
    fn drop(&mut self) {
        for pid in self.0.lock().map(|p| p.clone()).unwrap_or_default() {
            if let Ok(pid) = i32::try_from(pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// A child process killed (by its pid) and reaped on drop.
pub struct Spawned {
    pub child: Child,
    /// Its stderr, line by line, as it comes (and kept for failure messages).
    pub lines: Receiver<String>,
    pub seen: Arc<Mutex<Vec<String>>>,
}

impl Spawned {
    pub fn start(mut command: Command) -> Self {
        let mut child = command.stdin(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&seen);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Self { child, lines, seen }
    }

    /// Waits for a stderr line containing `needle`; panics with what was seen.
    pub fn wait_line(&self, needle: &str, limit: Duration) -> String {
        wait_message(&self.lines, needle, limit)
            .unwrap_or_else(|| panic!("no line with {needle:?} within {limit:?}; stderr so far:\n{}", self.log()))
    }

    /// Everything it wrote to stderr so far.
    pub fn log(&self) -> String {
        self.seen.lock().map(|s| s.join("\n")).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` and waits (at most `limit`) for the exit.
    pub fn stop(&mut self, signal: Signal, limit: Duration) -> std::process::ExitStatus {
        kill(Pid::from_raw(i32::try_from(self.child.id()).unwrap()), signal).expect("signal");
        wait_for(limit, "the process to exit", || self.child.try_wait().ok().flatten())
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs the agent binary with `args` to its end.
pub fn agent(args: &[&str]) -> Output {
    Command::new(AGENT).args(args).output().expect("run warden-agent")
}

/// Text of an output, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A plain HTTP/1.0 GET of `path` from `addr` (the client side of the
/// service checks); the body, if the server answered 200.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.0 200")
        .then(|| body.to_owned())
        .or_else(|| head.starts_with("HTTP/1.1 200").then(|| body.to_owned()))
}

/// The first MAC on a line of `ip link` or `ip neigh` output after `key`.
pub fn mac_after(text: &str, key: &str) -> Option<String> {
    text.split(key).nth(1)?.split_whitespace().next().map(str::to_owned)
}
