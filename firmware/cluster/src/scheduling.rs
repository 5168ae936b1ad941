//! How a Warden daemon (the host agent, the Linux controller) is scheduled:
//! its memory locked and its heartbeat threads under `SCHED_FIFO`, by
//! default, as heartbeat and corosync run. A busy server must not starve
//! the beats: a normal-priority daemon competes with every task on the
//! machine for each beat it sends or reads.
//!
//! `mlock = false` and `realtime_priority = 0` turn them off. When the file
//! says nothing and the system refuses (no `CAP_SYS_NICE`, no real-time
//! budget in the cgroup), the daemon says so and runs on at normal
//! scheduling; when the file asks for them, a refusal stops the daemon.

/// The priority of the heartbeat threads when the file does not say.
pub const DEFAULT_REALTIME_PRIORITY: u8 = 50;

/// Memory locking and real-time priority, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduling {
    /// Lock the daemon's memory (`mlockall`), so paging cannot stall it.
    pub mlock: bool,
    /// Run the heartbeat threads under `SCHED_FIFO` at this priority (1 to
    /// 99); `None`: normal scheduling.
    pub realtime_priority: Option<u8>,
    /// Whether the file set either: a refusal is then an error.
    pub explicit: bool,
}

impl Default for Scheduling {
    /// Memory locked, priority [`DEFAULT_REALTIME_PRIORITY`], not explicit.
    fn default() -> Self {
        Self { mlock: true, realtime_priority: Some(DEFAULT_REALTIME_PRIORITY), explicit: false }
    }
}

impl Scheduling {
    /// From the two keys as read (`None`: not in the file); priority 0
    /// means normal scheduling.
    #[must_use]
    pub fn from_keys(mlock: Option<bool>, realtime_priority: Option<u8>) -> Self {
        let default = Self::default();
        Self {
            mlock: mlock.unwrap_or(default.mlock),
            realtime_priority: match realtime_priority {
                None => default.realtime_priority,
                Some(0) => None,
                Some(p) => Some(p),
            },
            explicit: mlock.is_some() || realtime_priority.is_some(),
        }
    }

    /// Applies the settings with `lock` (locks memory) and `raise` (puts
    /// the calling thread under `SCHED_FIFO`); `note` gets a line for each
    /// thing done or, when the defaults were refused, what was not.
    ///
    /// # Errors
    ///
    /// What the system said, when the file asked and it refused.
    pub fn apply(
        &self,
        lock: impl FnOnce() -> Result<(), String>,
        raise: impl FnOnce(u8) -> Result<(), String>,
        mut note: impl FnMut(&str),
    ) -> Result<(), String> {
        let mut outcome = |done: Result<(), String>, what: String| match done {
            Ok(()) => {
                note(&what);
                Ok(())
            }
            Err(e) if self.explicit => Err(format!("{what}: refused: {e}")),
            Err(e) => {
                note(&format!(
                    "warning: {what} refused ({e}): running on without it; set `mlock = false` and \
                     `realtime_priority = 0` to run at normal scheduling on purpose"
                ));
                Ok(())
            }
        };
        if self.mlock {
            outcome(lock(), "memory locked (mlockall)".to_owned())?;
        }
        if let Some(p) = self.realtime_priority {
            outcome(raise(p), format!("heartbeat thread under SCHED_FIFO priority {p}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_soft_and_what_the_file_asks_is_not() {
        let refuse = |_| Err("EPERM".to_owned());
        let mut notes = Vec::new();
        let soft = Scheduling::from_keys(None, None);
        assert_eq!(soft, Scheduling { mlock: true, realtime_priority: Some(50), explicit: false });
        soft.apply(|| Ok(()), refuse, |n| notes.push(n.to_owned())).unwrap();
        assert_eq!(notes[0], "memory locked (mlockall)");
        assert!(
            notes[1].starts_with("warning: heartbeat thread under SCHED_FIFO priority 50 refused (EPERM)"),
            "{notes:?}"
        );
        let hard = Scheduling::from_keys(None, Some(20));
        let e = hard.apply(|| Ok(()), refuse, |_| {}).unwrap_err();
        assert_eq!(e, "heartbeat thread under SCHED_FIFO priority 20: refused: EPERM");
        let off = Scheduling::from_keys(Some(false), Some(0));
        assert_eq!(off, Scheduling { mlock: false, realtime_priority: None, explicit: true });
        off.apply(|| panic!("not asked"), |_| panic!("not asked"), |_| panic!("nothing to say")).unwrap();
    }
}
