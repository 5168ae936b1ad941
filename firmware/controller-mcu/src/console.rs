//! The console's commands: plain text lines typed on UART0.
//!
//! ```text
//! status                 one log line per node and per group
//! fence N | unfence N    operator commands, in the core's grammar (the
//! standby N | online N   Linux controller's socket takes the same)
//! migrate G N            move group G to node N
//! wedge N                fault injection: disable the transmitter of node N's
//!                        link UART, so that link driver stalls and the
//!                        watchdog, no longer fed, resets the board
//! ```
//!
//! Nodes and groups are given by id (the blob carries no names). A line is
//! at most [`MAX_LINE`] bytes; a longer one is dropped whole and counted,
//! and anything that is not a command is refused with a reason and counted.
//! Nothing changes on a refused line.

use core::fmt;

use warden_core::controller::{CommandError, Ids};
use warden_core::wire::Op;
use warden_core::NodeId;

/// Longest console line, newline excluded.
pub const MAX_LINE: usize = 48;

/// A console command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Print the status.
    Status,
    /// An operator command for the controller.
    Op(Op),
    /// Disable node `N`'s link transmitter (fault injection).
    Wedge(NodeId),
}

/// Why a line is not a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsoleError {
    /// Longer than [`MAX_LINE`] bytes.
    TooLong,
    /// Not ASCII text.
    NotText,
    /// Not a known command word.
    Unknown,
    /// An argument is missing.
    MissingArgument,
    /// An argument is not a number from 0 to 255.
    BadNumber,
    /// More arguments than the command takes.
    ExtraArgument,
}

impl ConsoleError {
    /// One word naming the error.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::TooLong => "too-long",
            Self::NotText => "not-text",
            Self::Unknown => "unknown-command",
            Self::MissingArgument => "missing-argument",
            Self::BadNumber => "bad-number",
            Self::ExtraArgument => "extra-argument",
        }
    }
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLong => "line too long",
            Self::NotText => "line is not ASCII text",
            Self::Unknown => "unknown command (status, fence, unfence, standby, online, migrate, wedge)",
            Self::MissingArgument => "argument missing",
            Self::BadNumber => "argument is not a number from 0 to 255",
            Self::ExtraArgument => "too many arguments",
        })
    }
}

impl core::error::Error for ConsoleError {}

/// Parses one line (without its newline). An empty line is `Ok(None)`.
/// Operator commands follow the core's grammar, nodes and groups by id.
///
/// # Errors
///
/// The [`ConsoleError`] naming what is wrong.
pub fn parse(line: &[u8]) -> Result<Option<Command>, ConsoleError> {
    if line.len() > MAX_LINE {
        return Err(ConsoleError::TooLong);
    }
    let text = core::str::from_utf8(line).map_err(|_| ConsoleError::NotText)?;
    if !text.is_ascii() {
        return Err(ConsoleError::NotText);
    }
    let mut words = text.split_ascii_whitespace();
    let Some(verb) = words.next() else { return Ok(None) };
    match Op::parse(verb, words.clone(), &Ids) {
        Ok(Some(op)) => return Ok(Some(Command::Op(op))),
        Ok(None) => {}
        Err(CommandError::MissingArgument(_)) => return Err(ConsoleError::MissingArgument),
        Err(CommandError::ExtraArgument(_)) => return Err(ConsoleError::ExtraArgument),
        Err(CommandError::UnknownNode(_) | CommandError::UnknownGroup(_)) => return Err(ConsoleError::BadNumber),
    }
    let command = match verb {
        "status" => Command::Status,
        "wedge" => {
            let word = words.next().ok_or(ConsoleError::MissingArgument)?;
            Command::Wedge(NodeId(word.parse().map_err(|_| ConsoleError::BadNumber)?))
        }
        _ => return Err(ConsoleError::Unknown),
    };
    if words.next().is_some() {
        return Err(ConsoleError::ExtraArgument);
    }
    Ok(Some(command))
}

/// Collects console bytes into lines; a line longer than [`MAX_LINE`] is
/// dropped up to its newline and reported as [`ConsoleError::TooLong`].
#[derive(Debug, Clone, Default)]
pub struct LineBuffer {
    line: heapless::Vec<u8, MAX_LINE>,
    overflow: bool,
}

impl LineBuffer {
    /// An empty buffer.
    #[must_use]
    pub const fn new() -> Self {
        Self { line: heapless::Vec::new(), overflow: false }
    }

    /// Takes one byte; at a newline (CR or LF), calls `on_line` with the
    /// parsed line.
    pub fn push(&mut self, byte: u8, mut on_line: impl FnMut(Result<Option<Command>, ConsoleError>)) {
        if byte == b'\n' || byte == b'\r' {
            let result =
                if core::mem::take(&mut self.overflow) { Err(ConsoleError::TooLong) } else { parse(&self.line) };
            self.line.clear();
            on_line(result);
        } else if !self.overflow && self.line.push(byte).is_err() {
            self.overflow = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use warden_core::GroupId;

    use super::*;

    #[test]
    fn commands() {
        assert_eq!(parse(b"status"), Ok(Some(Command::Status)));
        assert_eq!(parse(b"  fence 1 "), Ok(Some(Command::Op(Op::Fence { node: NodeId(1) }))));
        assert_eq!(parse(b"unfence 0"), Ok(Some(Command::Op(Op::Unfence { node: NodeId(0) }))));
        assert_eq!(parse(b"standby 2"), Ok(Some(Command::Op(Op::Standby { node: NodeId(2) }))));
        assert_eq!(parse(b"online 2"), Ok(Some(Command::Op(Op::Online { node: NodeId(2) }))));
        assert_eq!(parse(b"migrate 3 1"), Ok(Some(Command::Op(Op::Migrate { group: GroupId(3), node: NodeId(1) }))));
        assert_eq!(parse(b"wedge 1"), Ok(Some(Command::Wedge(NodeId(1)))));
        assert_eq!(parse(b""), Ok(None));
        assert_eq!(parse(b"   "), Ok(None));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse(b"reboot"), Err(ConsoleError::Unknown));
        assert_eq!(parse(b"fence"), Err(ConsoleError::MissingArgument));
        assert_eq!(parse(b"fence x"), Err(ConsoleError::BadNumber));
        assert_eq!(parse(b"fence 256"), Err(ConsoleError::BadNumber));
        assert_eq!(parse(b"fence -1"), Err(ConsoleError::BadNumber));
        assert_eq!(parse(b"migrate 1"), Err(ConsoleError::MissingArgument));
        assert_eq!(parse(b"fence 1 2"), Err(ConsoleError::ExtraArgument));
        assert_eq!(parse(b"fence \xff"), Err(ConsoleError::NotText));
        assert_eq!(parse(&[b'a'; MAX_LINE + 1]), Err(ConsoleError::TooLong));
    }

    #[test]
    fn lines_are_cut_at_newlines_and_long_ones_dropped_whole() {
        let mut buffer = LineBuffer::new();
        let mut got = Vec::new();
        let mut input = b"status\r\nfence 1\n".to_vec();
        input.extend_from_slice(&[b'x'; MAX_LINE + 10]);
        input.extend_from_slice(b"\nonline 1\n");
        for byte in input {
            buffer.push(byte, |r| got.push(r));
        }
        assert_eq!(
            got,
            vec![
                Ok(Some(Command::Status)),
                Ok(None),
                Ok(Some(Command::Op(Op::Fence { node: NodeId(1) }))),
                Err(ConsoleError::TooLong),
                Ok(Some(Command::Op(Op::Online { node: NodeId(1) }))),
            ]
        );
    }
}
