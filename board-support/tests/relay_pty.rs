//! The relay board emulator against the host driver over a pseudo-terminal
//! pair: the driver opens the slave like a USB relay board's tty, the
//! emulator plays the board on the master.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use warden_bsp::linux::{open_relay_module, relay_board, Pty, SerialRelayModule};
use warden_bsp::relay::{Board, BoardEvent};
use warden_bsp::{Channel, PowerError, PowerSwitch};
use warden_core::Duration;

/// A board played on a pty by a thread; its events come out of `events`.
struct PlayedBoard {
    stop: Arc<AtomicBool>,
    events: mpsc::Receiver<BoardEvent>,
    thread: Option<thread::JoinHandle<()>>,
    path: std::path::PathBuf,
    garbage: std::fs::File,
}

impl PlayedBoard {
    fn start(relays: [bool; 4], stuck: Option<(Channel, bool)>) -> Self {
        let pty = Pty::open().unwrap();
        let path = pty.path().to_owned();
        let garbage = pty.master.try_clone().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, events) = mpsc::channel();
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            let pty = pty;
            let mut master = pty.master.try_clone().unwrap();
            let mut board = Board::new(relays);
            if let Some((c, reading)) = stuck {
                board.override_sense(c, Some(reading));
            }
            relay_board::serve(&mut board, &mut master, &flag, |_, e| {
                let _ = tx.send(e);
            })
            .unwrap();
        });
        Self { stop, events, thread: Some(thread), path, garbage }
    }

    fn next_event(&self) -> BoardEvent {
        // An upper bound for a hung emulator, not a timing assertion.
        self.events.recv_timeout(std::time::Duration::from_secs(10)).expect("the board said nothing")
    }
}

impl Drop for PlayedBoard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn driver(board: &PlayedBoard) -> SerialRelayModule {
    open_relay_module(&board.path, 9600, 4, Duration::from_millis(2000)).unwrap()
}

#[test]
fn switches_and_senses_through_the_pty() {
    let board = PlayedBoard::start([true, true, false, false], None);
    let mut relays = driver(&board);
    assert_eq!(relays.sense(Channel(1)).unwrap(), Some(true));
    assert_eq!(board.next_event(), BoardEvent::Reply([0xA0, 0x02, 0x01, 0xA3]));

    relays.set(Channel(1), false).unwrap();
    assert_eq!(board.next_event(), BoardEvent::Switched { channel: Channel(1), on: false });
    assert_eq!(relays.sense(Channel(1)).unwrap(), Some(false));
    assert_eq!(relays.sense(Channel(0)).unwrap(), Some(true), "other channels untouched");
    relays.set(Channel(2), true).unwrap();
    assert_eq!(relays.sense(Channel(2)).unwrap(), Some(true));
    assert_eq!(relays.stats().no_answer, 0);
}

#[test]
fn a_stuck_relay_is_reported_as_the_board_senses_it() {
    let board = PlayedBoard::start([true; 4], Some((Channel(3), true)));
    let mut relays = driver(&board);
    relays.set(Channel(3), false).unwrap();
    assert_eq!(relays.sense(Channel(3)).unwrap(), Some(true));
}

#[test]
fn garbage_on_the_line_is_counted_and_the_answer_still_found() {
    let mut board = PlayedBoard::start([false; 4], None);
    let mut relays = driver(&board);
    // Line noise and a torn frame arrive before the query is sent: the
    // driver discards them, counts them, and still reads its answer.
    board.garbage.write_all(&[0x13, 0x37, 0xA0, 0x01, 0x55, 0xA0, 0x09, 0x00]).unwrap();
    assert_eq!(relays.sense(Channel(0)).unwrap(), Some(false));
    let stats = relays.stats();
    assert!(stats.garbage + stats.bad_frames > 0, "{stats:?}");
    assert_eq!(stats.no_answer, 0);
}

#[test]
fn channels_beyond_the_board_are_refused_without_sending() {
    let board = PlayedBoard::start([false; 4], None);
    let mut relays = driver(&board);
    assert_eq!(relays.set(Channel(4), true), Err(PowerError::NoSuchChannel(Channel(4))));
    assert_eq!(relays.sense(Channel(200)), Err(PowerError::NoSuchChannel(Channel(200))));
    // The board never heard of them: the next thing it sees is this query.
    assert_eq!(relays.sense(Channel(0)).unwrap(), Some(false));
    assert_eq!(board.next_event(), BoardEvent::Reply([0xA0, 0x01, 0x00, 0xA1]));
}

#[test]
fn a_silent_board_is_no_answer_not_a_guess() {
    // The pty's far end reads nothing and answers nothing.
    let pty = Pty::open().unwrap();
    let mut relays = open_relay_module(pty.path(), 9600, 4, Duration::from_millis(100)).unwrap();
    assert_eq!(relays.sense(Channel(0)), Err(PowerError::NoAnswer(Channel(0))));
    assert_eq!(relays.stats().no_answer, 1);
}

/// Waits (up to a bound for a hung board, not a timing assertion) for the
/// driver's next unasked readings.
fn next_changes(relays: &mut SerialRelayModule) -> Vec<(Channel, bool)> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut got = Vec::new();
    for _ in 0..100 {
        relays.take_changes(|c, p| got.push((c, p))).unwrap();
        if !got.is_empty() {
            return got;
        }
        let port = relays.port();
        let mut fds = [PollFd::new(port.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(100u16)).unwrap();
    }
    panic!("no unasked report came");
}

#[test]
fn a_watched_channel_is_reported_unasked_and_answers_still_reach_their_query() {
    let mut board = PlayedBoard::start([true, true, false, false], None);
    let mut relays = driver(&board);
    relays.watch(Channel(2)).unwrap();
    assert_eq!(next_changes(&mut relays), [(Channel(2), false)], "the watch is answered with the reading now");
    // The board's sense changes on its own (a supply comes back): it says so
    // unasked. Here the test writes the board's report on the line.
    let on = warden_bsp::relay::Report { channel: Channel(2), powered: true }.encode().unwrap();
    board.garbage.write_all(&on).unwrap();
    assert_eq!(next_changes(&mut relays), [(Channel(2), true)]);
    // A change that arrives while a query of another channel is under way
    // is kept, and the query still gets its own answer.
    let off = warden_bsp::relay::Report { channel: Channel(2), powered: false }.encode().unwrap();
    board.garbage.write_all(&off).unwrap();
    assert_eq!(relays.sense(Channel(0)).unwrap(), Some(true));
    assert_eq!(next_changes(&mut relays), [(Channel(2), false)]);
    // An unwatched channel's unasked report is stray, not a change.
    let stray = warden_bsp::relay::Report { channel: Channel(1), powered: false }.encode().unwrap();
    board.garbage.write_all(&stray).unwrap();
    assert_eq!(relays.sense(Channel(3)).unwrap(), Some(false));
    relays.take_changes(|c, p| panic!("{c:?} {p} is not watched")).unwrap();
    let stats = relays.stats();
    assert_eq!((stats.changes, stats.stray_reports, stats.no_answer), (3, 1, 0), "{stats:?}");
    drop(board);
}
