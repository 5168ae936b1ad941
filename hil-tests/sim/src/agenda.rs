//! What is due when: events in time order, ties in the order they were
//! scheduled, so a seed replays exactly.
//!
//! Few events are pending at once (messages in flight, a step per group, a
//! few heals and the end of the run), and a new one is nearly always due
//! after those in flight, so a vector kept sorted, next due last, beats a
//! heap: taking the next is a pop, and scheduling moves few entries.

/// Events of type `T` by due time (ms), ties first scheduled first.
#[derive(Debug)]
pub(super) struct Agenda<T> {
    /// Latest due first, and of those due at once the latest scheduled
    /// first: the next due is last.
    pending: Vec<(u64, T)>,
}

impl<T> Agenda<T> {
    /// Nothing scheduled.
    pub(super) fn new() -> Self {
        Self { pending: Vec::new() }
    }

    /// Schedules `event` at `at`, after everything already scheduled then.
    pub(super) fn push(&mut self, at: u64, event: T) {
        // After the entries due later, before those due at `at` or sooner
        // (these were scheduled earlier, so they come first).
        let place = self.pending.partition_point(|(due, _)| *due > at);
        self.pending.insert(place, (at, event));
    }

    /// When the next event is due.
    pub(super) fn next_at(&self) -> Option<u64> {
        self.pending.last().map(|(at, _)| *at)
    }

    /// Takes the next event, with its due time.
    pub(super) fn pop(&mut self) -> Option<(u64, T)> {
        self.pending.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::Agenda;

    #[test]
    fn due_time_first_then_scheduling_order() {
        let mut agenda = Agenda::new();
        agenda.push(30, "c");
        agenda.push(10, "a1");
        agenda.push(20, "b");
        agenda.push(10, "a2");
        assert_eq!(agenda.next_at(), Some(10));
        assert_eq!(agenda.pop(), Some((10, "a1")));
        agenda.push(10, "a3");
        agenda.push(20, "b2");
        agenda.push(5, "first");
        let rest: Vec<_> = std::iter::from_fn(|| agenda.pop()).collect();
        assert_eq!(rest, [(5, "first"), (10, "a2"), (10, "a3"), (20, "b"), (20, "b2"), (30, "c")]);
        assert_eq!(agenda.next_at(), None);
    }
}
