//! `warden-controller`: the Warden controller on Linux.
//!
//! ```text
//! warden-controller --cluster /etc/warden/cluster.toml --controller /etc/warden/controller.toml
//! warden-controller --cluster ... --controller ... --check
//! ```
//!
//! Reads both files (refused whole on any problem, naming file, line and
//! key), boots (fence file and relay sense first), and runs until SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use warden_cluster::hardware as config;
use warden_controller_linux::run::Driver;

/// The Warden controller: heartbeats, power relays and failover decisions.
#[derive(Debug, Parser)]
#[command(name = "warden-controller", version)]
struct Cli {
    /// The cluster configuration (nodes, groups, timing, key file).
    #[arg(long, value_name = "FILE")]
    cluster: PathBuf,
    /// The controller's hardware (links, relays, watchdog, fence file, socket).
    #[arg(long, value_name = "FILE")]
    controller: PathBuf,
    /// Check both files and exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    if let Some(exit) = warden_manual::hook::<Cli>(warden_manual::Section::Admin) {
        return exit;
    }
    let result = run(&Cli::parse());
    // What the log thread still holds goes out before the process ends.
    warden_bsp::linux::log_lines::flush_all(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden-controller: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let cluster = warden_cluster::load(&cli.cluster)?;
    let hw = config::load(&cli.controller, &cluster)?;
    if cli.check {
        println!("ok: {} nodes, {} groups", hw.nodes.len(), cluster.groups.len());
        return Ok(());
    }
    let driver = Driver::boot(cluster, hw).context("boot")?;
    driver.run().context("main loop")?;
    Ok(())
}
