//! `warden-frame` decodes a captured stream frame by frame, names what is
//! wrong with the frames it refuses, and refuses a key file others can read.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use warden_core::wire::{encode, Auth, Beat, Body, Header, Key, Message, Role, Status, MAX_FRAME};
use warden_core::{GroupSet, NodeId};

const KEY: &[u8] = b"capture test key";

fn frame(message: &Message, auth: &Auth) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME];
    let len = encode(message, auth, &mut buf).unwrap();
    buf[..len].to_vec()
}

fn messages() -> [Message; 3] {
    let header = |seq| Header { node: NodeId(1), nonce: 0x11, echo: 0x22, seq };
    [
        Message { header: header(1), body: Body::Beat(Beat { epoch: 3, want: GroupSet(0b101), role: Role::Member }) },
        Message {
            header: header(2),
            body: Body::Status(Status {
                applied: 1,
                holds: GroupSet(0b1),
                busy: GroupSet::EMPTY,
                healthy: GroupSet(0b1),
                failing: GroupSet::EMPTY,
                stuck: GroupSet::EMPTY,
                net_score: 2,
            }),
        },
        Message { header: header(3), body: Body::Probing },
    ]
}

fn key_file(dir: &Path, mode: u32) -> std::path::PathBuf {
    let path = dir.join("authkey");
    std::fs::write(&path, KEY).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_warden-frame")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn decodes_each_frame_and_names_the_refused_one() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), 0o600);
    let auth = Auth::Hmac(Key::new(KEY).unwrap());
    let [beat, status, probing] = messages();
    let mut capture = frame(&beat, &auth);
    let mut bad = frame(&status, &auth);
    bad[5] ^= 0x40; // a flipped bit on the line
    capture.extend(bad);
    capture.extend(frame(&probing, &auth));
    let path = dir.path().join("capture.bin");
    std::fs::write(&path, &capture).unwrap();

    let (ok, out, err) = run(&["--key-file", key.to_str().unwrap(), path.to_str().unwrap()]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("#1 node1 ") && lines[0].contains("Beat epoch=3 want=[0,2] role=Member"), "{out}");
    assert_eq!(lines[1], "#2 REFUSED: frame tag does not match (corrupted or wrong key)");
    assert!(lines[2].starts_with("#3 ") && lines[2].ends_with("seq=3 Probing"), "{out}");
    assert!(lines[3].starts_with("frames=3 ok=2 rejected=1 ") && lines[3].contains("bad_tag=1"), "{out}");

    // The same capture under CRC: every frame is refused, none misread.
    let (_, out, _) = run(&["--crc", path.to_str().unwrap()]);
    assert!(out.lines().last().unwrap().starts_with("frames=3 ok=0 rejected=3"), "{out}");
}

#[test]
fn hex_input_and_json_output() {
    let [beat, ..] = messages();
    let hex: String = frame(&beat, &Auth::Crc).iter().map(|b| format!("{b:02x} ")).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capture.hex");
    std::fs::write(&path, format!("{hex}\n")).unwrap();
    let (ok, out, err) = run(&["--crc", "--hex", "--json", path.to_str().unwrap()]);
    assert!(ok, "{err}");
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["ok"], true);
    assert_eq!(first["message"]["header"]["seq"], 1);
    let last: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(last["stats"]["ok"], 1);

    std::fs::write(&path, "0c 01 zz").unwrap();
    let (ok, _, err) = run(&["--crc", "--hex", path.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("`z` at offset 6 is not a hex digit"), "{err}");
}

#[test]
fn a_key_file_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), 0o644);
    let (ok, _, err) = run(&["--key-file", key.to_str().unwrap(), "/dev/null"]);
    assert!(!ok);
    assert!(err.contains("has mode 0644") && err.contains("chmod 600"), "{err}");
}
