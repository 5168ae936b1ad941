//! What the controller needs to know about the cluster: nodes, groups and
//! timing. The host side parses the operator's TOML into this (and, for the
//! MCU, serialises it as a postcard blob); the core only validates it.

use heapless::Vec;
use serde::{Deserialize, Serialize};

use crate::ids::{NodeId, MAX_GROUPS, MAX_NODES};
use crate::time::Duration;

/// Timing of the cluster. All values are milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timing {
    /// How often beats and statuses are sent (heartbeat's `keepalive`).
    pub keepalive: Duration,
    /// Silence after which a node is reported late (warning only).
    pub warntime: Duration,
    /// Silence after which a node is declared dead.
    pub deadtime: Duration,
    /// Silence tolerated after the controller boots or a node is powered on.
    pub initdead: Duration,
    /// How long a node may take to confirm a release before it is fenced.
    pub release_timeout: Duration,
    /// How long the power switch may take to confirm "off" before an alarm
    /// (nothing moves until it confirms).
    pub fence_timeout: Duration,
    /// How long the home node must be stably up before auto-failback.
    pub failback_delay: Duration,
    /// Window for move damping.
    pub move_window: Duration,
    /// Most automatic moves of one group within `move_window`.
    pub max_moves: u8,
    /// How long a node that reported a group failing is kept off that group.
    pub failure_timeout: Duration,
    /// Power a fenced node on again by itself after this long (`None`: only
    /// an operator `unfence` does).
    pub auto_unfence_after: Option<Duration>,
}

impl Timing {
    /// Heartbeat-like defaults scaled for a serial link: keepalive 1 s,
    /// warntime 5 s, deadtime 10 s, initdead 30 s.
    pub const DEFAULT: Self = Self {
        keepalive: Duration::from_millis(1000),
        warntime: Duration::from_millis(5000),
        deadtime: Duration::from_millis(10_000),
        initdead: Duration::from_millis(30_000),
        release_timeout: Duration::from_millis(30_000),
        fence_timeout: Duration::from_millis(5000),
        failback_delay: Duration::from_millis(30_000),
        move_window: Duration::from_millis(300_000),
        max_moves: 3,
        failure_timeout: Duration::from_millis(600_000),
        auto_unfence_after: None,
    };

    /// Checks the timing the way heartbeat did, and stricter. The error names
    /// the key that is wrong.
    pub fn validate(&self) -> Result<(), TimingError> {
        let Self { keepalive, warntime, deadtime, initdead, release_timeout, fence_timeout, .. } = *self;
        if keepalive.0 == 0 {
            return Err(TimingError { key: "keepalive", problem: TimingProblem::Zero });
        }
        if deadtime.0 <= keepalive.0.saturating_mul(2) {
            return Err(TimingError { key: "deadtime", problem: TimingProblem::DeadtimeTooShort });
        }
        if warntime.0 <= keepalive.0 || warntime.0 >= deadtime.0 {
            return Err(TimingError { key: "warntime", problem: TimingProblem::WarntimeOutside });
        }
        if initdead.0 < deadtime.0 {
            return Err(TimingError { key: "initdead", problem: TimingProblem::InitdeadShort });
        }
        if release_timeout.0 == 0 {
            return Err(TimingError { key: "release_timeout", problem: TimingProblem::Zero });
        }
        if fence_timeout.0 == 0 {
            return Err(TimingError { key: "fence_timeout", problem: TimingProblem::Zero });
        }
        if self.max_moves == 0 {
            return Err(TimingError { key: "max_moves", problem: TimingProblem::Zero });
        }
        Ok(())
    }
}

/// A timing value that is wrong, and which key holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimingError {
    /// The configuration key (`keepalive`, `deadtime`, ...).
    pub key: &'static str,
    /// What is wrong with it.
    pub problem: TimingProblem,
}

/// What is wrong with a timing value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimingProblem {
    /// Must be greater than zero.
    Zero,
    /// `deadtime` must be more than twice `keepalive`.
    DeadtimeTooShort,
    /// `warntime` must lie strictly between `keepalive` and `deadtime`.
    WarntimeOutside,
    /// `initdead` must be at least `deadtime`.
    InitdeadShort,
}

impl core::fmt::Display for TimingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let why = match self.problem {
            TimingProblem::Zero => "must be greater than zero",
            TimingProblem::DeadtimeTooShort => "must be more than twice keepalive",
            TimingProblem::WarntimeOutside => "must be greater than keepalive and less than deadtime",
            TimingProblem::InitdeadShort => "must be at least deadtime",
        };
        write!(f, "timing key `{}` {}", self.key, why)
    }
}

impl core::error::Error for TimingError {}

/// Where one service group may be placed, as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GroupPlacement {
    /// Nodes that may hold the group, in order of preference; the first is
    /// home (the first word of a haresources line).
    pub eligible: Vec<NodeId, MAX_NODES>,
    /// Move the group back home once home is stably up.
    pub auto_failback: bool,
}

/// The cluster as the controller sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClusterConfig {
    /// Number of nodes; node ids are `0..nodes`.
    pub nodes: u8,
    /// The groups; group ids are indices into this list.
    pub groups: Vec<GroupPlacement, MAX_GROUPS>,
    /// Timing.
    pub timing: Timing,
    /// Fence a dead node even when its last report proves it held nothing.
    pub fence_idle_dead: bool,
}

/// A configuration the controller refuses, with the offending key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `nodes` is zero or above [`MAX_NODES`].
    NodeCount(u8),
    /// A group lists no eligible node.
    NoEligibleNode {
        /// Index of the group.
        group: u8,
    },
    /// A group lists a node id that is not in the cluster, or lists it twice.
    BadEligibleNode {
        /// Index of the group.
        group: u8,
        /// The bad node id.
        node: u8,
    },
    /// Timing is wrong.
    Timing(TimingError),
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NodeCount(n) => write!(f, "`nodes` is {n}: must be 1..={MAX_NODES}"),
            Self::NoEligibleNode { group } => write!(f, "group {group} has no eligible node"),
            Self::BadEligibleNode { group, node } => {
                write!(f, "group {group} lists node {node}, which is not in the cluster or is listed twice")
            }
            Self::Timing(t) => t.fmt(f),
        }
    }
}

impl core::error::Error for ConfigError {}

impl ClusterConfig {
    /// No nodes, no groups (invalid: a placeholder for an idle controller).
    pub const EMPTY: Self = Self { nodes: 0, groups: Vec::new(), timing: Timing::DEFAULT, fence_idle_dead: false };

    /// Checks the whole configuration; nothing is half-accepted.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.nodes == 0 || usize::from(self.nodes) > MAX_NODES {
            return Err(ConfigError::NodeCount(self.nodes));
        }
        for (gi, g) in self.groups.iter().enumerate() {
            let group = u8::try_from(gi).unwrap_or(u8::MAX);
            if g.eligible.is_empty() {
                return Err(ConfigError::NoEligibleNode { group });
            }
            let mut seen = 0u32;
            for n in &g.eligible {
                if n.0 >= self.nodes || seen & (1 << n.0) != 0 {
                    return Err(ConfigError::BadEligibleNode { group, node: n.0 });
                }
                seen |= 1 << n.0;
            }
        }
        self.timing.validate().map_err(ConfigError::Timing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Timing)) -> Result<(), TimingError> {
        let mut t = Timing::DEFAULT;
        f(&mut t);
        t.validate()
    }

    #[test]
    fn default_timing_is_valid() {
        assert_eq!(Timing::DEFAULT.validate(), Ok(()));
    }

    #[test]
    fn bad_timing_names_the_key() {
        type Edit = fn(&mut Timing);
        let cases: [(Edit, &str); 8] = [
            (|t| t.keepalive = Duration(0), "keepalive"),
            (|t| t.deadtime = Duration(2000), "deadtime"),
            (|t| t.warntime = Duration(1000), "warntime"),
            (|t| t.warntime = Duration(10_000), "warntime"),
            (|t| t.initdead = Duration(9_999), "initdead"),
            (|t| t.release_timeout = Duration(0), "release_timeout"),
            (|t| t.fence_timeout = Duration(0), "fence_timeout"),
            (|t| t.max_moves = 0, "max_moves"),
        ];
        for (edit, key) in cases {
            match with(edit) {
                Err(err) => assert_eq!(err.key, key),
                Ok(()) => unreachable!("timing with a bad `{key}` was accepted"),
            }
        }
    }

    #[test]
    fn millisecond_timing_is_accepted() {
        let t = Timing {
            keepalive: Duration(20),
            warntime: Duration(60),
            deadtime: Duration(100),
            initdead: Duration(200),
            ..Timing::DEFAULT
        };
        assert_eq!(t.validate(), Ok(()));
    }
}
