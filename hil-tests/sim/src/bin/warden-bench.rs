//! `warden-bench`: how much a controller step, an agent step and a frame
//! cost, and how fast the simulator runs. Prints a table (or JSON); the
//! method is in [`warden_sim::bench`].
//!
//! ```text
//! warden-bench [--quick] [--json]
//! ```

use std::process::ExitCode;

use clap::Parser;
use warden_sim::bench::Report;

/// Costs of a controller step, an agent step and a frame, and the
/// simulator's speed.
#[derive(Debug, Parser)]
#[command(name = "warden-bench", version)]
struct Cli {
    /// Fewer and shorter measurements: a quick look, not figures to quote.
    #[arg(long)]
    quick: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let report = match Report::measure(cli.quick) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("warden-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cli.json {
        match serde_json::to_string(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("warden-bench: the report did not serialise: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        println!("warden-bench: cores={} mode={}", report.cores, if report.quick { "quick" } else { "full" });
        print!("{}", report.table());
    }
    ExitCode::SUCCESS
}
