//! gpio-cdev lines as embedded-hal pins.

use std::path::Path;

use embedded_hal::digital::{ErrorKind, ErrorType, InputPin, OutputPin};
use gpio_cdev::{Chip, LineHandle, LineRequestFlags};

use super::OpenError;

/// The consumer label the kernel shows for lines this crate holds.
const CONSUMER: &str = "warden-controller";

/// A pin error: the gpio-cdev error is kept for its message.
#[derive(Debug, thiserror::Error)]
#[error("gpio line: {0}")]
pub struct GpioError(#[from] gpio_cdev::Error);

impl embedded_hal::digital::Error for GpioError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

fn request(chip: &Path, line: u32, flags: LineRequestFlags, value: u8) -> Result<LineHandle, OpenError> {
    let what = if flags.contains(LineRequestFlags::OUTPUT) { "relay line on" } else { "sense line on" };
    let fail = |e: gpio_cdev::Error| OpenError::new(what, chip, std::io::Error::other(format!("line {line}: {e}")));
    let mut chip_handle = Chip::new(chip).map_err(fail)?;
    chip_handle.get_line(line).map_err(fail)?.request(flags, value, CONSUMER).map_err(fail)
}

/// A relay driven by a GPIO output line.
#[derive(Debug)]
pub struct GpioOutput(LineHandle);

impl GpioOutput {
    /// Requests `line` of `chip` as an output driven to `initial` (logical:
    /// with `active_low` the kernel inverts). The character device cannot
    /// take a line "as is", so the caller passes what the relay is now (its
    /// sense reading, or its fence record) and the request changes nothing.
    ///
    /// # Errors
    ///
    /// [`OpenError`] naming the chip and line.
    pub fn open(chip: &Path, line: u32, active_low: bool, initial: bool) -> Result<Self, OpenError> {
        let mut flags = LineRequestFlags::OUTPUT;
        if active_low {
            flags |= LineRequestFlags::ACTIVE_LOW;
        }
        request(chip, line, flags, u8::from(initial)).map(Self)
    }
}

impl ErrorType for GpioOutput {
    type Error = GpioError;
}

impl OutputPin for GpioOutput {
    fn set_low(&mut self) -> Result<(), GpioError> {
        Ok(self.0.set_value(0)?)
    }
    fn set_high(&mut self) -> Result<(), GpioError> {
        Ok(self.0.set_value(1)?)
    }
}

/// A sense input on a GPIO line.
#[derive(Debug)]
pub struct GpioInput(LineHandle);

impl GpioInput {
    /// Requests `line` of `chip` as an input (logical value inverted with
    /// `active_low`).
    ///
    /// # Errors
    ///
    /// [`OpenError`] naming the chip and line.
    pub fn open(chip: &Path, line: u32, active_low: bool) -> Result<Self, OpenError> {
        let mut flags = LineRequestFlags::INPUT;
        if active_low {
            flags |= LineRequestFlags::ACTIVE_LOW;
        }
        request(chip, line, flags, 0).map(Self)
    }
}

impl ErrorType for GpioInput {
    type Error = GpioError;
}

impl InputPin for GpioInput {
    fn is_high(&mut self) -> Result<bool, GpioError> {
        Ok(self.0.get_value()? != 0)
    }
    fn is_low(&mut self) -> Result<bool, GpioError> {
        Ok(self.0.get_value()? == 0)
    }
}
