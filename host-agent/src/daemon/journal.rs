//! The daemon's log: to journald when stderr is the journal (systemd sets
//! `JOURNAL_STREAM` to the device and inode of that stream), as lines with
//! sd-daemon `<N>` priority prefixes; else plain lines on stderr with a
//! UTC timestamp and the priority's name. One write per line, so lines of
//! several threads never interleave, from a thread of its own behind a
//! bounded queue ([`log_lines`]): lines the journal cannot take in time are
//! dropped and counted, never waited for.

use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

use warden_bsp::linux::log_lines::{self, Stream};

use super::clock::utc_now;

/// How bad it is (syslog's levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Priority {
    /// The agent cannot do something it must.
    Error = 3,
    /// Something failed that the agent copes with.
    Warning = 4,
    /// A transition worth an operator's attention.
    Notice = 5,
    /// Ordinary progress.
    Info = 6,
}

impl Priority {
    fn word(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Notice => "notice",
            Self::Info => "info",
        }
    }
}

static JOURNAL: OnceLock<bool> = OnceLock::new();

/// Whether stderr is the journal: `JOURNAL_STREAM` names its device and
/// inode (`DEV:INO`).
fn stderr_is_journal() -> bool {
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else { return false };
    let Some((dev, ino)) = stream.split_once(':') else { return false };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else { return false };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else { return false };
    std::fs::File::from(fd).metadata().is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// One log line (several if `message` has newlines).
pub(crate) fn log(priority: Priority, message: &str) {
    let journal = *JOURNAL.get_or_init(stderr_is_journal);
    let mut text = String::new();
    for line in message.lines() {
        if journal {
            text.push_str(&format!("<{}>{line}\n", priority as u8));
        } else {
            text.push_str(&format!("{} warden-agent[{}] {}: {line}\n", utc_now(), std::process::id(), priority.word()));
        }
    }
    // Through the log thread: a stalled journal never holds the main loop.
    log_lines::write(Stream::Stderr, text);
}

pub(crate) fn error(message: &str) {
    log(Priority::Error, message);
}

pub(crate) fn warning(message: &str) {
    log(Priority::Warning, message);
}

pub(crate) fn notice(message: &str) {
    log(Priority::Notice, message);
}

pub(crate) fn info(message: &str) {
    log(Priority::Info, message);
}
