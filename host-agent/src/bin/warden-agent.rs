//! `warden-agent`: the host agent daemon's command line.
//!
//! Subcommands:
//! * `check --config FILE [--json] [--no-key-file]`: validate a cluster
//!   configuration; prints `ok: N nodes, M groups, K resources` or the error
//!   (`FILE:LINE: key `path`: what is wrong`) and exits 1.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use warden_agent::config::{self, Config, ConfigError};

/// Warden's host agent.
#[derive(Debug, Parser)]
#[command(name = "warden-agent", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What to do. Each subcommand has its own argument struct.
#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a cluster configuration file (and its key file).
    Check(CheckArgs),
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
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check(&args),
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

fn summary(c: &Config) -> String {
    format!("ok: {} nodes, {} groups, {} resources", c.nodes.len(), c.groups.len(), c.resource_count())
}
