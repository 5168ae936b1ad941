//! The fence file: round trip, refusal of a corrupt file, and the
//! durability order (a writer killed at any point leaves the old image or
//! the new one, never a mix, and never loses an acknowledged record).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use warden_bsp::fence::Corruption;
use warden_bsp::linux::FenceFile;
use warden_bsp::{FenceStore, FenceStoreError};
use warden_core::controller::FenceRecord;
use warden_core::NodeId;

fn record(node: u8, fenced: bool) -> FenceRecord {
    FenceRecord { node: NodeId(node), fenced }
}

#[test]
fn records_round_trip_and_missing_file_is_nobody_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fences");
    let mut store = FenceFile::new(&path);
    assert_eq!(store.load().unwrap(), [false; 8]);
    assert!(!path.exists(), "loading creates nothing");
    store.store(record(1, true)).unwrap();
    store.store(record(3, true)).unwrap();
    store.store(record(1, false)).unwrap();
    let mut again = FenceFile::new(&path);
    let fences = again.load().unwrap();
    assert_eq!(fences, [false, false, false, true, false, false, false, false]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!dir.path().join("fences.tmp").exists());
}

#[test]
fn corrupt_files_are_refused_loudly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fences");
    let mut store = FenceFile::new(&path);
    store.store(record(0, true)).unwrap();
    let good = std::fs::read(&path).unwrap();

    let cases: [(&str, Vec<u8>, Corruption); 4] = [
        ("empty", Vec::new(), Corruption::Length { found: 0 }),
        ("torn", good[..11].to_vec(), Corruption::Length { found: 11 }),
        (
            "flipped",
            good.iter().enumerate().map(|(i, b)| if i == 16 { b ^ 1 } else { *b }).collect(),
            Corruption::Checksum,
        ),
        ("foreign", b"not a fence file at all!".to_vec(), Corruption::Magic),
    ];
    for (name, bytes, want) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let mut store = FenceFile::new(&path);
        assert_eq!(store.load(), Err(FenceStoreError::Corrupt(want)), "{name}");
        let message = store.last_error().unwrap().to_owned();
        assert!(message.starts_with(&path.display().to_string()), "{name}: {message}");
        // Nothing is written over a file that cannot be trusted.
        assert_eq!(store.store(record(2, true)), Err(FenceStoreError::Corrupt(want)), "{name}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name}: the corrupt file was replaced");
    }
    assert_eq!(
        FenceStoreError::Corrupt(Corruption::Checksum).to_string(),
        "fence records are corrupt: checksum mismatch"
    );
}

#[test]
fn a_directory_that_cannot_be_written_fails_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FenceFile::new(&dir.path().join("no-such-dir").join("fences"));
    assert_eq!(store.store(record(0, true)), Err(FenceStoreError::Device { code: nix::libc::ENOENT }));
    assert!(store.last_error().unwrap().contains("no-such-dir"), "{:?}", store.last_error());
}

/// The child half of the durability test below, which runs this test
/// binary again with `WARDEN_FENCE_WRITER` set: it stores records one after
/// the other and acknowledges each on stdout once `store` has returned.
/// Without the variable it is the parent's business and does nothing.
#[test]
fn durability_writer_child() {
    let Ok(path) = std::env::var("WARDEN_FENCE_WRITER") else { return };
    let mut store = FenceFile::new(std::path::Path::new(&path));
    let mut out = std::io::stdout();
    for i in 0u64.. {
        let rec = record((i % 8) as u8, i % 3 != 0);
        store.store(rec).unwrap();
        writeln!(out, "ack {i}").unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn a_writer_killed_mid_store_leaves_old_or_new_and_keeps_acknowledged_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fences");
    for kill_after in [1u64, 7, 40, 200] {
        let _ = std::fs::remove_file(&path);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "durability_writer_child", "--nocapture", "--test-threads=1"])
            .env("WARDEN_FENCE_WRITER", &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut acked = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("ack ") {
                let n: u64 = n.parse().unwrap();
                acked = Some(n);
                if n >= kill_after {
                    break;
                }
            }
        }
        // Killed somewhere inside a later store (or between two).
        child.kill().unwrap();
        child.wait().unwrap();
        let acked = acked.expect("the writer acknowledged nothing");
        let bytes = std::fs::read(&path).unwrap();
        let image = warden_bsp::fence::image::Image::decode(&bytes).expect("a torn or mixed image on disk");
        // Store i writes generation i + 1: the file holds the last
        // acknowledged store, or the one in flight when the writer died.
        assert!(
            image.generation == acked + 1 || image.generation == acked + 2,
            "generation {} after ack {acked}",
            image.generation
        );
    }
}
