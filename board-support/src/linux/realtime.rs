//! Keeping a daemon responsive on a loaded host: its memory locked
//! (`mlockall`, so paging never stalls a beat) and its heartbeat threads
//! under `SCHED_FIFO`.
//!
//! [`raise_thread`] raises only the thread that calls it, and it must be
//! called after every thread that must keep normal scheduling has been
//! started: threads and processes inherit their creator's policy, and
//! resource steps, scripts and alert commands must keep normal scheduling
//! (a runaway script at real-time priority would starve the host).

use nix::sys::mman::{mlockall, MlockAllFlags};
use thread_priority::{
    set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy, ThreadPriority,
    ThreadPriorityValue, ThreadSchedulePolicy,
};

/// Locks the process's memory, now and to come.
///
/// # Errors
///
/// What the system said.
pub fn lock_memory() -> Result<(), String> {
    mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE).map_err(|e| format!("mlockall: {e}"))
}

/// Puts the calling thread under `SCHED_FIFO` at `priority` (1 to 99).
///
/// # Errors
///
/// What the system said.
pub fn raise_thread(priority: u8) -> Result<(), String> {
    let value = ThreadPriorityValue::try_from(priority).map_err(|e| format!("priority {priority}: {e:?}"))?;
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(value),
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .map_err(|e| format!("sched_setscheduler: {e:?}"))
}
