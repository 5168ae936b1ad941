//! `warden-frame`: decode a captured byte stream (a serial line recorded
//! with `cat /dev/ttyS1 > capture`, a UDP payload dump, or hex pasted from a
//! log) into the messages it carries, frame by frame, naming what is wrong
//! with every frame that does not decode.

use std::fmt::Write as _;

use warden_core::wire::{Auth, Body, DecodeStats, Decoder, FrameError, Message, Op, Summary};
use warden_core::GroupSet;

/// One frame of the capture, decoded or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Its position in the stream, from 1.
    pub index: usize,
    /// The message, or why the frame was refused.
    pub result: Result<Message, FrameError>,
}

/// Why a capture could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// Hex input with a character that is not a hex digit or white space.
    #[error("hex input: `{found}` at offset {offset} is not a hex digit")]
    NotHex {
        /// The character.
        found: char,
        /// Its byte offset in the input.
        offset: usize,
    },
    /// Hex input with an odd number of digits.
    #[error("hex input has an odd number of digits ({0})")]
    OddHex(usize),
}

/// Turns hex text (white space, `:` and `-` separators allowed) into bytes.
///
/// # Errors
///
/// [`CaptureError`] naming the first offending character.
pub fn unhex(text: &str) -> Result<Vec<u8>, CaptureError> {
    let mut digits = Vec::with_capacity(text.len());
    for (offset, c) in text.char_indices() {
        if c.is_whitespace() || c == ':' || c == '-' {
            continue;
        }
        let d = c.to_digit(16).ok_or(CaptureError::NotHex { found: c, offset })?;
        digits.push(d as u8);
    }
    if digits.len() % 2 != 0 {
        return Err(CaptureError::OddHex(digits.len()));
    }
    Ok(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect())
}

/// Decodes every frame of `bytes` under `auth`, in order, with the decoder's
/// counters.
#[must_use]
pub fn decode_capture(bytes: &[u8], auth: &Auth) -> (Vec<Frame>, DecodeStats) {
    let mut decoder = Decoder::new();
    let mut frames = Vec::new();
    decoder.feed(bytes, auth, |result| frames.push(Frame { index: frames.len() + 1, result }));
    (frames, decoder.stats())
}

fn groups(set: GroupSet) -> String {
    let ids: Vec<String> = set.iter().map(|g| g.0.to_string()).collect();
    format!("[{}]", ids.join(","))
}

fn summary(s: &Summary) -> String {
    let mut out = format!("Summary for request {} (controller up {} s):", s.id, s.uptime_s);
    for n in (0..s.nodes).map(warden_core::NodeId) {
        match s.node(n) {
            Some(v) => {
                let _ = write!(out, " {n}={:?}", v.life);
            }
            None => {
                let _ = write!(out, " {n}=malformed");
            }
        }
    }
    for g in (0..s.groups).map(warden_core::GroupId) {
        let _ = write!(out, " {g}@{}", s.placed_on(g).map_or("-".to_string(), |n| n.to_string()));
    }
    out
}

/// A message in one line.
#[must_use]
pub fn describe(m: &Message) -> String {
    let h = &m.header;
    let body = match &m.body {
        Body::Hello => "Hello".to_string(),
        Body::Probing => "Probing".to_string(),
        Body::Beat(b) => format!("Beat epoch={} want={} role={:?}", b.epoch, groups(b.want), b.role),
        Body::Status(s) => format!(
            "Status applied={} holds={} busy={} healthy={} failing={} stuck={} net_score={}",
            s.applied,
            groups(s.holds),
            groups(s.busy),
            groups(s.healthy),
            groups(s.failing),
            groups(s.stuck),
            s.net_score
        ),
        Body::Request(r) => match r.op {
            Op::Describe => format!("Request id={} Describe", r.id),
            op => format!("Request id={} {op:?}", r.id),
        },
        Body::Reply(r) => match r.outcome {
            Ok(()) => format!("Reply id={} accepted", r.id),
            Err(refusal) => format!("Reply id={} refused: {refusal}", r.id),
        },
        Body::Summary(s) => summary(s),
        Body::History(h) => match h.entry {
            Some(e) => format!(
                "History id={} entry {} of {} (total {}): {} node {} reason={} by={} started {} ms ago, took {}, {}",
                h.id,
                h.back,
                h.held,
                h.total,
                e.action.name(),
                e.node,
                e.reason.name(),
                e.by.name(),
                e.started_ago_ms,
                e.took_ms.map_or("-".to_owned(), |ms| format!("{ms} ms")),
                e.result.name()
            ),
            None => format!("History id={} entry {} of {} (total {}): none", h.id, h.back, h.held, h.total),
        },
        Body::Counters(c) => format!(
            "Counters id={} uptime={}s session_rejects={} wrong_node={} alarms_dropped={} persist_failures={} \
             feeds_withheld={} fences_confirmed={} fences_unconfirmed={} unfences={} relay_errors={} sense_errors={} \
             frames_refused={}",
            c.id,
            c.uptime_s,
            c.session_rejects,
            c.wrong_node,
            c.alarms_dropped,
            c.persist_failures,
            c.feeds_withheld,
            c.fences_confirmed,
            c.fences_unconfirmed,
            c.unfences,
            c.board.relay_errors,
            c.board.sense_errors,
            c.board.frames_refused
        ),
    };
    format!("{} nonce={:#x} echo={:#x} seq={} {body}", h.node, h.nonce, h.echo, h.seq)
}

/// The decoder's counters in one line.
#[must_use]
pub fn stats_line(s: &DecodeStats) -> String {
    format!(
        "frames={} ok={} rejected={} (too_long={} cobs={} empty={} truncated={} bad_tag={} bad_version={} decode={} trailing_bytes={})",
        s.ok + s.rejected(),
        s.ok,
        s.rejected(),
        s.too_long,
        s.cobs,
        s.empty,
        s.truncated,
        s.bad_tag,
        s.bad_version,
        s.decode,
        s.trailing_bytes
    )
}
