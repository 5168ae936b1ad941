//! Durations as the operator writes them: an integer of milliseconds, or a
//! string with a unit (`"20ms"`, `"2s"`, `"1.5s"`, `"1m"`, `"1h"`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A duration read from the file, in whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Millis(pub(crate) u64);

impl Millis {
    pub(crate) fn std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }

    pub(crate) fn core(self) -> warden_core::Duration {
        warden_core::Duration::from_millis(self.0)
    }
}

/// Parses `"1.5s"` and the like. The error says what was expected.
pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit_ms: u64 = match unit.trim_start() {
        "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "" => {
            return Err(format!(
                "duration \"{text}\" has no unit: write e.g. \"{t}ms\" or \"{t}s\", or an integer of milliseconds"
            ))
        }
        other => return Err(format!("duration \"{text}\" has unknown unit \"{other}\" (known: ms, s, m, h)")),
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || frac.contains('.') || (number.contains('.') && frac.is_empty()) {
        return Err(format!("duration \"{text}\" is not a number followed by a unit"));
    }
    let too_long = || format!("duration \"{text}\" is too long");
    let whole: u64 = whole.parse().map_err(|_| too_long())?;
    let mut ms = whole.checked_mul(unit_ms).ok_or_else(too_long)?;
    if !frac.is_empty() {
        if frac.len() > 9 {
            return Err(format!("duration \"{text}\" has too many decimals"));
        }
        let digits: u64 = frac.parse().map_err(|_| too_long())?;
        let scale = 10u64.pow(u32::try_from(frac.len()).unwrap_or(9));
        let scaled = digits.checked_mul(unit_ms).ok_or_else(too_long)?;
        if scaled % scale != 0 {
            return Err(format!("duration \"{text}\" is not a whole number of milliseconds"));
        }
        ms = ms.checked_add(scaled / scale).ok_or_else(too_long)?;
    }
    Ok(ms)
}

/// Writes milliseconds the way the file accepts them, with the largest unit
/// that keeps the value whole (`1500` is `"1500ms"`, `2000` is `"2s"`).
pub fn format_millis(ms: u64) -> String {
    for (unit, suffix) in [(3_600_000, "h"), (60_000, "m"), (1000, "s")] {
        if ms != 0 && ms.checked_rem(unit) == Some(0) {
            return format!("{}{suffix}", ms / unit);
        }
    }
    format!("{ms}ms")
}

impl<'de> Deserialize<'de> for Millis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Millis;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a duration: an integer of milliseconds or a string like \"200ms\", \"2s\", \"1.5s\", \"1m\"",
                )
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Millis, E> {
                u64::try_from(v).map(Millis).map_err(|_| E::custom(format!("duration {v} is negative")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Millis, E> {
                Ok(Millis(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Millis, E> {
                parse_duration(v).map(Millis).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_fractions() {
        assert_eq!(parse_duration("20ms"), Ok(20));
        assert_eq!(parse_duration("2s"), Ok(2000));
        assert_eq!(parse_duration("1.5s"), Ok(1500));
        assert_eq!(parse_duration("1m"), Ok(60_000));
        assert_eq!(parse_duration("0.25m"), Ok(15_000));
        assert_eq!(parse_duration("1h"), Ok(3_600_000));
        assert_eq!(
            parse_duration("1.0005s").unwrap_err(),
            "duration \"1.0005s\" is not a whole number of milliseconds"
        );
        assert!(parse_duration("2").unwrap_err().contains("has no unit"));
        assert!(parse_duration("2 parsecs").unwrap_err().contains("unknown unit \"parsecs\""));
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1.s").is_err());
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
    }

    #[test]
    fn formats_with_the_largest_whole_unit() {
        assert_eq!(format_millis(0), "0ms");
        assert_eq!(format_millis(1500), "1500ms");
        assert_eq!(format_millis(2000), "2s");
        assert_eq!(format_millis(120_000), "2m");
        assert_eq!(format_millis(7_200_000), "2h");
        for ms in [0, 1, 999, 1000, 1500, 60_000, 90_000, 3_600_000] {
            assert_eq!(parse_duration(&format_millis(ms)), Ok(ms));
        }
    }
}
