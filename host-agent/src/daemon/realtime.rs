//! Keeping the agent responsive on a loaded host: its memory locked
//! (`mlockall`, so paging never stalls a beat) and its main loop under
//! `SCHED_FIFO`, as heartbeat ran realtime.
//!
//! Only the thread that calls [`raise_main_loop`] is raised, and it must be
//! called after every other thread of the agent has been started: threads
//! and processes inherit their creator's policy, and resource steps,
//! scripts and alert commands must keep normal scheduling (a runaway script
//! at realtime priority would starve the host).

use nix::sys::mman::{mlockall, MlockAllFlags};
use thread_priority::{
    set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy, ThreadPriority,
    ThreadPriorityValue, ThreadSchedulePolicy,
};

/// Locks the agent's memory, now and to come.
pub(crate) fn lock_memory() -> Result<(), String> {
    mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE)
        .map_err(|e| format!("cannot lock the agent's memory (mlockall): {e}"))
}

/// Puts the calling thread under `SCHED_FIFO` at `priority` (1 to 99).
pub(crate) fn raise_main_loop(priority: u8) -> Result<(), String> {
    let value = ThreadPriorityValue::try_from(priority)
        .map_err(|e| format!("realtime priority {priority} is not valid: {e:?}"))?;
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(value),
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .map_err(|e| format!("cannot run the main loop under SCHED_FIFO priority {priority}: {e:?}"))
}
