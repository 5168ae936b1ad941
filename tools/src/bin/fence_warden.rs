//! `fence_warden`: the fence agent for Warden controllers (see
//! `warden_tools::fence` and `docs/pacemaker.md`).
//!
//! ```text
//! fence_warden [OPTION]...        # flags
//! fence_warden < options          # key=value lines, as the fencer runs it
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    if let Some(exit) = warden_manual::hook_with(warden_tools::fence::manual::page) {
        return exit;
    }
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let exit = warden_tools::fence::run(
        &args,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr(),
    );
    ExitCode::from(exit.code())
}
