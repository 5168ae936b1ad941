//! `warden-frame`: decode captured Warden frames.
//!
//! ```text
//! warden-frame (--key-file PATH | --crc) [--hex] [--json] [CAPTURE|-]
//! ```
//!
//! Prints one line per frame (the message, or why the frame was refused)
//! and a last line with the decoder's counters.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Parser;
use warden_core::wire::{Auth, Key};
use warden_tools::frame::{decode_capture, describe, stats_line, unhex};

/// Decode a captured byte stream into Warden messages, frame by frame.
#[derive(Debug, Parser)]
#[command(name = "warden-frame", version)]
struct Cli {
    /// The capture: raw bytes as read from the line (or hex with --hex);
    /// `-` or nothing for standard input.
    capture: Option<PathBuf>,
    /// The cluster key file (HMAC frames); refused if group or others can read it.
    #[arg(long, value_name = "PATH", conflicts_with = "crc", required_unless_present = "crc")]
    key_file: Option<PathBuf>,
    /// The frames carry CRC-32C, not HMAC.
    #[arg(long)]
    crc: bool,
    /// The capture is hex text (white space, `:` and `-` ignored).
    #[arg(long)]
    hex: bool,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    if let Some(exit) = warden_manual::hook::<Cli>(warden_manual::Section::User) {
        return exit;
    }
    match run(&Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden-frame: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let auth = match &cli.key_file {
        Some(path) => {
            let bytes = warden_cluster::read_key(path)?;
            Auth::Hmac(Key::new(&bytes).map_err(|e| anyhow::anyhow!("key file {}: {e}", path.display()))?)
        }
        None if cli.crc => Auth::Crc,
        None => bail!("say how frames are protected: --key-file PATH or --crc"),
    };
    let mut raw = Vec::new();
    match cli.capture.as_deref() {
        None => std::io::stdin().read_to_end(&mut raw).context("reading standard input")?,
        Some(p) if p.as_os_str() == "-" => std::io::stdin().read_to_end(&mut raw).context("reading standard input")?,
        Some(p) => {
            raw = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            raw.len()
        }
    };
    let bytes = if cli.hex {
        let text = String::from_utf8(raw).context("hex input is not text")?;
        unhex(&text)?
    } else {
        raw
    };
    let (frames, stats) = decode_capture(&bytes, &auth);
    for frame in &frames {
        if cli.json {
            let line = match &frame.result {
                Ok(m) => serde_json::json!({"frame": frame.index, "ok": true, "message": m, "text": describe(m)}),
                Err(e) => serde_json::json!({"frame": frame.index, "ok": false, "error": e.to_string()}),
            };
            println!("{line}");
        } else {
            match &frame.result {
                Ok(m) => println!("#{} {}", frame.index, describe(m)),
                Err(e) => println!("#{} REFUSED: {e}", frame.index),
            }
        }
    }
    if cli.json {
        println!(
            "{}",
            serde_json::json!({"stats": {
                "ok": stats.ok, "rejected": stats.rejected(), "too_long": stats.too_long, "cobs": stats.cobs,
                "empty": stats.empty, "truncated": stats.truncated, "bad_tag": stats.bad_tag,
                "bad_version": stats.bad_version, "decode": stats.decode, "trailing_bytes": stats.trailing_bytes,
            }})
        );
    } else {
        println!("{}", stats_line(&stats));
    }
    Ok(())
}
