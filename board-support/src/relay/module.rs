//! The host's driver for a serial relay module: a [`PowerSwitch`] over any
//! embedded-io byte stream (a Linux serial port, an MCU's UART).

use embedded_hal::delay::DelayNs;
use embedded_io::{Read, ReadReady, Write};
use warden_core::Duration;

use super::codec::{Command, Decoder, Report};
use crate::clock::Clock;
use crate::power::{Channel, PowerError, PowerSwitch};

/// Counters of a [`RelayModule`]. They saturate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RelayStats {
    /// Queries that got no answer in time.
    pub no_answer: u32,
    /// Frames refused: bad checksum, or not a report.
    pub bad_frames: u32,
    /// Good reports of a channel neither asked nor watched (late answers).
    pub stray_reports: u32,
    /// Reports of watched channels' changes.
    pub changes: u32,
    /// Bytes skipped while looking for a frame start.
    pub garbage: u32,
}

/// A serial relay module with `channels` channels on the byte stream `port`.
///
/// [`set`](PowerSwitch::set) writes the command and returns (the boards do
/// not acknowledge). A sense query comes in two halves so that a main loop
/// never waits on the board: [`ask`](Self::ask) discards what arrived
/// unasked and sends the report query; [`poll_answer`](Self::poll_answer)
/// looks at the port without waiting and gives the answer once it is there,
/// or [`PowerError::NoAnswer`] once the answer timeout has passed (a reply
/// that is not a report of that channel is counted and looked past).
/// [`sense`](PowerSwitch::sense) is both halves with a pause of
/// `poll_pause` between looks, for a caller that may wait (a relay thread).
///
/// A channel given to [`watch`](Self::watch) is reported by the board at
/// every change of its sense, unasked; [`take_changes`](Self::take_changes)
/// gives those readings without waiting. A board that does not watch stays
/// silent and its channels are read by query only.
#[derive(Debug)]
pub struct RelayModule<P, C, D> {
    port: P,
    clock: C,
    delay: D,
    channels: u8,
    answer_timeout: Duration,
    poll_pause_us: u32,
    decoder: Decoder,
    no_answer: u32,
    bad_frames: u32,
    stray_reports: u32,
    changes: u32,
    /// The query under way: its channel and deadline.
    asked: Option<(Channel, warden_core::Instant)>,
    /// The answer to the query under way, once it came.
    answer: Option<bool>,
    /// Channels asked to be watched.
    watched: ChannelBits,
    /// Watched channels with a reading not yet taken, and those readings.
    changed: ChannelBits,
    readings: ChannelBits,
}

/// One bit per channel (0 to 255).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct ChannelBits([u32; 8]);

impl ChannelBits {
    fn get(&self, channel: Channel) -> bool {
        let c = usize::from(channel.0);
        self.0.get(c / 32).is_some_and(|w| w & (1 << (c % 32)) != 0)
    }

    fn set(&mut self, channel: Channel, value: bool) {
        let c = usize::from(channel.0);
        if let Some(w) = self.0.get_mut(c / 32) {
            if value {
                *w |= 1 << (c % 32);
            } else {
                *w &= !(1 << (c % 32));
            }
        }
    }
}

impl<P, C, D> RelayModule<P, C, D>
where
    P: Read + ReadReady + Write,
    C: Clock,
    D: DelayNs,
{
    /// A driver for a board with `channels` channels (0 to `channels - 1`,
    /// at most 255). Nothing is sent.
    pub fn new(port: P, clock: C, delay: D, channels: u8, answer_timeout: Duration) -> Self {
        Self {
            port,
            clock,
            delay,
            channels,
            answer_timeout,
            poll_pause_us: 200,
            decoder: Decoder::new(),
            no_answer: 0,
            bad_frames: 0,
            stray_reports: 0,
            changes: 0,
            asked: None,
            answer: None,
            watched: ChannelBits::default(),
            changed: ChannelBits::default(),
            readings: ChannelBits::default(),
        }
    }

    /// Asks the board to report `channel`'s sense at every change, and
    /// once now; the reports come through [`take_changes`](Self::take_changes).
    ///
    /// # Errors
    ///
    /// [`PowerError::NoSuchChannel`], or the port failed.
    pub fn watch(&mut self, channel: Channel) -> Result<(), PowerError> {
        self.check(channel)?;
        self.send(Command::Watch { channel }, channel)?;
        self.watched.set(channel, true);
        Ok(())
    }

    /// Looks at the port without waiting and gives `on_change` each watched
    /// channel's latest reading that arrived unasked since the last call,
    /// in channel order.
    ///
    /// # Errors
    ///
    /// The port failed.
    pub fn take_changes(&mut self, mut on_change: impl FnMut(Channel, bool)) -> Result<(), PowerError> {
        self.pump(Channel(0))?;
        for c in 0..self.channels {
            let channel = Channel(c);
            if self.changed.get(channel) {
                self.changed.set(channel, false);
                on_change(channel, self.readings.get(channel));
            }
        }
        Ok(())
    }

    /// Sends the report query for `channel`; its answer comes through
    /// [`poll_answer`](Self::poll_answer). A query still under way is
    /// given up (its answer, if it comes, is counted as stray).
    ///
    /// # Errors
    ///
    /// [`PowerError::NoSuchChannel`], or the port failed.
    pub fn ask(&mut self, channel: Channel) -> Result<(), PowerError> {
        self.check(channel)?;
        self.asked = None;
        // Whatever is waiting answers nothing we ask now (a watched
        // channel's change in it is kept for take_changes).
        self.pump(channel)?;
        self.decoder.reset();
        self.answer = None;
        self.send(Command::Query { channel }, channel)?;
        self.asked = Some((channel, self.clock.now().saturating_add(self.answer_timeout)));
        Ok(())
    }

    /// The query under way, if any.
    #[must_use]
    pub fn asking(&self) -> Option<Channel> {
        self.asked.map(|(channel, _)| channel)
    }

    /// Looks at the port without waiting: `Ok(Some((channel, powered)))`
    /// once the answer to the query under way is there, `Ok(None)` while it
    /// is not (or nothing is asked).
    ///
    /// # Errors
    ///
    /// [`PowerError::NoAnswer`] once the answer timeout has passed (the
    /// query is over), or the port failed.
    pub fn poll_answer(&mut self) -> Result<Option<(Channel, bool)>, PowerError> {
        let Some((channel, deadline)) = self.asked else { return Ok(None) };
        self.pump(channel)?;
        if let Some(powered) = self.answer.take() {
            self.asked = None;
            return Ok(Some((channel, powered)));
        }
        if self.clock.now() >= deadline {
            self.asked = None;
            self.no_answer = self.no_answer.saturating_add(1);
            return Err(PowerError::NoAnswer(channel));
        }
        Ok(None)
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> RelayStats {
        RelayStats {
            no_answer: self.no_answer,
            bad_frames: self.bad_frames,
            stray_reports: self.stray_reports,
            changes: self.changes,
            garbage: self.decoder.stats().garbage,
        }
    }

    /// The byte stream.
    pub fn port(&mut self) -> &mut P {
        &mut self.port
    }

    /// The byte stream, to look at (a descriptor to wait on).
    pub fn port_ref(&self) -> &P {
        &self.port
    }

    fn check(&self, channel: Channel) -> Result<(), PowerError> {
        if channel.0 < self.channels && channel.0 < u8::MAX {
            Ok(())
        } else {
            Err(PowerError::NoSuchChannel(channel))
        }
    }

    fn send(&mut self, command: Command, channel: Channel) -> Result<(), PowerError> {
        let bytes = command.encode().ok_or(PowerError::NoSuchChannel(channel))?;
        let device = |_| PowerError::Device { channel, code: 0 };
        self.port.write_all(&bytes).map_err(device)?;
        self.port.flush().map_err(device)
    }

    /// Reads what the port has now and feeds it: the answer to the query
    /// under way is kept for [`poll_answer`](Self::poll_answer), a watched
    /// channel's report for [`take_changes`](Self::take_changes); other
    /// reports are stray. `channel` names the port in an error.
    fn pump(&mut self, channel: Channel) -> Result<(), PowerError> {
        let device = |_| PowerError::Device { channel, code: 0 };
        let asked = self.asked.map(|(c, _)| c);
        while self.answer.is_none() && self.port.read_ready().map_err(device)? {
            let mut buf = [0u8; 32];
            let n = self.port.read(&mut buf).map_err(device)?;
            if n == 0 {
                break;
            }
            let (mut bad, mut stray, mut changes) = (0u32, 0u32, 0u32);
            let (answer, watched, changed, readings) =
                (&mut self.answer, &self.watched, &mut self.changed, &mut self.readings);
            self.decoder.feed(buf.get(..n).unwrap_or_default(), |frame| match frame.and_then(Report::from_frame) {
                Ok(report) if Some(report.channel) == asked && answer.is_none() => {
                    *answer = Some(report.powered);
                }
                Ok(report) if watched.get(report.channel) => {
                    changes += 1;
                    changed.set(report.channel, true);
                    readings.set(report.channel, report.powered);
                }
                Ok(_) => stray += 1,
                Err(_) => bad += 1,
            });
            self.bad_frames = self.bad_frames.saturating_add(bad);
            self.stray_reports = self.stray_reports.saturating_add(stray);
            self.changes = self.changes.saturating_add(changes);
        }
        Ok(())
    }
}

impl<P, C, D> PowerSwitch for RelayModule<P, C, D>
where
    P: Read + ReadReady + Write,
    C: Clock,
    D: DelayNs,
{
    fn set(&mut self, channel: Channel, on: bool) -> Result<(), PowerError> {
        self.check(channel)?;
        self.send(Command::Set { channel, on }, channel)
    }

    fn sense(&mut self, channel: Channel) -> Result<Option<bool>, PowerError> {
        self.ask(channel)?;
        loop {
            if let Some((_, powered)) = self.poll_answer()? {
                return Ok(Some(powered));
            }
            self.delay.delay_us(self.poll_pause_us);
        }
    }
}
