//! One worker thread per group: it owns the group's resources and runs the
//! steps the protocol half asks for, one at a time (the protocol half never
//! has two outstanding for a group), and posts each result to the main
//! loop. Steps of different groups run at the same time.
//!
//! When the daemon stops, a worker lets go of its resources without
//! dropping them: dropping a supervised command would stop it, and an agent
//! that stops releases nothing (fail-static; the controller decides).

use std::io;
use std::sync::mpsc::{self, Sender};
use std::thread;

use warden_core::GroupId;

use super::mailbox::Post;
use crate::perform::{perform, Performed};
use crate::resource::{ErrorKind, Resource};
use warden_agent_proto::{Step, StepResult};

/// A step that ended, for the main loop.
#[derive(Debug)]
pub(crate) struct StepDone {
    /// The step.
    pub(crate) step: Step,
    /// How it went.
    pub(crate) performed: Performed,
}

/// The main loop's handle on one group's worker.
#[derive(Debug)]
pub(crate) struct Worker {
    steps: Sender<Step>,
}

impl Worker {
    /// Starts the worker of `group`, which owns `resources` from now on.
    pub(crate) fn spawn<T: From<StepDone> + Send + 'static>(
        group: GroupId,
        name: &str,
        mut resources: Vec<Box<dyn Resource>>,
        done: Post<T>,
    ) -> io::Result<Self> {
        let (steps, inbox) = mpsc::channel::<Step>();
        thread::Builder::new().name(format!("group-{name}")).spawn(move || {
            while let Ok(step) = inbox.recv() {
                let performed = match resources.get_mut(usize::from(step.resource)) {
                    Some(resource) => perform(resource.as_mut(), step.action),
                    None => Performed {
                        result: StepResult::Failed(ErrorKind::Config),
                        detail: Some(format!("{group} has no resource {}", step.resource)),
                        took: std::time::Duration::ZERO,
                    },
                };
                if !done.send(T::from(StepDone { step, performed })) {
                    break;
                }
            }
            // Fail-static: leave every resource as it is.
            std::mem::forget(resources);
        })?;
        Ok(Self { steps })
    }

    /// Hands a step to the worker. False when the worker is gone.
    pub(crate) fn run(&self, step: Step) -> bool {
        self.steps.send(step).is_ok()
    }
}
