//! A Status frame encoded, decoded and verified, per frame.

use std::hint::black_box;
use std::time::Instant as WallClock;

use warden_core::wire::{encode, Auth, Body, Decoder, Header, Key, Message, Status, MAX_FRAME};
use warden_core::{GroupId, GroupSet, NodeId};

use super::{percentile, Effort, Row};

pub(super) fn hmac_auth() -> Auth {
    // A 32-byte key is always within 1..=64 bytes.
    Auth::Hmac(Key::new(&[0x5a; 32]).unwrap_or_else(|e| panic!("a 32-byte key is valid: {e:?}")))
}

fn status_message() -> Message {
    let holds: GroupSet = [GroupId(0), GroupId(3), GroupId(17)].into_iter().collect();
    Message {
        header: Header { node: NodeId(3), nonce: 0x1234_5678_9abc_def1, echo: 0x0fed_cba9_8765_4321, seq: 123_456 },
        body: Body::Status(Status {
            applied: 123_400,
            holds,
            busy: GroupSet::EMPTY,
            healthy: holds,
            failing: GroupSet::EMPTY,
            stuck: GroupSet::EMPTY,
            net_score: 3,
        }),
    }
}

/// Encode, decode and verify one Status frame with `auth`, per frame.
pub(super) fn frame_row(name: &str, auth: &Auth, effort: Effort) -> Result<Row, String> {
    let message = status_message();
    let mut buf = [0u8; MAX_FRAME];
    let mut decoder = Decoder::new();
    // One round trip first: the benchmark must measure a frame that decodes.
    let len = encode(&message, auth, &mut buf).map_err(|e| format!("encoding a Status with {name} failed: {e:?}"))?;
    let mut back = None;
    decoder.feed(&buf[..len], auth, |r| back = Some(r));
    match back {
        Some(Ok(m)) if m == message => {}
        other => return Err(format!("a Status frame with {name} did not decode to itself: {other:?}")),
    }
    let round_trip = |decoder: &mut Decoder, buf: &mut [u8; MAX_FRAME]| {
        let len = encode(black_box(&message), auth, buf).unwrap_or(0);
        let mut good = false;
        decoder.feed(&buf[..len], auth, |r| good = r.is_ok());
        black_box(good);
    };
    let n = effort.frames_per_batch;
    let mut means = Vec::with_capacity(effort.batches);
    for _ in 0..effort.batches {
        let t = WallClock::now();
        for _ in 0..n {
            round_trip(&mut decoder, &mut buf);
        }
        means.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    let mut singles = Vec::with_capacity(n * effort.single_passes);
    for _ in 0..effort.single_passes {
        for _ in 0..n {
            let t = WallClock::now();
            round_trip(&mut decoder, &mut buf);
            singles.push(t.elapsed().as_nanos() as f64);
        }
    }
    Ok(Row {
        name: format!("Status frame encode+decode+verify, {name} ({len} B)"),
        unit: "ns/frame",
        median: percentile(&mut means, 50.0),
        p99: Some(percentile(&mut singles, 99.0)),
        samples: n * effort.batches,
    })
}
