//! A run that crashed leaves namespaces and a run directory behind under
//! its prefix; `warden-rig` refuses to start while they exist, naming
//! them, and `warden-rig cleanup` removes them (as root).

use std::path::Path;
use std::process::Command;

/// A pid no process has now (a child that ran and was reaped).
fn dead_pid() -> u32 {
    loop {
        let mut child = Command::new("true").spawn().expect("running true");
        let pid = child.id();
        child.wait().expect("waiting for true");
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return pid;
        }
    }
}

fn rig(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_warden-rig")).args(args).output().expect("warden-rig did not start");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn leftovers_are_refused_then_cleaned_up() {
    let prefix = format!("wr{}qq", dead_pid());
    let netns = format!("{prefix}-alpha");
    let dir = std::env::temp_dir().join(&prefix);
    let added = Command::new("ip").args(["netns", "add", &netns]).status();
    assert!(
        added.is_ok_and(|s| s.success()),
        "`ip netns add {netns}` failed: this test needs root and iproute2 (apt-get install iproute2)"
    );
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("owner.lock"), b"").unwrap();

    let (code, _, stderr) = rig(&["scenario", "power-loss"]);
    assert_eq!(code, Some(2), "the rig started despite leftovers:\n{stderr}");
    assert!(stderr.contains("leftovers"), "{stderr}");
    assert!(stderr.contains(&format!("network namespace {netns}")), "{stderr}");
    assert!(stderr.contains(&format!("directory {}", dir.display())), "{stderr}");
    assert!(stderr.contains("warden-rig cleanup"), "{stderr}");

    let (code, stdout, stderr) = rig(&["cleanup"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("removed network namespace {netns}")), "{stdout}");
    assert!(stdout.contains(&format!("removed directory {}", dir.display())), "{stdout}");
    assert!(!Path::new("/run/netns").join(&netns).exists(), "the namespace is still there");
    assert!(!dir.exists(), "the run directory is still there");

    let (code, stdout, _) = rig(&["cleanup"]);
    assert_eq!((code, stdout.trim()), (Some(0), "nothing left behind"));
}
