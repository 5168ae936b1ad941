//! SIGINT and SIGTERM end a run cleanly: they are blocked in every thread
//! and received by one waiting thread, which sets a flag that every wait of
//! the rig checks; the run then fails with [`RigError::Interrupted`] and
//! its guards remove what it created. Programs the rig starts inherit the
//! blocked mask (the standard library does not reset it): a server's
//! keeper clears it for everything the server runs, and the Linux
//! controller blocks these signals for its own signal descriptor anyway.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SigSet, Signal};

use crate::RigError;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Blocks SIGINT and SIGTERM and starts the thread that waits for them.
/// Call it first, before any other thread starts.
///
/// # Errors
///
/// [`RigError::Io`] when the mask cannot be set or the thread started.
pub fn install() -> Result<(), RigError> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.thread_block().map_err(RigError::os("blocking SIGINT and SIGTERM"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            while let Ok(signal) = set.wait() {
                if !INTERRUPTED.swap(true, Ordering::SeqCst) {
                    eprintln!("warden-rig: {signal}: stopping and cleaning up");
                }
            }
        })
        .map_err(RigError::io("starting the signal thread"))?;
    Ok(())
}

/// Fails once SIGINT or SIGTERM has come.
///
/// # Errors
///
/// [`RigError::Interrupted`].
pub fn check() -> Result<(), RigError> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err(RigError::Interrupted)
    } else {
        Ok(())
    }
}
