//! `warden-agent`: the host agent daemon's command line.
//!
//! Subcommands:
//! * `run --config FILE [--node NAME]`: the daemon (see
//!   [`warden_agent::daemon`]); stops on `SIGTERM`/`SIGINT` holding
//!   everything as it is.
//! * `debug-start|debug-stop|debug-monitor GROUP --config FILE`: one group's
//!   resources run by hand (see [`warden_agent::debug`]); exit 1 on the
//!   first failure, 2 when the command could not run at all.
//! * `check --config FILE [--json] [--no-key-file]`: validate a cluster
//!   configuration; prints `ok: N nodes, M groups, K resources` or the error
//!   (`FILE:LINE: key `path`: what is wrong`) and exits 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use warden_agent::{daemon, debug};
use warden_cluster::{self as config, ClusterFile, ConfigError};

/// Warden's host agent.
#[derive(Debug, Parser)]
#[command(name = "warden-agent", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to do. Each subcommand has its own argument struct.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent daemon.
    Run(RunArgs),
    /// Start a group's resources here by hand, left to right.
    DebugStart(DebugArgs),
    /// Stop a group's resources here by hand, right to left.
    DebugStop(DebugArgs),
    /// Check every resource of a group here by hand.
    DebugMonitor(DebugArgs),
    /// Validate a cluster configuration file (and its key file).
    Check(CheckArgs),
}

/// Arguments of `run`.
#[derive(Debug, Args)]
struct RunArgs {
    /// The cluster configuration (TOML).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
    /// This node's name in the configuration (default: the host name, `uname -n`).
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    #[command(flatten)]
    paths: PathArgs,
}

/// Paths that override the configuration's `[agent]` table.
#[derive(Debug, Args)]
struct PathArgs {
    /// The control socket (overrides `agent.socket`; the lock file sits next to it).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Where resources keep state across restarts (overrides `agent.state_dir`).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

/// Arguments of the debug commands.
#[derive(Debug, Args)]
struct DebugArgs {
    /// The group, by name.
    group: String,
    /// The cluster configuration (TOML).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
    /// Run even while an agent runs (it may fight over the same resources).
    #[arg(long)]
    force: bool,
    /// Print one JSON object (the whole report) on stdout instead of lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    paths: PathArgs,
}

/// Arguments of `check`.
#[derive(Debug, Args)]
struct CheckArgs {
    /// The cluster configuration (TOML).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Check the file only, not the key file it names (for checking a
    /// configuration away from the nodes).
    #[arg(long)]
    no_key_file: bool,
}

fn main() -> ExitCode {
    if let Some(exit) = warden_manual::hook::<Cli>(warden_manual::Section::Admin) {
        return exit;
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(args),
        Command::DebugStart(args) => debug(debug::Command::DebugStart, args),
        Command::DebugStop(args) => debug(debug::Command::DebugStop, args),
        Command::DebugMonitor(args) => debug(debug::Command::DebugMonitor, args),
        Command::Check(args) => check(&args),
    }
}

fn run(args: RunArgs) -> ExitCode {
    let options = daemon::Options {
        config: args.config,
        node: args.node,
        socket: args.paths.socket,
        state_dir: args.paths.state_dir,
    };
    let result = daemon::run(&options);
    // What the log thread still holds goes out before the process ends.
    warden_bsp::linux::log_lines::flush_all(std::time::Duration::from_secs(2));
    match result {
        Ok(daemon::Stopped::Signal(_)) => ExitCode::SUCCESS,
        Err(e) => {
            // Each error's own words already carry its cause.
            eprintln!("warden-agent run: {e}");
            ExitCode::FAILURE
        }
    }
}

fn debug(command: debug::Command, args: DebugArgs) -> ExitCode {
    let options = debug::Options {
        config: args.config,
        group: args.group,
        socket: args.paths.socket,
        state_dir: args.paths.state_dir,
        force: args.force,
    };
    let json = args.json;
    let result = debug::run(command, &options, |phase, step| match (json, phase) {
        (true, _) => {}
        (false, debug::Phase::Main) => println!("{}", step.text()),
        (false, debug::Phase::RollBack) => println!("  undo {}", step.text()),
    });
    match result {
        Ok(report) => {
            if json {
                match serde_json::to_string(&report) {
                    Ok(text) => println!("{text}"),
                    Err(e) => eprintln!("{}: cannot write the report as JSON: {e}", command.name()),
                }
            } else {
                println!("{}", report.summary());
            }
            if report.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            if json {
                println!("{}", serde_json::json!({ "command": command.name(), "ok": false, "error": e.to_string() }));
            } else {
                eprintln!("{}: {e}", command.name());
            }
            ExitCode::from(2)
        }
    }
}

fn check(args: &CheckArgs) -> ExitCode {
    let result = if args.no_key_file {
        std::fs::read_to_string(&args.config)
            .map_err(|source| ConfigError::Read {
                origin: args.config.display().to_string(),
                path: args.config.clone(),
                source,
            })
            .and_then(|text| config::parse(&text, &args.config.display().to_string()))
    } else {
        config::load(&args.config)
    };
    match (result, args.json) {
        (Ok(c), false) => {
            println!("{}", summary(&c));
            ExitCode::SUCCESS
        }
        (Ok(c), true) => {
            let v = serde_json::json!({
                "ok": true,
                "nodes": c.nodes.len(),
                "groups": c.groups.len(),
                "resources": c.resource_count(),
                "monitors": c.monitor_count(),
            });
            println!("{v}");
            ExitCode::SUCCESS
        }
        (Err(e), false) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
        (Err(e), true) => {
            let v = serde_json::json!({
                "ok": false,
                "error": e.to_string(),
                "line": e.line(),
                "key": e.key(),
            });
            println!("{v}");
            ExitCode::FAILURE
        }
    }
}

fn summary(c: &ClusterFile) -> String {
    format!("ok: {} nodes, {} groups, {} resources", c.nodes.len(), c.groups.len(), c.resource_count())
}
