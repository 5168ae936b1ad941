//! The rig's own "hardware" threads (serial lines, relay board) run under
//! `SCHED_FIFO`, so that loading the CPUs (`soak --stress`) slows the
//! agents and the controller, which are under test, and not the wires
//! between them. They only move bytes and never spin.

use std::sync::atomic::{AtomicBool, Ordering};

use thread_priority::{
    set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue,
    ThreadSchedulePolicy,
};

/// The priority of the rig's hardware threads: above any the agent or the
/// controller would be given in a test of real-time settings.
pub const RIG_PRIORITY: u8 = 80;

static WARNED: AtomicBool = AtomicBool::new(false);

/// Puts the calling thread under `SCHED_FIFO` at [`RIG_PRIORITY`]; says
/// once on stderr when the system refuses (the rig still works, with its
/// wires as exposed to load as everything else).
pub fn raise_rig_thread() {
    let result = warden_bsp::linux::realtime::raise_thread(RIG_PRIORITY);
    if let Err(e) = result {
        if !WARNED.swap(true, Ordering::Relaxed) {
            eprintln!("warden-rig: note: the rig's line threads run without real-time priority ({e})");
        }
    }
}

/// Whether this process may run a thread under `SCHED_FIFO` at
/// `priority`: tried on a short-lived thread of its own.
///
/// # Errors
///
/// What the system said.
pub fn can_run_realtime(priority: u8) -> Result<(), String> {
    std::thread::spawn(move || warden_bsp::linux::realtime::raise_thread(priority))
        .join()
        .map_err(|_| "the probe thread panicked".to_owned())?
}

/// Puts the calling thread back under normal scheduling. A server's keeper
/// does this first: it is started by a hardware thread, and the server's
/// processes must not inherit the rig's real-time priority.
///
/// # Errors
///
/// What the system said.
pub fn normal_scheduling() -> Result<(), String> {
    // thread-priority maps 0..=99 onto nice 19..=-20 for normal policies;
    // 47 is nice 0, the default.
    const NICE_ZERO: u8 = 47;
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(ThreadPriorityValue::try_from(NICE_ZERO).map_err(|e| format!("{e:?}"))?),
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other),
    )
    .map_err(|e| format!("{e:?}"))
}

/// Puts the calling thread under `SCHED_IDLE`: it runs only on CPU time
/// nothing else wants. The rig's load generators use it, so that a load
/// aimed at a daemon takes CPU from no one but itself, as a load from
/// another machine would: the rig's own lines (their kworkers, the
/// network's softirq threads) and the daemons' threads, whatever their
/// priority, come first.
///
/// # Errors
///
/// What the system said.
pub fn idle_scheduling() -> Result<(), String> {
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(ThreadPriorityValue::try_from(0u8).map_err(|e| format!("{e:?}"))?),
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
    )
    .map_err(|e| format!("{e:?}"))
}
