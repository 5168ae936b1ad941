//! What the daemon's threads tell the main loop: a channel, plus a socket
//! pair whose read end sits in the main loop's `poll` set, so a message
//! wakes the loop at once instead of waiting for its next timer.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

/// The sending side; cheap to clone, one per thread.
#[derive(Debug)]
pub(crate) struct Post<T> {
    tx: Sender<T>,
    bell: Arc<UnixStream>,
}

impl<T> Clone for Post<T> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone(), bell: Arc::clone(&self.bell) }
    }
}

impl<T> Post<T> {
    /// Delivers `message` and wakes the main loop. Returns false once the
    /// main loop is gone (the daemon is stopping).
    pub(crate) fn send(&self, message: T) -> bool {
        if self.tx.send(message).is_err() {
            return false;
        }
        // A full socket buffer means a wake-up is already pending.
        let _ = (&*self.bell).write(&[1]);
        true
    }
}

/// The main loop's side.
#[derive(Debug)]
pub(crate) struct Mailbox<T> {
    rx: Receiver<T>,
    bell: UnixStream,
}

impl<T> Mailbox<T> {
    /// A mailbox and its first sender.
    pub(crate) fn new() -> io::Result<(Self, Post<T>)> {
        let (ring, bell) = UnixStream::pair()?;
        ring.set_nonblocking(true)?;
        bell.set_nonblocking(true)?;
        let (tx, rx) = mpsc::channel();
        Ok((Self { rx, bell: ring }, Post { tx, bell: Arc::new(bell) }))
    }

    /// The descriptor that turns readable when a message arrives.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.bell.as_fd()
    }

    /// Every message delivered so far.
    pub(crate) fn take(&self) -> Vec<T> {
        let mut sink = [0u8; 64];
        while matches!((&self.bell).read(&mut sink), Ok(n) if n > 0) {}
        self.rx.try_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

    use super::*;

    #[test]
    fn a_message_wakes_the_poller_and_is_taken_once() {
        let (mailbox, post) = Mailbox::<u32>::new().unwrap();
        let other = post.clone();
        std::thread::spawn(move || assert!(other.send(7))).join().unwrap();
        let mut fds = [PollFd::new(mailbox.fd(), PollFlags::POLLIN)];
        assert_eq!(poll(&mut fds, PollTimeout::from(5000u16)).unwrap(), 1);
        assert_eq!(mailbox.take(), vec![7]);
        let mut fds = [PollFd::new(mailbox.fd(), PollFlags::POLLIN)];
        assert_eq!(poll(&mut fds, PollTimeout::ZERO).unwrap(), 0, "drained: no wake-up left");
        assert!(mailbox.take().is_empty());
        drop(mailbox);
        assert!(!post.send(8), "nobody listens any more");
    }
}
