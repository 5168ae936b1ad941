//! Every node's relay behind one [`PowerSwitch`]: channels on the serial
//! relay module and channels on GPIO lines, as the controller file says.

use warden_bsp::linux::{open_relay_module, GpioInput, GpioOutput, OpenError, SerialRelayModule};
use warden_bsp::{Channel, Fences, PinBank, PowerError, PowerSwitch};
use warden_core::{Duration, MAX_NODES};

use warden_cluster::hardware::{ControllerConfig, RelayConfig};

/// The relay backends of the controller.
#[derive(Debug)]
pub struct Relays {
    module: Option<SerialRelayModule>,
    pins: PinBank<GpioOutput, GpioInput>,
    /// Channels on the module (the rest are on pins).
    on_module: Vec<Channel>,
}

/// What was found at boot, before the controller starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootSense {
    /// Sensed power by node index (`None`: no sense, or no answer).
    pub powered: [Option<bool>; MAX_NODES],
    /// Sense readings that failed, by node name, for the console.
    pub problems: Vec<(String, PowerError)>,
}

/// A relay that could not be opened, or a second relay on one channel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayOpenError {
    /// A device could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Two nodes share a relay channel.
    #[error("node `{node}`: {channel} is already taken by another node")]
    Shared {
        /// The node.
        node: String,
        /// The channel.
        channel: Channel,
    },
}

impl Relays {
    /// Opens every relay and reads every sense input, without switching
    /// anything (rule 4). A GPIO relay line must be driven from the moment
    /// it is requested, so it is requested at the state the relay is in:
    /// its sense reading, else off for a fenced node and on for the others.
    ///
    /// Sense failures at boot are returned as "unknown" with the error in
    /// [`BootSense::problems`]: the controller then treats the power as unknown.
    ///
    /// # Errors
    ///
    /// [`RelayOpenError`] naming the device.
    pub fn open(config: &ControllerConfig, fences: &Fences) -> Result<(Self, BootSense), RelayOpenError> {
        let module = match &config.relay_module {
            Some(m) => Some(open_relay_module(
                &m.device,
                m.baud,
                m.channels,
                Duration::from_millis(u64::try_from(m.answer_timeout.as_millis()).unwrap_or(u64::MAX)),
            )?),
            None => None,
        };
        let mut relays = Self { module, pins: PinBank::new(), on_module: Vec::new() };
        let mut powered = [None; MAX_NODES];
        let mut problems = Vec::new();
        for node in &config.nodes {
            let channel = Channel(node.channel);
            let fenced = fences.get(node.id.index()).copied().unwrap_or(false);
            let sensed = match &node.relay {
                RelayConfig::Module => {
                    relays.on_module.push(channel);
                    relays.sense(channel)
                }
                RelayConfig::Gpio { chip, line, active_low, sense_line, sense_active_low } => {
                    let sense = sense_line.map(|l| GpioInput::open(chip, l, *sense_active_low)).transpose()?;
                    let mut sense_reading = Ok(None);
                    let sense = sense.map(|mut pin| {
                        use embedded_hal::digital::InputPin;
                        sense_reading = pin.is_high().map(Some).map_err(|_| PowerError::Device { channel, code: 0 });
                        pin
                    });
                    let initial = sense_reading.as_ref().ok().copied().flatten().unwrap_or(!fenced);
                    let relay = GpioOutput::open(chip, *line, *active_low, initial)?;
                    relays
                        .pins
                        .add(channel, relay, sense)
                        .map_err(|_| RelayOpenError::Shared { node: node.name.clone(), channel })?;
                    sense_reading
                }
            };
            match sensed {
                Ok(reading) => {
                    if let Some(slot) = powered.get_mut(node.id.index()) {
                        *slot = reading;
                    }
                }
                Err(e) => problems.push((node.name.clone(), e)),
            }
        }
        // Every module channel is watched: a module with the watch
        // extension reports a lost supply at once; one without ignores it.
        if let Some(module) = relays.module.as_mut() {
            for channel in &relays.on_module {
                if let Err(e) = module.watch(*channel) {
                    problems.push((format!("{channel} (watch)"), e));
                }
            }
        }
        Ok((relays, BootSense { powered, problems }))
    }

    /// The relay module's counters, if there is one.
    #[must_use]
    pub fn module_stats(&self) -> Option<warden_bsp::relay::RelayStats> {
        self.module.as_ref().map(SerialRelayModule::stats)
    }
}

impl crate::relay_worker::SenseChanges for Relays {
    fn change_fd(&self) -> Option<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        let module = self.module.as_ref()?;
        module.port_ref().as_fd().try_clone_to_owned().ok()
    }

    fn take_changes(&mut self, on_change: &mut dyn FnMut(Channel, bool)) -> Result<(), PowerError> {
        match self.module.as_mut() {
            Some(module) => module.take_changes(on_change),
            None => Ok(()),
        }
    }
}

impl PowerSwitch for Relays {
    fn set(&mut self, channel: Channel, on: bool) -> Result<(), PowerError> {
        match (&mut self.module, self.on_module.contains(&channel)) {
            (Some(module), true) => module.set(channel, on),
            _ => self.pins.set(channel, on),
        }
    }

    fn sense(&mut self, channel: Channel) -> Result<Option<bool>, PowerError> {
        match (&mut self.module, self.on_module.contains(&channel)) {
            (Some(module), true) => module.sense(channel),
            _ => self.pins.sense(channel),
        }
    }
}
