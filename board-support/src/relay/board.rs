//! A relay board's state machine: what a serial relay module does with the
//! bytes it receives. The process rig runs it on a pseudo-terminal (and on
//! the UART QEMU exposes) to play a relay board; tests run it in memory.

use super::codec::{Command, Decoder, FrameError, Report, FRAME_LEN};
use crate::power::Channel;

/// Something the board did while consuming bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoardEvent {
    /// A relay changed state (a command that repeats the current state
    /// produces no event).
    Switched {
        /// The channel.
        channel: Channel,
        /// Its new state.
        on: bool,
    },
    /// Bytes to send back to the host: the answer to a query or a watch,
    /// or a watched channel's change.
    Reply([u8; FRAME_LEN]),
    /// A frame was refused (bad checksum, channel 0 or beyond the board, bad
    /// state byte). Nothing changed and nothing is answered.
    Refused(FrameError),
}

/// Counters of a [`Board`]. They saturate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BoardStats {
    /// Commands carried out (sets and queries).
    pub commands: u32,
    /// Frames refused.
    pub refused: u32,
    /// Bytes skipped while looking for a frame start.
    pub garbage: u32,
}

/// A relay board with `N` channels (wire channels `1..=N`).
///
/// Each channel has a relay and a sense reading. The sense follows the
/// relay unless a test overrides it (a stuck relay, a sense wire cut).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board<const N: usize> {
    relays: [bool; N],
    /// Channels that exist (at most `N`).
    channels: usize,
    sense_override: [Option<bool>; N],
    /// Per watched channel, the reading last reported.
    watched: [Option<bool>; N],
    decoder: Decoder,
    refused: u32,
    commands: u32,
}

impl<const N: usize> Board<N> {
    /// A board with its relays as given (a relay board keeps its relays
    /// through a host's restart; the rig starts with servers powered).
    #[must_use]
    pub const fn new(relays: [bool; N]) -> Self {
        Self::with_channels(relays, N)
    }

    /// A board with only the first `channels` of `relays` (at most `N`):
    /// the others refuse every command, as channels a board lacks.
    #[must_use]
    pub const fn with_channels(relays: [bool; N], channels: usize) -> Self {
        let channels = if channels < N { channels } else { N };
        Self {
            relays,
            channels,
            sense_override: [None; N],
            watched: [None; N],
            decoder: Decoder::new(),
            refused: 0,
            commands: 0,
        }
    }

    fn index(&self, channel: Channel) -> Option<usize> {
        Some(usize::from(channel.0)).filter(|i| *i < self.channels)
    }

    /// The relay of `channel` (`None` beyond the board).
    #[must_use]
    pub fn relay(&self, channel: Channel) -> Option<bool> {
        self.relays.get(self.index(channel)?).copied()
    }

    /// What a query of `channel` answers (`None` beyond the board).
    #[must_use]
    pub fn sense(&self, channel: Channel) -> Option<bool> {
        let i = self.index(channel)?;
        self.sense_override.get(i).copied().flatten().or_else(|| self.relays.get(i).copied())
    }

    /// Makes `channel`'s sense read `reading` whatever the relay does
    /// (`None`: follow the relay again). Returns `false` beyond the board.
    /// A watched channel's change is reported by the next
    /// [`report_changes`](Self::report_changes).
    pub fn override_sense(&mut self, channel: Channel, reading: Option<bool>) -> bool {
        match self.index(channel).and_then(|i| self.sense_override.get_mut(i)) {
            Some(slot) => {
                *slot = reading;
                true
            }
            None => false,
        }
    }

    /// Reports every watched channel whose sense changed since it was last
    /// reported, as [`BoardEvent::Reply`]. [`feed`](Self::feed) calls it
    /// after each command; a board whose sense inputs change on their own
    /// calls it when they do.
    pub fn report_changes(&mut self, mut on_event: impl FnMut(BoardEvent)) {
        for i in 0..self.channels {
            let channel = Channel(u8::try_from(i).unwrap_or(u8::MAX));
            let now = self.sense(channel);
            let Some(slot) = self.watched.get_mut(i) else { continue };
            if slot.is_some() && *slot != now {
                *slot = now;
                if let Some(reply) = now.and_then(|powered| Report { channel, powered }.encode()) {
                    on_event(BoardEvent::Reply(reply));
                }
            }
        }
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> BoardStats {
        BoardStats { commands: self.commands, refused: self.refused, garbage: self.decoder.stats().garbage }
    }

    /// Consumes bytes from the host; `on_event` gets what the board did, in
    /// order (a reply must be sent before the bytes that follow are fed).
    pub fn feed(&mut self, bytes: &[u8], mut on_event: impl FnMut(BoardEvent)) {
        let mut decoder = core::mem::take(&mut self.decoder);
        decoder.feed(bytes, |frame| {
            let event = frame.and_then(Command::from_frame).and_then(|command| self.apply(command));
            match event {
                Ok(Some(event)) => {
                    on_event(event);
                    self.report_changes(&mut on_event);
                }
                Ok(None) => {}
                Err(e) => {
                    self.refused = self.refused.saturating_add(1);
                    on_event(BoardEvent::Refused(e));
                }
            }
        });
        self.decoder = decoder;
    }

    fn apply(&mut self, command: Command) -> Result<Option<BoardEvent>, FrameError> {
        match command {
            Command::Set { channel, on } => {
                let i = self.index(channel).ok_or(FrameError::Channel)?;
                let relay = self.relays.get_mut(i).ok_or(FrameError::Channel)?;
                self.commands = self.commands.saturating_add(1);
                if *relay == on {
                    return Ok(None);
                }
                *relay = on;
                Ok(Some(BoardEvent::Switched { channel, on }))
            }
            Command::Query { channel } | Command::Watch { channel } => {
                let powered = self.sense(channel).ok_or(FrameError::Channel)?;
                self.commands = self.commands.saturating_add(1);
                if matches!(command, Command::Watch { .. }) {
                    if let Some(slot) = self.index(channel).and_then(|i| self.watched.get_mut(i)) {
                        *slot = Some(powered);
                    }
                }
                let reply = Report { channel, powered }.encode().ok_or(FrameError::Channel)?;
                Ok(Some(BoardEvent::Reply(reply)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<const N: usize>(board: &mut Board<N>, bytes: &[u8]) -> heapless::Vec<BoardEvent, 16> {
        let mut events = heapless::Vec::new();
        board.feed(bytes, |e| events.push(e).unwrap());
        events
    }

    #[test]
    fn switches_and_answers() {
        let mut board = Board::new([true, true]);
        let off = Command::Set { channel: Channel(1), on: false }.encode().unwrap();
        let query = Command::Query { channel: Channel(1) }.encode().unwrap();
        let events = run(&mut board, &[off, off, query].concat());
        assert_eq!(
            events.as_slice(),
            &[BoardEvent::Switched { channel: Channel(1), on: false }, BoardEvent::Reply([0xA0, 0x02, 0x00, 0xA2]),],
            "the second off changes nothing and says nothing"
        );
        assert_eq!(board.relay(Channel(0)), Some(true));
        assert_eq!(board.relay(Channel(1)), Some(false));
        assert_eq!(board.stats(), BoardStats { commands: 3, refused: 0, garbage: 0 });
    }

    #[test]
    fn refuses_channels_it_does_not_have_and_bad_frames() {
        let mut board = Board::new([false; 2]);
        let beyond = Command::Set { channel: Channel(2), on: true }.encode().unwrap();
        let query_beyond = Command::Query { channel: Channel(5) }.encode().unwrap();
        let zero = [0xA0, 0x00, 0x01, 0xA1];
        let bad_state = [0xA0, 0x01, 0x09, 0xAA];
        let bad_sum = [0xA0, 0x01, 0x01, 0x00];
        let events = run(&mut board, &[beyond, query_beyond, zero, bad_state, bad_sum].concat());
        let mut smaller = Board::with_channels([false; 4], 2);
        assert_eq!(run(&mut smaller, &beyond).as_slice(), &[BoardEvent::Refused(FrameError::Channel)]);
        assert_eq!(smaller.relay(Channel(2)), None);
        assert_eq!(
            events.as_slice(),
            &[
                BoardEvent::Refused(FrameError::Channel),
                BoardEvent::Refused(FrameError::Channel),
                BoardEvent::Refused(FrameError::Channel),
                BoardEvent::Refused(FrameError::State(9)),
                BoardEvent::Refused(FrameError::Checksum),
            ]
        );
        assert_eq!(board.relay(Channel(0)), Some(false));
        assert_eq!(board.stats().refused, 5);
        assert_eq!(board.stats().commands, 0);
    }

    #[test]
    fn a_watched_channel_reports_each_change_unasked_and_once() {
        let mut board = Board::new([true, true]);
        let watch = Command::Watch { channel: Channel(1) }.encode().unwrap();
        let on_report = Report { channel: Channel(1), powered: true }.encode().unwrap();
        let off_report = Report { channel: Channel(1), powered: false }.encode().unwrap();
        assert_eq!(run(&mut board, &watch).as_slice(), &[BoardEvent::Reply(on_report)], "answered at once");
        // The supply goes: reported without a query, and only once.
        board.override_sense(Channel(1), Some(false));
        let mut changes = heapless::Vec::<BoardEvent, 4>::new();
        board.report_changes(|e| changes.push(e).unwrap());
        board.report_changes(|e| changes.push(e).unwrap());
        assert_eq!(changes.as_slice(), &[BoardEvent::Reply(off_report)]);
        // An unwatched channel stays quiet; a switch of a watched one is reported after it.
        board.override_sense(Channel(1), None);
        board.override_sense(Channel(0), Some(false));
        let off = Command::Set { channel: Channel(1), on: false }.encode().unwrap();
        let on = Command::Set { channel: Channel(1), on: true }.encode().unwrap();
        assert_eq!(
            run(&mut board, &[off, on].concat()).as_slice(),
            &[
                BoardEvent::Switched { channel: Channel(1), on: false },
                BoardEvent::Switched { channel: Channel(1), on: true },
                BoardEvent::Reply(on_report),
            ],
            "off was already reported; back on is a change"
        );
    }

    #[test]
    fn sense_override_is_what_queries_report() {
        let mut board = Board::new([true]);
        assert!(board.override_sense(Channel(0), Some(true)));
        assert!(!board.override_sense(Channel(1), Some(true)));
        let off = Command::Set { channel: Channel(0), on: false }.encode().unwrap();
        let query = Command::Query { channel: Channel(0) }.encode().unwrap();
        let events = run(&mut board, &[off, query].concat());
        assert_eq!(events.last(), Some(&BoardEvent::Reply([0xA0, 0x01, 0x01, 0xA2])), "stuck on");
    }
}
