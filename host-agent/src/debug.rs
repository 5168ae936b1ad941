//! One-shot debugging commands, as `crm_resource --force-start` is to
//! Pacemaker: run one group's resources directly on this host, without the
//! controller, and say what each step did and how long it took.
//!
//! * `debug-start`: start left to right. On the first failure, stop what
//!   was started (the failed resource included, as it may be partly up)
//!   right to left, and report the failure.
//! * `debug-stop`: stop right to left; stop at the first failure (what is
//!   left of it still holds what the resources to its left provide).
//! * `debug-monitor`: check every resource, left to right.
//!
//! The resources are built exactly as the daemon builds them
//! ([`crate::assemble`]), with one difference: a monitor counts one failed
//! check as a failure. They refuse to run while an agent (or another debug
//! command) holds the agent lock, unless forced: two parties starting and
//! stopping the same resources is how split brains begin.
//!
//! A started group is left running when the command exits: supervised
//! commands are no longer supervised then, but their pid files let
//! `debug-stop` and the daemon find them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::assemble::{self, Purpose};
use crate::lock::{AgentLock, LockError};
use crate::perform::{perform, Performed};
use crate::resource::Resource;
use warden_agent_proto::Action;
use warden_cluster::{self as config, ConfigError};

/// Which command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Command {
    /// `debug-start`.
    DebugStart,
    /// `debug-stop`.
    DebugStop,
    /// `debug-monitor`.
    DebugMonitor,
}

impl Command {
    /// `debug-start`, ...
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::DebugStart => "debug-start",
            Self::DebugStop => "debug-stop",
            Self::DebugMonitor => "debug-monitor",
        }
    }
}

/// What the command was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The cluster configuration file.
    pub config: PathBuf,
    /// The group's name.
    pub group: String,
    /// Overrides `agent.socket` (the lock file sits next to it).
    pub socket: Option<PathBuf>,
    /// Overrides `agent.state_dir`.
    pub state_dir: Option<PathBuf>,
    /// Run even when an agent holds the lock.
    pub force: bool,
}

/// One step as it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepLine {
    /// The resource's 1-based position in the group (monitors after the resources).
    pub number: usize,
    /// How many resources the group has, monitors included.
    pub of: usize,
    /// `start`, `stop` or `monitor`.
    pub action: String,
    /// The resource.
    pub resource: String,
    /// It did what was asked (done, or healthy).
    pub ok: bool,
    /// `done`, `healthy`, `unhealthy`, `failed (busy)`...
    pub result: String,
    /// How long it took.
    pub millis: u64,
    /// What the driver said, for a failure.
    pub message: Option<String>,
}

impl StepLine {
    /// `[2/5] stop disk /dev/sdb1 on /srv: done (12 ms)`.
    #[must_use]
    pub fn text(&self) -> String {
        let message = self.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
        // A failure stands out: `FAILED (busy)`, `UNHEALTHY`.
        let result = match (self.ok, self.result.split_once(' ')) {
            (true, _) => self.result.clone(),
            (false, Some((word, rest))) => format!("{} {rest}", word.to_uppercase()),
            (false, None) => self.result.to_uppercase(),
        };
        format!(
            "[{}/{}] {} {}: {result} ({} ms){message}",
            self.number, self.of, self.action, self.resource, self.millis
        )
    }
}

/// Where a step belongs in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The command's own steps.
    Main,
    /// Stops that undo a failed start.
    RollBack,
}

/// What the command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Which command.
    pub command: Command,
    /// The group.
    pub group: String,
    /// Every step asked for succeeded.
    pub ok: bool,
    /// The steps, in order.
    pub steps: Vec<StepLine>,
    /// After a failed start: the stops that undid it, right to left.
    pub rolled_back: Vec<StepLine>,
    /// What went wrong, in one sentence.
    pub error: Option<String>,
    /// How long the whole command took.
    pub millis: u64,
}

impl Report {
    /// The closing line of the text output.
    #[must_use]
    pub fn summary(&self) -> String {
        let name = self.command.name();
        match (&self.error, self.command) {
            (Some(e), _) => format!("{name} {}: FAILED: {e}", self.group),
            (None, Command::DebugStart) => {
                format!("{name} {}: ok, {} resources started in {} ms", self.group, self.steps.len(), self.millis)
            }
            (None, Command::DebugStop) => {
                format!("{name} {}: ok, {} resources stopped in {} ms", self.group, self.steps.len(), self.millis)
            }
            (None, Command::DebugMonitor) => {
                format!("{name} {}: ok, {} resources healthy in {} ms", self.group, self.steps.len(), self.millis)
            }
        }
    }
}

/// Why the command could not run at all. Names the thing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DebugError {
    /// The configuration is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No such group.
    #[error("{config}: no group `{group}` (groups: {known})")]
    UnknownGroup {
        /// The configuration file.
        config: String,
        /// The name asked for.
        group: String,
        /// The groups there are.
        known: String,
    },
    /// An agent runs.
    #[error("refusing to {command} group `{group}` behind a running agent's back: {source}")]
    Locked {
        /// The command.
        command: &'static str,
        /// The group.
        group: String,
        /// Who holds the lock.
        source: LockError,
    },
    /// A resource could not be built.
    #[error(transparent)]
    Assemble(#[from] assemble::AssembleError),
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn line(number: usize, of: usize, action: Action, resource: &dyn Resource, performed: &Performed) -> StepLine {
    StepLine {
        number,
        of,
        action: action.to_string(),
        resource: resource.describe(),
        ok: performed.ok(),
        result: performed.word(),
        millis: millis(performed.took),
        message: performed.detail.clone(),
    }
}

/// `resource 2 of 5 (disk /dev/sdb1 on /srv)`.
fn which(step: &StepLine) -> String {
    format!("resource {} of {} ({})", step.number, step.of, step.resource)
}

/// `: what the driver said`, or nothing.
fn because(step: &StepLine) -> String {
    step.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
}

/// Runs `command` on the group `options.group`; `on_step` sees each step as
/// it ends (for live output). A failed step is in the report (`ok: false`),
/// not an error.
pub fn run(
    command: Command,
    options: &Options,
    mut on_step: impl FnMut(Phase, &StepLine),
) -> Result<Report, DebugError> {
    let started = Instant::now();
    let mut config = config::load(&options.config)?;
    if let Some(socket) = &options.socket {
        config.agent.socket.clone_from(socket);
    }
    if let Some(dir) = &options.state_dir {
        config.agent.state_dir.clone_from(dir);
    }
    let Some(group) = config.groups.iter().find(|g| g.name == options.group) else {
        return Err(DebugError::UnknownGroup {
            config: options.config.display().to_string(),
            group: options.group.clone(),
            known: config.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", "),
        });
    };
    let _lock = if options.force {
        None
    } else {
        let what = format!("{} {}", command.name(), group.name);
        Some(AgentLock::acquire(&config.agent.lock_file(), &what).map_err(|source| DebugError::Locked {
            command: command.name(),
            group: group.name.clone(),
            source,
        })?)
    };
    let mut resources = assemble::group_resources(group, &config.agent.state_dir, Purpose::OneShot)?;
    let of = resources.len();
    let mut report = Report {
        command,
        group: group.name.clone(),
        ok: true,
        steps: Vec::new(),
        rolled_back: Vec::new(),
        error: None,
        millis: 0,
    };
    let mut run_one = |resources: &mut [Box<dyn Resource>], i: usize, action: Action, phase: Phase| {
        let resource = resources.get_mut(i)?;
        let performed = perform(resource.as_mut(), action);
        let step = line(i + 1, of, action, resource.as_ref(), &performed);
        on_step(phase, &step);
        Some(step)
    };
    match command {
        Command::DebugStart => {
            for i in 0..of {
                let Some(step) = run_one(&mut resources, i, Action::Start, Phase::Main) else { break };
                report.steps.push(step.clone());
                if !step.ok {
                    report.error = Some(format!(
                        "start of {} failed{}; stopped resources {}..1 again, right to left",
                        which(&step),
                        because(&step),
                        i + 1
                    ));
                    for j in (0..=i).rev() {
                        report.rolled_back.extend(run_one(&mut resources, j, Action::Stop, Phase::RollBack));
                    }
                    break;
                }
            }
            if report.error.is_none() {
                // Later announcements (GARP bursts) go out before the command exits.
                for resource in &mut resources {
                    if let Err(e) = resource.settle() {
                        report.error = Some(format!("{}: {e}", resource.describe()));
                    }
                }
                // Left running: dropping a supervised command would stop it.
                std::mem::forget(resources);
            }
        }
        Command::DebugStop => {
            for i in (0..of).rev() {
                let Some(step) = run_one(&mut resources, i, Action::Stop, Phase::Main) else { continue };
                report.steps.push(step.clone());
                if !step.ok {
                    report.error = Some(format!(
                        "stop of {} failed{}; resources {}..1 left as they are",
                        which(&step),
                        because(&step),
                        i + 1
                    ));
                    break;
                }
            }
        }
        Command::DebugMonitor => {
            for i in 0..of {
                let Some(step) = run_one(&mut resources, i, Action::Monitor, Phase::Main) else { continue };
                if !step.ok && report.error.is_none() {
                    report.error = Some(format!("{} is {}{}", which(&step), step.result, because(&step)));
                }
                report.steps.push(step);
            }
        }
    }
    report.ok = report.error.is_none();
    report.millis = millis(started.elapsed());
    Ok(report)
}
