//! The controller's board: booting the controller from the fence store,
//! carrying out its outputs, and the store answering its writes.

use std::collections::VecDeque;

use warden_core::controller::{Boot, Controller, FenceRecord, LinkProgress, Output, Persisted};
use warden_core::MAX_NODES;

use super::{Ev, Sim};
use crate::trace::Entry;

impl Sim {
    pub(super) fn boot_controller(&mut self) {
        let mut boot = Boot {
            now: self.instant(),
            seed: self.rng.next_u64(),
            fenced: [false; MAX_NODES],
            powered: [None; MAX_NODES],
        };
        for (n, s) in self.servers.iter().enumerate() {
            boot.fenced[n] = self.store[n];
            boot.powered[n] = Some(s.sense);
        }
        for s in &mut self.servers {
            for link in &mut s.links {
                link.up = warden_core::wire::Decoder::new();
            }
        }
        match Controller::new(self.sc.cluster_config(), boot) {
            Ok(mut c) => {
                if let Some(hook) = self.options.hook {
                    hook(&mut c);
                }
                self.controller = Some(c);
                self.controller_boots += 1;
                self.moves.iter_mut().for_each(VecDeque::clear);
                self.last_from.iter_mut().for_each(|f| *f = None);
                self.trace.push(self.now, Entry::ControllerBoot);
                // The board knows its stalled link drivers from the start.
                for (i, stalled) in self.link_drivers().collect::<Vec<_>>() {
                    if stalled {
                        self.tell_link(i, LinkProgress::Stalled);
                    }
                }
                self.drain_controller();
            }
            Err(e) => self.violate(format!("the simulated cluster's configuration was refused: {e}")),
        }
    }

    pub(super) fn drain_controller(&mut self) {
        loop {
            let mut answers = Vec::new();
            while let Some(out) = self.controller.as_mut().and_then(Controller::poll_output) {
                match out {
                    Output::Send { node, message } => {
                        if node.index() < self.servers.len() {
                            self.transmit(node.index(), false, message);
                        }
                    }
                    Output::Persist(record) => {
                        self.trace.push(self.now, Entry::Persist(record));
                        let durable = self.now >= self.store_fails_until;
                        if self.now < self.store_slow_until {
                            let late = self.rng.range(1, 2 * self.sc.timing.keepalive.0 + 1);
                            let boot = self.controller_boots;
                            self.schedule(late, Ev::Persisted { boot, record, durable });
                        } else {
                            answers.push((record, durable));
                        }
                    }
                    Output::Power { node, on } => self.power_command(node.index(), on),
                    Output::Alarm(e) => {
                        self.trace.push(self.now, Entry::Alarm(e));
                        self.observe_alarm(e);
                    }
                    Output::FeedWatchdog => {
                        let stalled: Vec<usize> = self.link_drivers().filter(|(_, s)| *s).map(|(i, _)| i).collect();
                        if !stalled.is_empty() {
                            self.violate(format!(
                                "the watchdog was fed while link driver(s) {stalled:?} were stalled (the watchdog rule)"
                            ));
                        }
                    }
                }
            }
            if answers.is_empty() {
                return;
            }
            let boot = self.controller_boots;
            for (record, durable) in answers {
                self.store_answers(boot, record, durable);
            }
        }
    }

    /// The store finishes a write: the record is durable (or not), and the
    /// controller that asked, if it still runs, is told.
    pub(super) fn store_answers(&mut self, boot: u64, record: FenceRecord, durable: bool) {
        if durable {
            if let Some(slot) = self.store.get_mut(record.node.index()) {
                *slot = record.fenced;
            }
        }
        self.trace.push(self.now, Entry::Persisted(record, durable));
        if boot != self.controller_boots {
            return;
        }
        let now = self.instant();
        if let Some(c) = self.controller.as_mut() {
            c.handle_persisted(now, record, if durable { Persisted::Durable } else { Persisted::Failed });
        }
    }
}
