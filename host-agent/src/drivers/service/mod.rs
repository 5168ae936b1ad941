//! Services: the programs a group runs once its addresses and disks are up.
//!
//! Four kinds, each a [`Resource`](crate::resource::Resource):
//!
//! * [`LsbScript`]: a heartbeat resource script or LSB init script, run as
//!   `script [args...] start|stop|status` (heartbeat's `name::arg1::arg2`).
//! * [`SystemdUnit`]: `systemctl start|stop|is-active UNIT`.
//! * [`OcfAgent`]: an OCF resource agent (`start`, `stop`, `monitor`, with
//!   `OCF_RESKEY_*` parameters and OCF exit codes).
//! * [`SupervisedCommand`]: a plain command the agent runs and respawns
//!   itself, with exponential backoff, as heartbeat's `respawn` did.
//!
//! Every outside command runs with a deadline; on expiry its whole process
//! group is killed and the step fails with
//! [`ErrorKind::Timeout`](crate::resource::ErrorKind::Timeout). Errors name the
//! script or unit and the action, and carry the end of its output.

mod command;
mod lsb;
mod ocf;
mod pidfile;
mod systemd;

pub use command::{Respawn, SupervisedCommand, SupervisedState, NO_RESPAWN_EXIT};
pub use lsb::{LsbScript, DEFAULT_SCRIPT_DIRS};
pub use ocf::{OcfAgent, DEFAULT_OCF_ROOT};
pub use systemd::SystemdUnit;

use crate::drivers::process::Exit;
use crate::resource::{ErrorKind, ResourceError};

/// The exit codes LSB init scripts and OCF agents share for actions other
/// than `status`/`monitor`, mapped to the kind of failure.
///
/// 0 success; 1 generic error; 2 invalid arguments; 3 unimplemented;
/// 4 insufficient privilege; 5 not installed; 6 not configured; 7 not running.
fn action_error(exit: &Exit, what: &str) -> ResourceError {
    let (kind, meaning) = match exit.code {
        Some(1) => (ErrorKind::Failed, "generic error"),
        Some(2) => (ErrorKind::Config, "invalid arguments"),
        Some(3) => (ErrorKind::Failed, "unimplemented action"),
        Some(4) => (ErrorKind::Permission, "insufficient privilege"),
        Some(5) => (ErrorKind::NotInstalled, "not installed"),
        Some(6) => (ErrorKind::Config, "not configured"),
        Some(7) => (ErrorKind::Failed, "not running"),
        _ => (ErrorKind::Failed, "failed"),
    };
    ResourceError::new(kind, format!("{what} failed: {} ({meaning}){}", exit.describe(), exit.output_suffix()))
}

/// A name that is passed to a command as one argument or used as one path
/// component: not empty, no `/`, no NUL, not `.`/`..`, no leading `-` (it
/// would read as an option).
fn check_word(word: &str, what: &str) -> Result<(), ResourceError> {
    let bad = if word.is_empty() {
        Some("is empty")
    } else if word.contains('/') {
        Some("contains '/'")
    } else if word.contains('\0') {
        Some("contains a NUL byte")
    } else if word == "." || word == ".." {
        Some("is '.' or '..'")
    } else if word.starts_with('-') {
        Some("starts with '-'")
    } else if word.chars().any(char::is_whitespace) {
        Some("contains whitespace")
    } else {
        None
    };
    match bad {
        Some(why) => Err(ResourceError::new(ErrorKind::Config, format!("{what} {word:?} {why}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32) -> Exit {
        Exit { code: Some(code), signal: None, output: "why".into() }
    }

    #[test]
    fn action_codes_map_to_kinds() {
        let cases = [
            (1, ErrorKind::Failed),
            (2, ErrorKind::Config),
            (3, ErrorKind::Failed),
            (4, ErrorKind::Permission),
            (5, ErrorKind::NotInstalled),
            (6, ErrorKind::Config),
            (7, ErrorKind::Failed),
            (42, ErrorKind::Failed),
        ];
        for (code, kind) in cases {
            let err = action_error(&exit(code), "OCF agent x start");
            assert_eq!(err.kind, kind, "exit {code}");
            assert!(err.message.contains("OCF agent x start") && err.message.contains("why"));
        }
    }

    #[test]
    fn words_are_checked() {
        assert!(check_word("httpd", "script").is_ok());
        for bad in ["", "a/b", "..", "-x", "a b"] {
            assert_eq!(check_word(bad, "script").unwrap_err().kind, ErrorKind::Config, "{bad:?}");
        }
    }
}
