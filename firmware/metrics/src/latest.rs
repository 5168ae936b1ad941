//! The latest snapshot a loop published, read by other threads.
//!
//! The lock is held only to swap or to clone a pointer. The publishing side
//! takes it with `try_lock`: a loop that finds a reader there at that
//! instant does not wait, it publishes again later.

use std::sync::{Arc, Mutex, PoisonError, TryLockError};

/// The latest published value; clones share it.
#[derive(Debug)]
pub struct Latest<T> {
    slot: Arc<Mutex<Arc<T>>>,
}

impl<T> Clone for Latest<T> {
    fn clone(&self) -> Self {
        Self { slot: Arc::clone(&self.slot) }
    }
}

impl<T> Latest<T> {
    /// A slot holding `value`.
    #[must_use]
    pub fn new(value: T) -> Self {
        Self { slot: Arc::new(Mutex::new(Arc::new(value))) }
    }

    /// Puts `value` in place of the last one, unless a reader holds the
    /// slot at this instant: then nothing changes and `false` says to
    /// publish again later. Never waits.
    pub fn publish(&self, value: T) -> bool {
        let value = Arc::new(value);
        let old = match self.slot.try_lock() {
            Ok(mut slot) => std::mem::replace(&mut *slot, value),
            Err(TryLockError::Poisoned(p)) => std::mem::replace(&mut *p.into_inner(), value),
            Err(TryLockError::WouldBlock) => return false,
        };
        // The previous value is freed outside the lock (or by its last reader).
        drop(old);
        true
    }

    /// The value last published.
    #[must_use]
    pub fn get(&self) -> Arc<T> {
        Arc::clone(&self.slot.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_the_last_value_and_a_held_slot_makes_publish_give_up() {
        let latest = Latest::new(1);
        let reader = latest.clone();
        assert_eq!(*reader.get(), 1);
        assert!(latest.publish(2));
        let kept = reader.get();
        assert!(latest.publish(3), "a reader's clone of the value does not hold the slot");
        assert_eq!((*kept, *reader.get()), (2, 3));
        let held = reader.slot.lock().unwrap();
        assert!(!latest.publish(4), "publish waited for, or went past, a held slot");
        drop(held);
        assert_eq!(*reader.get(), 3);
        assert!(latest.publish(4));
        assert_eq!(*reader.get(), 4);
    }
}
