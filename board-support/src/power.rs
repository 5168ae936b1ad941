//! Power relays of the servers, with their sense inputs.

use core::fmt;

use embedded_hal::digital::{InputPin, OutputPin};
use heapless::Vec;
use warden_core::MAX_NODES;

/// A relay channel, numbered from 0 as the cluster configuration's `relay`
/// key numbers them. (The serial relay module numbers from 1 on the wire;
/// its codec converts.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Channel(pub u8);

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "relay channel {}", self.0)
    }
}

/// A bank of power relays, one channel per server, each with an optional
/// sense input that reads whether the server really has power.
///
/// # Contract
///
/// * [`set`](Self::set) commands a channel on or off. `Ok` means the command
///   was given to the hardware, not that the server's power changed: only
///   the sense input says that. Setting a channel to the state it is in
///   already is harmless (it never toggles the relay through the other
///   state).
/// * [`sense`](Self::sense) reads the channel's sense input: `Some(true)`
///   powered, `Some(false)` not powered, `None` when the channel has no sense
///   input (the controller then never gets a power confirmation and fences
///   on that channel stay unconfirmed). It never changes the relay.
/// * Both may block for a bounded time the implementation documents (a
///   pin is immediate; a serial relay module waits up to its answer timeout).
/// * Nothing is switched by creating or dropping an implementation: a
///   controller that restarts finds the relays as they were (DESIGN rule 4).
/// * An error means the hardware did not confirm the request: after a failed
///   `set` the relay may or may not have switched, and the caller relies on
///   `sense` to find out.
pub trait PowerSwitch {
    /// Commands `channel` on (`true`) or off (`false`).
    ///
    /// # Errors
    ///
    /// [`PowerError::NoSuchChannel`] for a channel this switch does not
    /// have (nothing changed); [`PowerError::Device`] when the hardware
    /// refused the command.
    fn set(&mut self, channel: Channel, on: bool) -> Result<(), PowerError>;

    /// Reads `channel`'s sense input (`None`: the channel has none).
    ///
    /// # Errors
    ///
    /// [`PowerError::NoSuchChannel`], [`PowerError::NoAnswer`] when the
    /// sense source did not answer in time, [`PowerError::BadAnswer`] when
    /// it answered something that is not a reading, [`PowerError::Device`].
    fn sense(&mut self, channel: Channel) -> Result<Option<bool>, PowerError>;
}

impl<P: PowerSwitch + ?Sized> PowerSwitch for &mut P {
    fn set(&mut self, channel: Channel, on: bool) -> Result<(), PowerError> {
        (**self).set(channel, on)
    }
    fn sense(&mut self, channel: Channel) -> Result<Option<bool>, PowerError> {
        (**self).sense(channel)
    }
}

/// Why a power switch did not do what was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PowerError {
    /// The switch has no such channel.
    NoSuchChannel(Channel),
    /// The sense source did not answer within its timeout.
    NoAnswer(Channel),
    /// The sense source answered, but not with a reading of that channel.
    BadAnswer(Channel),
    /// The hardware refused; `code` is the OS error number (0 on bare metal).
    Device {
        /// The channel.
        channel: Channel,
        /// OS error number, or 0.
        code: i32,
    },
}

impl fmt::Display for PowerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchChannel(c) => write!(f, "{c} does not exist on this power switch"),
            Self::NoAnswer(c) => write!(f, "{c}: the relay board did not answer the sense query in time"),
            Self::BadAnswer(c) => write!(f, "{c}: the relay board's answer is not a reading of that channel"),
            Self::Device { channel, code } => write!(f, "{channel}: device error (os error {code})"),
        }
    }
}

impl core::error::Error for PowerError {}

/// Relays on output pins and sense inputs on input pins (embedded-hal 1.0),
/// up to [`MAX_NODES`] channels.
///
/// "On" drives the output pin high and "powered" reads the sense pin high;
/// for active-low wiring, invert at the pin (gpio-cdev and most HALs can).
/// Pin errors are reported as [`PowerError::Device`] with code 0 (the
/// embedded-hal error kinds carry no more).
#[derive(Debug)]
pub struct PinBank<O, I> {
    channels: Vec<(Channel, O, Option<I>), MAX_NODES>,
}

impl<O, I> Default for PinBank<O, I> {
    fn default() -> Self {
        Self { channels: Vec::new() }
    }
}

impl<O: OutputPin, I: InputPin> PinBank<O, I> {
    /// An empty bank.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `channel` with its relay pin and optional sense pin. The relay
    /// pin is not driven here: its state is left as it is.
    ///
    /// # Errors
    ///
    /// Gives the pins back when the bank is full or the channel is already
    /// in it.
    #[allow(clippy::type_complexity)]
    pub fn add(&mut self, channel: Channel, relay: O, sense: Option<I>) -> Result<(), (O, Option<I>)> {
        if self.channels.iter().any(|(c, _, _)| *c == channel) {
            return Err((relay, sense));
        }
        self.channels.push((channel, relay, sense)).map_err(|(_, relay, sense)| (relay, sense))
    }

    fn entry(&mut self, channel: Channel) -> Result<&mut (Channel, O, Option<I>), PowerError> {
        self.channels.iter_mut().find(|(c, _, _)| *c == channel).ok_or(PowerError::NoSuchChannel(channel))
    }
}

impl<O: OutputPin, I: InputPin> PowerSwitch for PinBank<O, I> {
    fn set(&mut self, channel: Channel, on: bool) -> Result<(), PowerError> {
        let (_, relay, _) = self.entry(channel)?;
        let result = if on { relay.set_high() } else { relay.set_low() };
        result.map_err(|_| PowerError::Device { channel, code: 0 })
    }

    fn sense(&mut self, channel: Channel) -> Result<Option<bool>, PowerError> {
        let (_, _, sense) = self.entry(channel)?;
        match sense {
            None => Ok(None),
            Some(pin) => pin.is_high().map(Some).map_err(|_| PowerError::Device { channel, code: 0 }),
        }
    }
}
