//! `warden-agent check`: a summary for a good cluster file, the exact error
//! (and its JSON form) for a bad one, and the key file checked unless told.

use std::fs;

#[path = "../../firmware/cluster/tests/support/mod.rs"]
mod support;
use support::{docs_example, group};

#[test]
fn the_check_command_summarises_or_names_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    fs::write(&good, docs_example()).unwrap();
    let bad = dir.path().join("bad.toml");
    fs::write(&bad, group("kind = \"address\"\nip = \"10.0.0.5/33\"\n")).unwrap();
    let check = |file: &std::path::Path, extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_warden-agent"))
            .args(["check", "--no-key-file", "--config"])
            .arg(file)
            .args(extra)
            .output()
            .unwrap()
    };

    let out = check(&good, &[]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok: 2 nodes, 2 groups, 10 resources\n");

    let out = check(&bad, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("{}:18: key `group[0].resource[0].ip`: prefix `/33` is not a number from 0 to 32\n", bad.display())
    );

    let out = check(&bad, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(
        json.contains("\"ok\":false")
            && json.contains("\"line\":18")
            && json.contains("\"key\":\"group[0].resource[0].ip\""),
        "{json}"
    );

    // Without --no-key-file the key file named by the example must exist.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden-agent"))
        .arg("check")
        .arg("--config")
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("key `cluster.key_file`: key file "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
