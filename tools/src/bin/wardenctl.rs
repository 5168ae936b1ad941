//! `wardenctl`: the operator's command line.
//!
//! Subcommands:
//! * `status [--json]`: the cluster as the controller sees it (asked
//!   through the local agent) and this node's agent.
//! * `history [--json]`: the controller's last fences and unfences (node,
//!   reason, who asked, start, time to confirm, result).
//! * `migrate GROUP NODE`, `standby NODE`, `online NODE`, `fence NODE`,
//!   `unfence NODE`: operator requests relayed to the controller through
//!   the local agent's control socket (authenticated like every frame).
//!
//!   The socket is `--socket PATH`, else the `[agent]` table of
//!   `--config FILE`, else `$WARDEN_SOCKET`, else `/run/warden/agent.sock`.
//!   Exit status: 0 done, 1 the agent cannot be reached, 2 bad usage,
//!   3 the controller cannot be reached, 4 the controller refused.
//! * `--controller ADDR` (with any of the above): ask the controller's
//!   operator endpoint (`[controller] operator`) directly, with no agent on
//!   this host; node names and the key come from the cluster file
//!   (`--config FILE`, default `/etc/warden/cluster.toml`). Exit status as
//!   above, 1 meaning the cluster file or key could not be read, or a name
//!   is not in it.
//! * `import-heartbeat DIR [-o FILE] [--key-file PATH] [--name NAME]`:
//!   turn heartbeat's `ha.cf`, `haresources` and `authkeys` into Warden's
//!   cluster TOML (on stdout, or to FILE written atomically). The key goes
//!   to its own file, mode 0600. Directives that cannot be carried over are
//!   listed on stderr, one per line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use warden_control::OperatorOp;
use warden_tools::ctl::{choose_socket, direct, run_history, run_request, run_status, Exit};
use warden_tools::import_heartbeat::{import_dir, write_atomic, Options};

/// Warden's operator tool.
#[derive(Debug, Parser)]
#[command(name = "wardenctl", version, about = "Warden's operator tool: status, operator requests, heartbeat import")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which agent to talk to, and how to answer.
#[derive(Debug, Args)]
struct Talk {
    /// The agent's control socket.
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
    /// Take the socket from this cluster configuration's `[agent]` table
    /// (with `--controller`: the node names and the key).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Ask the controller's operator endpoint at ADDR (IP:PORT, or IP for
    /// port 7694) directly instead of the local agent.
    #[arg(long, value_name = "ADDR", global = true, conflicts_with = "socket")]
    controller: Option<String>,
    /// Answer as JSON (one object).
    #[arg(long, global = true)]
    json: bool,
}

/// What to do. Each subcommand has its own argument struct.
#[derive(Debug, Subcommand)]
enum Command {
    /// The cluster as the controller sees it, and this node's agent.
    Status(Talk),
    /// The controller's last fences and unfences: node, reason, who asked,
    /// start, time to confirm, result.
    History(Talk),
    /// Move GROUP to NODE gracefully (release, then acquire).
    Migrate {
        /// The group's name.
        group: String,
        /// The node's name.
        node: String,
        #[command(flatten)]
        talk: Talk,
    },
    /// Drain NODE of its groups (maintenance); it is not fenced.
    Standby {
        /// The node's name.
        node: String,
        #[command(flatten)]
        talk: Talk,
    },
    /// End NODE's maintenance.
    Online {
        /// The node's name.
        node: String,
        #[command(flatten)]
        talk: Talk,
    },
    /// Power NODE off and keep it off.
    Fence {
        /// The node's name.
        node: String,
        #[command(flatten)]
        talk: Talk,
    },
    /// Admit a fenced NODE back: power it on as a standby holding nothing.
    Unfence {
        /// The node's name.
        node: String,
        #[command(flatten)]
        talk: Talk,
    },
    /// Convert a heartbeat configuration directory (ha.cf, haresources,
    /// authkeys) into Warden's cluster TOML.
    ImportHeartbeat(ImportArgs),
}

/// Arguments of `import-heartbeat`.
#[derive(Debug, Args)]
struct ImportArgs {
    /// The directory holding ha.cf, haresources and authkeys (e.g. /etc/ha.d).
    dir: PathBuf,
    /// Write the TOML here (atomically) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Where to write the key. Default: next to the output, with the
    /// extension `.key` (`warden.key` in the current directory for stdout).
    #[arg(long, value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// The cluster's name.
    #[arg(long, default_value = "heartbeat")]
    name: String,
}

fn main() -> ExitCode {
    if let Some(exit) = warden_manual::hook::<Cli>(warden_manual::Section::Admin) {
        return exit;
    }
    let cli = Cli::parse();
    let (talk, ask) = match cli.command {
        Command::ImportHeartbeat(args) => return finish(import_heartbeat(&args)),
        Command::Status(talk) => (talk, Ask::Status),
        Command::History(talk) => (talk, Ask::History),
        Command::Migrate { group, node, talk } => (talk, Ask::Op(OperatorOp::Migrate { group, node })),
        Command::Standby { node, talk } => (talk, Ask::Op(OperatorOp::Standby { node })),
        Command::Online { node, talk } => (talk, Ask::Op(OperatorOp::Online { node })),
        Command::Fence { node, talk } => (talk, Ask::Op(OperatorOp::Fence { node })),
        Command::Unfence { node, talk } => (talk, Ask::Op(OperatorOp::Unfence { node })),
    };
    if let Some(address) = &talk.controller {
        let config = talk.config.clone().unwrap_or_else(|| PathBuf::from(direct::DEFAULT_CONFIG));
        let outcome = match &ask {
            Ask::Status => direct::run_status(address, &config, talk.json),
            Ask::History => direct::run_history(address, &config, talk.json),
            Ask::Op(op) => direct::run_request(address, &config, op, talk.json),
        };
        print!("{}", outcome.stdout);
        if !outcome.stderr.is_empty() {
            eprintln!("wardenctl: {}", outcome.stderr);
        }
        return ExitCode::from(outcome.exit.code());
    }
    let env = std::env::var("WARDEN_SOCKET").ok();
    let choice = match choose_socket(talk.socket.as_deref(), talk.config.as_deref(), env.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("wardenctl: {e}");
            return ExitCode::from(Exit::Agent.code());
        }
    };
    let outcome = match ask {
        Ask::Status => run_status(choice.path(), talk.json),
        Ask::History => run_history(choice.path(), talk.json),
        Ask::Op(op) => run_request(choice.path(), op, talk.json),
    };
    print!("{}", outcome.stdout);
    if !outcome.stderr.is_empty() {
        eprintln!("wardenctl: {}", outcome.stderr);
        if outcome.exit == Exit::Agent {
            eprintln!("wardenctl: (socket {}: {})", choice.path().display(), choice.origin());
        }
    }
    ExitCode::from(outcome.exit.code())
}

/// What a command asks of the controller.
#[derive(Debug)]
enum Ask {
    Status,
    History,
    Op(OperatorOp),
}

fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wardenctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_owned())
    } else {
        Ok(std::env::current_dir().context("current directory")?.join(p))
    }
}

fn import_heartbeat(args: &ImportArgs) -> anyhow::Result<()> {
    let output = args.output.as_deref().map(absolute).transpose()?;
    let key_path = match (&args.key_file, &output) {
        (Some(k), _) => absolute(k)?,
        (None, Some(o)) => o.with_extension("key"),
        (None, None) => absolute(Path::new("warden.key"))?,
    };
    if output.as_deref() == Some(key_path.as_path()) {
        anyhow::bail!("the key file and the output are the same file: {}", key_path.display());
    }
    // The TOML names the key file relative to itself when they share a
    // directory, so the pair can be moved together.
    let reference = match (&output, key_path.parent(), key_path.file_name()) {
        (Some(o), Some(kdir), Some(kname)) if o.parent() == Some(kdir) => PathBuf::from(kname),
        _ => key_path.clone(),
    };
    let import = import_dir(&args.dir, &Options { name: args.name.clone(), key_file: reference })?;
    for u in &import.unmapped {
        eprintln!("{u}");
    }
    for n in &import.notes {
        eprintln!("note: {n}");
    }
    // The key first, so the configuration never names a missing key file.
    if let Some(key) = &import.key {
        let mut bytes = key.clone();
        bytes.push(b'\n');
        write_atomic(&key_path, &bytes, 0o600).with_context(|| format!("writing key file {}", key_path.display()))?;
        eprintln!("wrote key file {} (mode 0600)", key_path.display());
    }
    match &output {
        Some(o) => {
            write_atomic(o, import.toml.as_bytes(), 0o644).with_context(|| format!("writing {}", o.display()))?;
            eprintln!("wrote {}", o.display());
        }
        None => print!("{}", import.toml),
    }
    Ok(())
}
