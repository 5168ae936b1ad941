//! `fence_warden`: a fence agent, as Pacemaker's fencer runs them (the
//! fence agent API of the `fence-agents` project), that fences a server
//! through its Warden controller's operator endpoint
//! ([`crate::operator`]).
//!
//! # Contract
//!
//! * Options come as `key=value` lines on standard input when there is no
//!   argument, else as flags ([`options`]); every key has one spelling, in
//!   [`options::PARAMS`], from which the metadata and `--help` are written.
//! * `off` succeeds only once the controller reports the node fenced and its
//!   power sensed off; `on` only once its power is sensed on and it is not
//!   fenced. A timeout is a failure.
//! * Exit 0 on success, 2 for `status` of a node that is off, 1 for
//!   everything else, with one line on standard error that starts
//!   `fence_warden: ` and names what was wrong.
//!
//! Layers: [`options`] (the input as values) → [`setup`] (the files, the
//! key, the address and the node, checked; nothing sent) → [`actions`]
//! (against the [`actions::Endpoint`] trait, so that tests can play the
//! controller and the clock). [`metadata`] is the XML the fencer reads;
//! [`manual`] the manual page and completions the package installs.

pub mod actions;
pub mod manual;
pub mod metadata;
pub mod options;
pub mod setup;

use std::ffi::OsStr;
use std::io::{Read, Write};

pub use actions::{perform, ActionError, Endpoint, Log, Session, Timing, Udp};
pub use metadata::metadata;
pub use options::{parse_args, parse_stdin, Action, Options, OptionsError, Parsed};
pub use setup::{prepare, Setup, SetupError, Target};

/// How a run ends, as the fence agent API reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exit {
    /// Done (for `status`: the node is on).
    Success,
    /// Failed, or could not be verified.
    Failure,
    /// `status`: the controller answers and the node is off.
    Off,
}

impl Exit {
    /// The exit status.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Off => 2,
        }
    }
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Standard input could not be read.
    #[error("standard input: {0}")]
    Input(std::io::Error),
    /// The options are refused.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// The files, the key, the address or the node are refused.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The action failed.
    #[error(transparent)]
    Action(#[from] ActionError),
}

/// One run: options from `args`, or from `stdin` when there is none; the
/// answer on `out`, progress and errors on `err`.
pub fn run<S: AsRef<OsStr>>(args: &[S], stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> Exit {
    let parsed = if args.is_empty() {
        let mut input = Vec::new();
        match stdin.read_to_end(&mut input) {
            Ok(_) => parse_stdin(&input).map_err(Error::from),
            Err(e) => Err(Error::Input(e)),
        }
    } else {
        parse_args(args).map_err(Error::from)
    };
    let written = match parsed {
        Ok(Parsed::Help) => out.write_all(options::help().as_bytes()),
        Ok(Parsed::Version) => writeln!(out, "{} {}", metadata::AGENT, env!("CARGO_PKG_VERSION")),
        Ok(Parsed::Run(options)) => {
            let mut log = Log::new(err, options.verbose, options.quiet);
            return match execute(&options, out, &mut log) {
                Ok(exit) => exit,
                Err(e) => {
                    log.always(format_args!("{e}"));
                    Exit::Failure
                }
            };
        }
        Err(e) => {
            let _ = writeln!(err, "fence_warden: {e}");
            return Exit::Failure;
        }
    };
    match written {
        Ok(()) => Exit::Success,
        Err(e) => {
            let _ = writeln!(err, "fence_warden: standard output: {e}");
            Exit::Failure
        }
    }
}

/// Carries out `options.action`.
fn execute(options: &Options, out: &mut dyn Write, log: &mut Log<'_>) -> Result<Exit, Error> {
    if !options.ignored.is_empty() {
        log.progress(format_args!("ignoring unknown keys: {}", options.ignored.join(", ")));
    }
    if options.action == Action::Metadata {
        out.write_all(metadata().as_bytes()).map_err(ActionError::Output)?;
        return Ok(Exit::Success);
    }
    let setup = prepare(options)?;
    log.progress(format_args!(
        "cluster file {}: {} nodes; controller at {}{}",
        options.cluster_file.display(),
        setup.nodes.len(),
        setup.peer,
        setup.target.as_ref().map(|t| format!("; `{}` is node {}", t.name, t.id.0)).unwrap_or_default()
    ));
    if options.action == Action::ValidateAll {
        return Ok(Exit::Success);
    }
    let mut endpoint = Udp::new(setup.peer, setup.auth.clone());
    perform(&mut endpoint, options.action, &setup, &Timing::from(options), out, log)
}
