//! Golden byte vectors: the exact frames of every message kind under both
//! protections. They pin the wire format; a change here is a protocol change
//! (bump `VERSION`).
//!
//! Layout, worked through by hand for the CRC `hello` vector
//! `0c 01 02 ef 9b af cd f8 ac d1 91 01 | 02 01 | 05 bf 98 2b 3e | 00`:
//!
//! * COBS: code `0c` = 11 data bytes then a zero; code `02` = 1 data byte then
//!   a zero; code `05` = 4 data bytes, end of frame; `00` is the delimiter.
//!   Content: `01 | 02 ef9bafcdf8acd19101 00 01 00 | bf982b3e`.
//! * `01`: the protocol version.
//! * postcard(Message): `02` node 2; `ef 9b af cd f8 ac d1 91 01` the nonce
//!   0x0123_4567_89AB_CDEF as a LEB128 varint (7 bits a byte, low first, top
//!   bit = more); `00` echo 0; `01` seq 1; `00` body variant 0 (`Hello`).
//! * `bf 98 2b 3e`: CRC-32C (iSCSI polynomial) of version and payload, little-
//!   endian (0x3E2B_98BF).
//!
//! Under HMAC the content is the same but the tag is the first 16 bytes of
//! HMAC-SHA256 under the test key; the hello vector (and the CRC one) were
//! checked against an independent implementation (Python `hmac`, a bitwise
//! CRC-32C and a reference COBS encoder) when they were frozen.

use warden_core::controller::Life;
use warden_core::wire::{
    decode, encode, Auth, Beat, BoardCounters, Body, CountersAnswer, Decoder, FenceAction, FenceOp, FenceReason,
    FenceResult, Header, HistoryAnswer, Key, Message, NodeSummary, Op, Refusal, Reply, Request, Requester, Role,
    Status, Summary, MAX_FRAME,
};
use warden_core::{Duration, GroupId, GroupSet, NodeId};

const TEST_KEY: &[u8] = b"warden golden vector key";
const AGENT_NONCE: u64 = 0x0123_4567_89AB_CDEF;
const CONTROLLER_NONCE: u64 = 0x0FED_CBA9_8765_4321;

/// Agent → controller header.
fn up(seq: u64, body: Body) -> Message {
    Message { header: Header { node: NodeId(2), nonce: AGENT_NONCE, echo: CONTROLLER_NONCE, seq }, body }
}

/// Controller → agent header.
fn down(seq: u64, body: Body) -> Message {
    Message { header: Header { node: NodeId(2), nonce: CONTROLLER_NONCE, echo: AGENT_NONCE, seq }, body }
}

fn hello() -> Message {
    Message { header: Header { node: NodeId(2), nonce: AGENT_NONCE, echo: 0, seq: 1 }, body: Body::Hello }
}

fn beat() -> Message {
    down(42, Body::Beat(Beat { epoch: 7, want: GroupSet(0b1001), role: Role::Member }))
}

fn status() -> Message {
    up(
        300,
        Body::Status(Status {
            applied: 42,
            holds: GroupSet(0b1001),
            busy: GroupSet(0b1000),
            healthy: GroupSet(0b0001),
            failing: GroupSet(0b0100_0000),
            stuck: GroupSet(0),
            net_score: 1000,
        }),
    )
}

fn migrate() -> Message {
    up(301, Body::Request(Request { id: 5, op: Op::Migrate { group: GroupId(3), node: NodeId(1) } }))
}

fn standby() -> Message {
    up(302, Body::Request(Request { id: 6, op: Op::Standby { node: NodeId(1) } }))
}

fn online() -> Message {
    up(303, Body::Request(Request { id: 7, op: Op::Online { node: NodeId(1) } }))
}

fn fence() -> Message {
    up(304, Body::Request(Request { id: 8, op: Op::Fence { node: NodeId(4) } }))
}

fn unfence() -> Message {
    up(305, Body::Request(Request { id: 9, op: Op::Unfence { node: NodeId(4) } }))
}

fn probing() -> Message {
    up(306, Body::Probing)
}

fn describe() -> Message {
    up(307, Body::Request(Request { id: 10, op: Op::Describe }))
}

/// Two nodes, three groups: node0 up and on, heard 300 ms ago; node1 fenced,
/// off, never heard; group0 and group2 on node0, group1 moving.
fn summary() -> Message {
    let mut s = Summary::new(10, 3600, 2, 3);
    s.set_node(
        NodeId(0),
        NodeSummary {
            life: Life::Up,
            standby: false,
            powered: Some(true),
            fence_record: false,
            heard_ago: Some(Duration(300)),
        },
    );
    s.set_node(
        NodeId(1),
        NodeSummary { life: Life::Fenced, standby: false, powered: Some(false), fence_record: true, heard_ago: None },
    );
    s.set_placed(GroupId(0), Some(NodeId(0)));
    s.set_placed(GroupId(1), None);
    s.set_placed(GroupId(2), Some(NodeId(0)));
    s.moving.insert(GroupId(1));
    down(45, Body::Summary(s))
}

fn history() -> Message {
    up(308, Body::Request(Request { id: 11, op: Op::History { back: 1 } }))
}

/// Entry 1 of 3 (5 recorded): node 1 fenced as dead by the controller,
/// started 1500 ms ago, confirmed 12 ms after its start.
fn history_answer() -> Message {
    down(
        46,
        Body::History(HistoryAnswer {
            id: 11,
            back: 1,
            held: 3,
            total: 5,
            entry: Some(FenceOp {
                node: NodeId(1),
                action: FenceAction::Fence,
                reason: FenceReason::Dead,
                by: Requester::Agent(NodeId(0)),
                started_ago_ms: 1500,
                took_ms: Some(12),
                result: FenceResult::Confirmed,
            }),
        }),
    )
}

fn counters() -> Message {
    up(309, Body::Request(Request { id: 12, op: Op::Counters }))
}

/// Up an hour: 2 session rejects, a failed fence record, 3 fences
/// confirmed, 1 not in time, 2 unfences, 4 relay errors, 300 bad frames.
fn counters_answer() -> Message {
    down(
        47,
        Body::Counters(CountersAnswer {
            id: 12,
            uptime_s: 3600,
            session_rejects: 2,
            wrong_node: 0,
            alarms_dropped: 0,
            persist_failures: 1,
            feeds_withheld: 0,
            fences_confirmed: 3,
            fences_unconfirmed: 1,
            unfences: 2,
            board: BoardCounters { relay_errors: 4, sense_errors: 0, frames_refused: 300 },
        }),
    )
}

fn reply_ok() -> Message {
    down(43, Body::Reply(Reply { id: 5, outcome: Ok(()) }))
}

fn reply_refused() -> Message {
    down(44, Body::Reply(Reply { id: 6, outcome: Err(Refusal::NotEligible) }))
}

struct Vector {
    name: &'static str,
    message: Message,
    hmac: &'static str,
    crc: &'static str,
}

fn vectors() -> [Vector; 17] {
    [
        Vector {
            name: "hello",
            message: hello(),
            hmac: "0c0102ef9bafcdf8acd19101020111f049418cbedbaa5297dc60fcdc67c89300",
            crc: "0c0102ef9bafcdf8acd19101020105bf982b3e00",
        },
        Vector {
            name: "probing",
            message: probing(),
            hmac: concat!("280102ef9bafcdf8acd19101a18695bb98f5f2f60fb20205cbd788ab20dcf691", "87606e8cc3f664ec00"),
            crc: "1c0102ef9bafcdf8acd19101a18695bb98f5f2f60fb2020505e01da000",
        },
        Vector {
            name: "beat",
            message: beat(),
            hmac: concat!("2a0102a18695bb98f5f2f60fef9bafcdf8acd191012a01070901b719d85c434c", "40820ae0beaf43bbe2b500"),
            crc: "1e0102a18695bb98f5f2f60fef9bafcdf8acd191012a01070901507bfb7600",
        },
        Vector {
            name: "status",
            message: status(),
            hmac: concat!(
                "1d0102ef9bafcdf8acd19101a18695bb98f5f2f60fac02022a0908014013e807",
                "96fed87f92203e66b7630d83a91e0de300"
            ),
            crc: concat!("1d0102ef9bafcdf8acd19101a18695bb98f5f2f60fac02022a0908014007e807", "f374cdaf00"),
        },
        Vector {
            name: "migrate",
            message: migrate(),
            hmac: concat!(
                "190102ef9bafcdf8acd19101a18695bb98f5f2f60fad020305130301921c1602",
                "71b4a5e6c4efadfeff66762400"
            ),
            crc: concat!("190102ef9bafcdf8acd19101a18695bb98f5f2f60fad02030507030173c4ab21", "00"),
        },
        Vector {
            name: "describe",
            message: describe(),
            hmac: concat!("2a0102ef9bafcdf8acd19101a18695bb98f5f2f60fb302030a05dc67f339c3cc", "4ac2eedd97c29a134df800"),
            crc: "1e0102ef9bafcdf8acd19101a18695bb98f5f2f60fb302030a058ff8792900",
        },
        Vector {
            name: "summary",
            message: summary(),
            hmac: concat!(
                "1e0102a18695bb98f5f2f60fef9bafcdf8acd191012d060a901c020321550101",
                "0101012a03fffffffffffffff0f0ffffffffffffffffffffffffffff02d35b58",
                "5716d77a7bfbd6b0fa1381761200"
            ),
            crc: concat!(
                "1e0102a18695bb98f5f2f60fef9bafcdf8acd191012d060a901c020321550101",
                "0101011e03fffffffffffffff0f0ffffffffffffffffffffffffffff02e85a30",
                "c700"
            ),
        },
        Vector {
            name: "standby",
            message: standby(),
            hmac: concat!(
                "2b0102ef9bafcdf8acd19101a18695bb98f5f2f60fae0203060101975b8faa02",
                "2b68533fbf9bf66030d16c00"
            ),
            crc: "1f0102ef9bafcdf8acd19101a18695bb98f5f2f60fae0203060101ba21106900",
        },
        Vector {
            name: "online",
            message: online(),
            hmac: concat!(
                "2b0102ef9bafcdf8acd19101a18695bb98f5f2f60faf0203070201f5e5c6495f",
                "d45b5ad8c08e2db2abec1300"
            ),
            crc: "1f0102ef9bafcdf8acd19101a18695bb98f5f2f60faf02030702014470861700",
        },
        Vector {
            name: "fence",
            message: fence(),
            hmac: concat!(
                "290102ef9bafcdf8acd19101a18695bb98f5f2f60fb00203080304c96995b08f",
                "a7bb2b14585ca792c802a800"
            ),
            crc: "1f0102ef9bafcdf8acd19101a18695bb98f5f2f60fb002030803040f72375b00",
        },
        Vector {
            name: "unfence",
            message: unfence(),
            hmac: concat!(
                "2b0102ef9bafcdf8acd19101a18695bb98f5f2f60fb10203090404c1ddfcc481",
                "6621b8214b1d8ac1567ee900"
            ),
            crc: "1f0102ef9bafcdf8acd19101a18695bb98f5f2f60fb102030904042d422b6b00",
        },
        Vector {
            name: "history",
            message: history(),
            hmac: concat!(
                "2b0102ef9bafcdf8acd19101a18695bb98f5f2f60fb402030b06011e2c552154",
                "e971d5f5affeda30c05fba00"
            ),
            crc: "1f0102ef9bafcdf8acd19101a18695bb98f5f2f60fb402030b0601bc68356b00",
        },
        Vector {
            name: "history_answer",
            message: history_answer(),
            hmac: concat!(
                "1d0102a18695bb98f5f2f60fef9bafcdf8acd191012e070b0103050101010202",
                "16dc0b010c0193acee0f4d8192dd3798a449c6a6668b00"
            ),
            crc: concat!("1d0102a18695bb98f5f2f60fef9bafcdf8acd191012e070b0103050101010202", "06dc0b010c01047734c100"),
        },
        Vector {
            name: "counters",
            message: counters(),
            hmac: concat!("2a0102ef9bafcdf8acd19101a18695bb98f5f2f60fb502030c0726cbd6f1ee71", "523bbfcf65fa6fac0cc000"),
            crc: "1e0102ef9bafcdf8acd19101a18695bb98f5f2f60fb502030c07a2b8ea3100",
        },
        Vector {
            name: "counters_answer",
            message: counters_answer(),
            hmac: concat!(
                "1b0102a18695bb98f5f2f60fef9bafcdf8acd191012f080c901c020102010503",
                "01020413ac02b4bf6fa75bad2e69b36296acda51ff9800"
            ),
            crc: concat!("1b0102a18695bb98f5f2f60fef9bafcdf8acd191012f080c901c020102010503", "01020407ac020661da9800"),
        },
        Vector {
            name: "reply_ok",
            message: reply_ok(),
            hmac: concat!("180102a18695bb98f5f2f60fef9bafcdf8acd191012b040511166fc965d6fdf6", "c88e6c990441f76a7400"),
            crc: "180102a18695bb98f5f2f60fef9bafcdf8acd191012b0405051b733a9500",
        },
        Vector {
            name: "reply_refused",
            message: reply_refused(),
            hmac: concat!("2a0102a18695bb98f5f2f60fef9bafcdf8acd191012c04060102dbebb863cba5", "7dff46202b2c04df501200"),
            crc: "1e0102a18695bb98f5f2f60fef9bafcdf8acd191012c04060102c123fe6b00",
        },
    ]
}

fn hmac() -> Auth {
    Auth::Hmac(Key::new(TEST_KEY).unwrap())
}

fn unhex(hex: &str) -> Vec<u8> {
    assert_eq!(hex.len() % 2, 0, "odd hex length");
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn encoded(message: &Message, auth: &Auth) -> Vec<u8> {
    let mut out = [0u8; MAX_FRAME];
    let len = encode(message, auth, &mut out).unwrap();
    out[..len].to_vec()
}

#[test]
fn every_body_and_op_has_a_vector() {
    let vectors = vectors();
    let mut ops = [false; 8];
    let (mut ok, mut refused) = (false, false);
    for v in &vectors {
        match v.message.body {
            Body::Request(Request { op, .. }) => {
                let i = match op {
                    Op::Migrate { .. } => 0,
                    Op::Standby { .. } => 1,
                    Op::Online { .. } => 2,
                    Op::Fence { .. } => 3,
                    Op::Unfence { .. } => 4,
                    Op::Describe => 5,
                    Op::History { .. } => 6,
                    Op::Counters => 7,
                };
                ops[i] = true;
            }
            Body::Reply(Reply { outcome, .. }) => {
                ok |= outcome.is_ok();
                refused |= outcome.is_err();
            }
            Body::Hello
            | Body::Beat(_)
            | Body::Status(_)
            | Body::Probing
            | Body::Summary(_)
            | Body::History(_)
            | Body::Counters(_) => {}
        }
    }
    assert_eq!(ops, [true; 8]);
    assert!(ok && refused);
    for kind in ["hello", "probing", "beat", "status", "summary", "history_answer", "counters_answer"] {
        assert!(vectors.iter().any(|v| v.name == kind));
    }
}

#[test]
fn encoder_produces_the_golden_bytes() {
    let hmac = hmac();
    for v in vectors() {
        assert_eq!(to_hex(&encoded(&v.message, &hmac)), v.hmac, "{} under HMAC", v.name);
        assert_eq!(to_hex(&encoded(&v.message, &Auth::Crc)), v.crc, "{} under CRC", v.name);
    }
}

#[test]
fn golden_bytes_decode_to_the_messages() {
    let hmac = hmac();
    for v in vectors() {
        assert_eq!(decode(&unhex(v.hmac), &hmac), Ok(v.message), "{} under HMAC", v.name);
        assert_eq!(decode(&unhex(v.crc), &Auth::Crc), Ok(v.message), "{} under CRC", v.name);
    }
}

#[test]
fn golden_stream_decodes_in_order() {
    for (auth, pick) in [(hmac(), 0), (Auth::Crc, 1)] {
        let stream: Vec<u8> = vectors().iter().flat_map(|v| unhex(if pick == 0 { v.hmac } else { v.crc })).collect();
        let mut decoder = Decoder::new();
        let mut got = Vec::new();
        decoder.feed(&stream, &auth, |r| got.push(r.unwrap()));
        let want: Vec<Message> = vectors().iter().map(|v| v.message).collect();
        assert_eq!(got, want);
        assert_eq!(decoder.stats().ok, vectors().len() as u32);
        assert_eq!(decoder.stats().rejected(), 0);
    }
}

#[test]
fn vectors_do_not_cross_protections() {
    for v in vectors() {
        assert!(decode(&unhex(v.hmac), &Auth::Crc).is_err(), "{}", v.name);
        assert!(decode(&unhex(v.crc), &hmac()).is_err(), "{}", v.name);
    }
}

/// The largest possible message: a Status with every field at its widest
/// varint. Its frame must fit with room to spare.
#[test]
fn widest_status_fits_in_a_frame() {
    let widest = Message {
        header: Header { node: NodeId(u8::MAX), nonce: u64::MAX, echo: u64::MAX, seq: u64::MAX },
        body: Body::Status(Status {
            applied: u64::MAX,
            holds: GroupSet(u32::MAX),
            busy: GroupSet(u32::MAX),
            healthy: GroupSet(u32::MAX),
            failing: GroupSet(u32::MAX),
            stuck: GroupSet(u32::MAX),
            net_score: u16::MAX,
        }),
    };
    // 1 node + 3 × 10 varint + 1 variant + 10 applied + 5 × 5 sets + 3 score
    // = 70 payload bytes; + version + 16 tag + 1 COBS + 1 delimiter = 89.
    assert_eq!(encoded(&widest, &hmac()).len(), 89);
    assert_eq!(encoded(&widest, &Auth::Crc).len(), 77);
    assert_eq!(encoded(&status(), &hmac()).len(), 49);
}

/// The widest history answer (every varint at its widest) fits.
#[test]
fn widest_history_answer_fits_in_a_frame() {
    let widest = Message {
        header: Header { node: NodeId(u8::MAX), nonce: u64::MAX, echo: u64::MAX, seq: u64::MAX },
        body: Body::History(HistoryAnswer {
            id: u32::MAX,
            back: u8::MAX,
            held: u8::MAX,
            total: u32::MAX,
            entry: Some(FenceOp {
                node: NodeId(u8::MAX),
                action: FenceAction::Unfence,
                reason: FenceReason::AutoUnfence,
                by: Requester::Agent(NodeId(u8::MAX)),
                started_ago_ms: u32::MAX,
                took_ms: Some(u32::MAX),
                result: FenceResult::Failed,
            }),
        }),
    };
    // 31 header + 1 variant + 5 id + 2 + 5 total + 1 some + 1 node + 1 + 1
    // + 2 by + 5 + 6 took + 1 result = 62 payload bytes; + version + 16 tag
    // + 1 COBS + 1 delimiter = 81.
    assert_eq!(encoded(&widest, &hmac()).len(), 81);
    assert!(encoded(&widest, &hmac()).len() <= MAX_FRAME);
}

/// The widest counters answer (every counter at its widest) fits.
#[test]
fn widest_counters_answer_fits_in_a_frame() {
    let m = u32::MAX;
    let widest = Message {
        header: Header { node: NodeId(u8::MAX), nonce: u64::MAX, echo: u64::MAX, seq: u64::MAX },
        body: Body::Counters(CountersAnswer {
            id: m,
            uptime_s: m,
            session_rejects: m,
            wrong_node: m,
            alarms_dropped: m,
            persist_failures: m,
            feeds_withheld: m,
            fences_confirmed: m,
            fences_unconfirmed: m,
            unfences: m,
            board: BoardCounters { relay_errors: m, sense_errors: m, frames_refused: m },
        }),
    };
    // 31 header + 1 variant + 13 × 5 = 97 payload bytes; + version + 16 tag
    // + 1 COBS + 1 delimiter = 116.
    assert_eq!(encoded(&widest, &hmac()).len(), 116);
    assert!(encoded(&widest, &hmac()).len() <= MAX_FRAME);
}

/// The widest Summary (8 nodes, 32 groups, every varint at its widest) fits.
#[test]
fn widest_summary_fits_in_a_frame() {
    let mut s = Summary::new(u32::MAX, u32::MAX, 8, 32);
    s.node_state = [u8::MAX; 8];
    s.moving = GroupSet(u32::MAX);
    let widest = Message {
        header: Header { node: NodeId(u8::MAX), nonce: u64::MAX, echo: u64::MAX, seq: u64::MAX },
        body: Body::Summary(s),
    };
    // 31 header + 1 variant + 5 id + 5 uptime + 2 counts + 8 + 8 + 16 + 5
    // = 81 payload bytes; + version + 16 tag + 1 COBS + 1 delimiter = 100.
    assert_eq!(encoded(&widest, &hmac()).len(), 100);
    assert!(encoded(&widest, &hmac()).len() <= MAX_FRAME);
}
