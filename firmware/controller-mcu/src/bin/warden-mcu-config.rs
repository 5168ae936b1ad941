//! `warden-mcu-config CLUSTER.toml -o config.bin`: the MCU controller's
//! configuration blob, made from the cluster file (nodes, groups, timing,
//! each node's relay channel, and the key from the file named by
//! `key_file`). The firmware reads it at `0x3f000`; under QEMU:
//! `-device loader,file=config.bin,addr=0x3f000`.
//!
//! A host tool: on the MCU target this binary is an empty image.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

#[cfg(not(target_os = "none"))]
fn main() -> std::process::ExitCode {
    match host::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden-mcu-config: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(target_os = "none"))]
mod host {
    use std::path::PathBuf;

    use anyhow::{bail, Context as _};
    use clap::Parser;
    use warden_cluster::{load, read_key, AuthKind};
    use warden_controller_mcu::blob::{self, AuthConfig, BoardConfig, REGION_LEN};
    use warden_controller_mcu::LINK_UARTS;

    /// Makes the MCU controller's configuration blob from the cluster file.
    #[derive(Debug, Parser)]
    #[command(version)]
    struct Args {
        /// The cluster file (TOML).
        cluster: PathBuf,
        /// Where to write the blob.
        #[arg(short, long)]
        output: PathBuf,
    }

    pub(crate) fn run() -> anyhow::Result<()> {
        let args = Args::parse();
        let cluster = load(&args.cluster).map_err(|e| anyhow::anyhow!("{e}"))?;
        let auth = match cluster.cluster.auth {
            AuthKind::Crc => AuthConfig::Crc,
            AuthKind::Hmac => {
                let Some(path) = cluster.cluster.key_file.as_ref() else {
                    bail!("{}: auth is hmac but no key_file is given", args.cluster.display());
                };
                let key = read_key(path)?;
                AuthConfig::Hmac(
                    heapless::Vec::from_slice(&key)
                        .map_err(|()| anyhow::anyhow!("{}: key too long", path.display()))?,
                )
            }
        };
        let mut relays = heapless::Vec::new();
        for node in &cluster.nodes {
            if relays.push(node.relay).is_err() {
                bail!("{}: more nodes than a controller arbitrates", args.cluster.display());
            }
        }
        let config = BoardConfig { cluster: cluster.cluster_config(), auth, relays };
        config
            .validate(LINK_UARTS)
            .with_context(|| format!("{}: the MCU controller cannot run this cluster", args.cluster.display()))?;
        let mut region = [0u8; REGION_LEN];
        let len = blob::encode(&config, &mut region).with_context(|| args.cluster.display().to_string())?;
        std::fs::write(&args.output, region.get(..len).unwrap_or_default())
            .with_context(|| format!("writing {}", args.output.display()))?;
        println!(
            "{}: {} bytes for {} nodes and {} groups (load it at {:#x})",
            args.output.display(),
            len,
            config.cluster.nodes,
            config.cluster.groups.len(),
            warden_controller_mcu::CONFIG_ADDRESS
        );
        Ok(())
    }
}
