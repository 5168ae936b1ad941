//! What can stop the rig. Every error names the thing that was wrong: the
//! tool and the package that has it, the command and what it said, the
//! file, the event that never came.

use std::path::PathBuf;
use std::time::Duration;

/// Why the rig could not do what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RigError {
    /// The rig creates namespaces, loop devices and mounts.
    #[error("the process rig needs root (it creates network namespaces, a loop device and mounts)")]
    NotRoot,
    /// A program the rig runs is not installed.
    #[error("missing `{tool}`: install it with `{install}`")]
    MissingTool {
        /// The program.
        tool: &'static str,
        /// The command that installs it.
        install: &'static str,
    },
    /// A Warden binary is not built.
    #[error("missing {}: build it first ({build})", path.display())]
    MissingBinary {
        /// Where it was looked for.
        path: PathBuf,
        /// How to build it.
        build: &'static str,
    },
    /// Things a crashed run left behind.
    #[error(
        "leftovers of an earlier run that did not clean up: {}; remove them with `warden-rig cleanup`",
        .0.join(", ")
    )]
    Leftovers(Vec<String>),
    /// A program failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and what it wrote on stderr.
        detail: String,
    },
    /// A system call or file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the file or device.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An awaited event never came.
    #[error("never saw {what} within {} s{}", waited.as_secs_f64(), if context.is_empty() { String::new() } else { format!("\n{context}") })]
    NeverSaw {
        /// The event.
        what: String,
        /// How long the rig waited (a bound against hanging, not a timing requirement).
        waited: Duration,
        /// The end of the logs that tell why.
        context: String,
    },
    /// Something the rig set up did not behave.
    #[error("{0}")]
    Broken(String),
    /// The options make no sense.
    #[error("{0}")]
    Options(String),
    /// SIGINT or SIGTERM.
    #[error("interrupted")]
    Interrupted,
}

impl RigError {
    /// An I/O error, with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }

    /// A `nix` error, with what was being done.
    pub fn os(what: impl Into<String>) -> impl FnOnce(nix::Error) -> Self {
        let what = what.into();
        move |e| Self::Io { what, source: e.into() }
    }
}
