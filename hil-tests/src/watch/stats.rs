//! Summaries of measured durations: min, p50, p99, max (nearest rank).

use std::time::Duration;

use serde_json::{json, Value};

/// A summary of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// How many samples.
    pub samples: usize,
    /// The smallest.
    pub min: Duration,
    /// The median (nearest rank).
    pub p50: Duration,
    /// The 99th percentile (nearest rank).
    pub p99: Duration,
    /// The largest.
    pub max: Duration,
}

/// The nearest-rank percentile `q` (0 < q <= 1) of sorted samples.
fn rank(sorted: &[Duration], q: f64) -> Duration {
    let n = sorted.len();
    let r = ((q * n as f64).ceil() as usize).clamp(1, n.max(1));
    sorted.get(r - 1).copied().unwrap_or_default()
}

impl Summary {
    /// The summary of `samples` (`None` when there are none).
    #[must_use]
    pub fn of(samples: &[Duration]) -> Option<Self> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        Some(Self {
            samples: sorted.len(),
            min: *sorted.first()?,
            p50: rank(&sorted, 0.50),
            p99: rank(&sorted, 0.99),
            max: *sorted.last()?,
        })
    }

    /// As JSON, in milliseconds.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "samples": self.samples,
            "min_ms": ms(self.min),
            "p50_ms": ms(self.p50),
            "p99_ms": ms(self.p99),
            "max_ms": ms(self.max),
        })
    }
}

/// Milliseconds with a fraction.
#[must_use]
pub fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Rows of summaries as a table in milliseconds: n, min, p50, p99, max
/// (a row with no samples shows n = 0).
#[must_use]
pub fn table(rows: &[(&str, Option<Summary>)]) -> String {
    let mut out = format!("{:<24} {:>5} {:>8} {:>8} {:>8} {:>8}\n", "", "n", "min", "p50", "p99", "max");
    for (name, s) in rows {
        match s {
            Some(s) => out.push_str(&format!(
                "{name:<24} {:>5} {:>8.1} {:>8.1} {:>8.1} {:>8.1}\n",
                s.samples,
                ms(s.min),
                ms(s.p50),
                ms(s.p99),
                ms(s.max)
            )),
            None => out.push_str(&format!("{name:<24} {:>5}\n", 0)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let s = Summary::of(&samples).unwrap();
        assert_eq!(
            (s.min, s.p50, s.p99, s.max),
            (
                Duration::from_millis(1),
                Duration::from_millis(50),
                Duration::from_millis(99),
                Duration::from_millis(100)
            )
        );
        let one = Summary::of(&[Duration::from_millis(7)]).unwrap();
        assert_eq!((one.p50, one.p99), (Duration::from_millis(7), Duration::from_millis(7)));
        assert_eq!(Summary::of(&[]), None);
        let thirty: Vec<Duration> = (1..=30).map(Duration::from_millis).collect();
        assert_eq!(Summary::of(&thirty).unwrap().p99, Duration::from_millis(30));
    }
}
