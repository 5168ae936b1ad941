//! A monitor as a member of a group: the protocol half counts monitors as
//! the group's last resources, so each needs a presence of its own and a
//! verdict that only turns after the configured failures in a row.

use std::time::Instant;

use super::Monitor;
use crate::resource::{Health, Presence, Resource, ResourceError};

/// A [`Monitor`] placed at the end of a group.
///
/// * `start` arms it, `stop` disarms it; neither touches the system.
/// * `probe` is [`Presence::Active`] while armed, [`Presence::Inactive`]
///   otherwise: a monitor is "there" exactly when the group around it was
///   started. (Were it always active, every node would report every group
///   held; were it the check's verdict, a failing check would make a held
///   group look half released.)
/// * `monitor` runs the check at most once per the monitor's own interval
///   (the protocol half may ask more often, for the group's other
///   resources) and is [`Health::Unhealthy`] only after `failures` failed
///   checks in a row; a check that cannot even run counts as failed. In
///   between it repeats the last verdict.
#[derive(Debug)]
pub struct GroupMonitor {
    monitor: Monitor,
    armed: bool,
    /// Failed checks in a row, and the reason of the last one.
    failed: u32,
    last_failure: Option<String>,
    last_check: Option<Instant>,
}

impl GroupMonitor {
    /// A disarmed member for `monitor`, whose interval and failure threshold
    /// ([`Monitor::with_schedule`]) it follows.
    pub fn new(monitor: Monitor) -> Self {
        Self { monitor, armed: false, failed: 0, last_failure: None, last_check: None }
    }

    /// The monitor it wraps.
    pub fn as_monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Failed checks in a row so far.
    pub fn failures_in_a_row(&self) -> u32 {
        self.failed
    }

    fn verdict(&self) -> Health {
        let threshold = self.monitor.failure_threshold.max(1);
        match &self.last_failure {
            Some(why) if self.failed >= threshold => {
                Health::Unhealthy(format!("{why} ({} failed checks in a row, threshold {threshold})", self.failed))
            }
            _ => Health::Healthy,
        }
    }

    fn due(&self) -> bool {
        self.last_check.is_none_or(|at| at.elapsed() >= self.monitor.interval)
    }

    fn reset(&mut self) {
        self.failed = 0;
        self.last_failure = None;
        self.last_check = None;
    }
}

impl Resource for GroupMonitor {
    fn describe(&self) -> String {
        self.monitor.describe()
    }

    fn start(&mut self) -> Result<(), ResourceError> {
        self.reset();
        self.armed = true;
        Ok(())
    }

    fn stop(&mut self) -> Result<(), ResourceError> {
        self.reset();
        self.armed = false;
        Ok(())
    }

    fn probe(&mut self) -> Result<Presence, ResourceError> {
        Ok(if self.armed { Presence::Active } else { Presence::Inactive })
    }

    fn monitor(&mut self) -> Result<Health, ResourceError> {
        if !self.due() {
            return Ok(self.verdict());
        }
        self.last_check = Some(Instant::now());
        match self.monitor.run() {
            Ok(Health::Healthy) => {
                self.failed = 0;
                self.last_failure = None;
            }
            Ok(Health::Unhealthy(why)) => {
                self.failed = self.failed.saturating_add(1);
                self.last_failure = Some(why);
            }
            Err(e) => {
                self.failed = self.failed.saturating_add(1);
                self.last_failure = Some(format!("{}: the check could not run: {e}", self.monitor.describe()));
            }
        }
        Ok(self.verdict())
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::time::Duration;

    use super::super::Check;
    use super::*;

    /// A TCP monitor of a port nothing listens on (bound, then closed).
    fn closed_port_monitor(failures: u32, interval: Duration) -> GroupMonitor {
        let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        GroupMonitor::new(Monitor::tcp(addr, Duration::from_secs(1)).unwrap().with_schedule(interval, failures))
    }

    #[test]
    fn presence_follows_start_and_stop() {
        let mut m = closed_port_monitor(1, Duration::ZERO);
        assert_eq!(m.probe().unwrap(), Presence::Inactive);
        m.start().unwrap();
        assert_eq!(m.probe().unwrap(), Presence::Active);
        m.stop().unwrap();
        assert_eq!(m.probe().unwrap(), Presence::Inactive);
    }

    #[test]
    fn unhealthy_only_after_the_threshold_and_healthy_again_after_a_pass() {
        let mut m = closed_port_monitor(3, Duration::ZERO);
        m.start().unwrap();
        assert_eq!(m.monitor().unwrap(), Health::Healthy);
        assert_eq!(m.monitor().unwrap(), Health::Healthy);
        assert_eq!(m.failures_in_a_row(), 2);
        let Health::Unhealthy(why) = m.monitor().unwrap() else { panic!("third failure must be unhealthy") };
        assert!(why.contains("TCP monitor of 127.0.0.1:") && why.contains("3 failed checks in a row"), "{why}");

        // A listener on the port makes the next check pass and clears the count.
        let Check::Tcp { addr } = m.monitor.check().clone() else { unreachable!() };
        let _listener = TcpListener::bind(addr).unwrap();
        assert_eq!(m.monitor().unwrap(), Health::Healthy);
        assert_eq!(m.failures_in_a_row(), 0);
    }

    #[test]
    fn checks_at_most_once_per_interval() {
        let mut m = closed_port_monitor(1, Duration::from_secs(3600));
        m.start().unwrap();
        assert!(matches!(m.monitor().unwrap(), Health::Unhealthy(_)));
        // Asked again at once: the last verdict, no new check.
        assert!(matches!(m.monitor().unwrap(), Health::Unhealthy(_)));
        assert_eq!(m.failures_in_a_row(), 1);
        // A restart (stop, start) forgets the verdict.
        m.stop().unwrap();
        m.start().unwrap();
        assert_eq!(m.failures_in_a_row(), 0);
    }
}
