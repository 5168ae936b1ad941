//! A page of metrics in the Prometheus text format (0.0.4), written by
//! `prometheus-client` from values read once per scrape: each family is
//! written whole by one call ([`Page::gauge`], [`Page::counter`],
//! [`Page::histogram`]), with its `HELP`, its `TYPE` and every row.
//!
//! Names are given without the suffixes the format adds: a unit (`Some(&Unit::Seconds)`
//! makes `NAME_seconds`) and, for a counter, `_total`.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabelSet, EncodeMetric, NoLabelSet,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use warden_core::controller::Timing;
use warden_core::wire::DecodeStats;

use crate::endpoint::Tally;

pub use prometheus_client::registry::Unit;

/// The `Content-Type` of a page.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// No labels: the one row of a family that has none.
pub const NO_LABELS: [(&str, &str); 0] = [];

/// Counts of observations by upper bound (seconds, or whatever the family's
/// unit is), their sum and their number: a histogram as plain numbers,
/// kept by a loop and copied into its snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    bounds: &'static [f64],
    /// Observations in each bucket alone (not cumulated), by bound.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Buckets {
    /// No observation yet, with these upper bounds (increasing; `+Inf` is
    /// added by the format).
    #[must_use]
    pub fn new(bounds: &'static [f64]) -> Self {
        Self { bounds, counts: vec![0; bounds.len()], sum: 0.0, count: 0 }
    }

    /// One observation.
    pub fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            if let Some(c) = self.counts.get_mut(i) {
                *c = c.saturating_add(1);
            }
        }
        self.sum += value;
        self.count = self.count.saturating_add(1);
    }

    /// How many observations.
    #[must_use]
    pub const fn count(&self) -> u64 {
        self.count
    }

    /// Their sum.
    #[must_use]
    pub const fn sum(&self) -> f64 {
        self.sum
    }
}

/// Time buckets from a millisecond to a minute, for failover phases,
/// fence operations and resource steps.
pub const SECONDS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// A page being written.
pub struct Page<'a> {
    encoder: DescriptorEncoder<'a>,
}

impl fmt::Debug for Page<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Page")
    }
}

impl Page<'_> {
    /// A gauge family: one row per label set. A family with no row is
    /// left out.
    ///
    /// # Errors
    ///
    /// Only the formatter's.
    pub fn gauge<L: EncodeLabelSet, V: EncodeGaugeValue>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<&Unit>,
        rows: impl IntoIterator<Item = (L, V)>,
    ) -> fmt::Result {
        let rows: Vec<(L, V)> = rows.into_iter().collect();
        if rows.is_empty() {
            return Ok(());
        }
        let mut family = self.encoder.encode_descriptor(name, help, unit, MetricType::Gauge)?;
        for (labels, value) in rows {
            ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }

    /// A counter family (`_total` is added to `name`).
    ///
    /// # Errors
    ///
    /// Only the formatter's.
    pub fn counter<L: EncodeLabelSet, V: EncodeCounterValue>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<&Unit>,
        rows: impl IntoIterator<Item = (L, V)>,
    ) -> fmt::Result {
        let rows: Vec<(L, V)> = rows.into_iter().collect();
        if rows.is_empty() {
            return Ok(());
        }
        let mut family = self.encoder.encode_descriptor(name, help, unit, MetricType::Counter)?;
        for (labels, value) in rows {
            ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }

    /// A histogram family (`_bucket`, `_sum` and `_count` rows).
    ///
    /// # Errors
    ///
    /// Only the formatter's.
    pub fn histogram<'b, L: EncodeLabelSet>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<&Unit>,
        rows: impl IntoIterator<Item = (L, &'b Buckets)>,
    ) -> fmt::Result {
        let rows: Vec<(L, &Buckets)> = rows.into_iter().collect();
        if rows.is_empty() {
            return Ok(());
        }
        let mut family = self.encoder.encode_descriptor(name, help, unit, MetricType::Histogram)?;
        for (labels, b) in rows {
            let pairs: Vec<(f64, u64)> = b.bounds.iter().copied().zip(b.counts.iter().copied()).collect();
            family.encode_family(&labels)?.encode_histogram::<NoLabelSet>(b.sum, b.count, &pairs, None)?;
        }
        Ok(())
    }

    /// `warden_build_info{program, version} 1`.
    ///
    /// # Errors
    ///
    /// Only the formatter's.
    pub fn build_info(&mut self, program: &str, version: &str) -> fmt::Result {
        self.gauge(
            "warden_build_info",
            "The program and its version (the value is always 1).",
            None,
            [([("program", program), ("version", version)], 1i64)],
        )
    }

    /// `warden_timing_seconds{key}`: the cluster file's `[timing]`, by key
    /// (`auto_unfence_after` only when set), and `warden_timing_max_moves`.
    ///
    /// # Errors
    ///
    /// Only the formatter's.
    pub fn timing(&mut self, timing: &Timing) -> fmt::Result {
        // Taken apart whole: a key added to the timing is a compile error here.
        let Timing {
            keepalive,
            warntime,
            deadtime,
            initdead,
            release_timeout,
            fence_timeout,
            failback_delay,
            move_window,
            max_moves,
            failure_timeout,
            auto_unfence_after,
        } = *timing;
        let rows = [
            ("keepalive", Some(keepalive)),
            ("warntime", Some(warntime)),
            ("deadtime", Some(deadtime)),
            ("initdead", Some(initdead)),
            ("release_timeout", Some(release_timeout)),
            ("fence_timeout", Some(fence_timeout)),
            ("failback_delay", Some(failback_delay)),
            ("move_window", Some(move_window)),
            ("failure_timeout", Some(failure_timeout)),
            ("auto_unfence_after", auto_unfence_after),
        ];
        self.gauge(
            "warden_timing",
            "The cluster file's [timing], by key.",
            Some(&Unit::Seconds),
            rows.iter().filter_map(|(key, d)| d.map(|d| ([("key", *key)], seconds(d.as_millis())))),
        )?;
        self.gauge(
            "warden_timing_max_moves",
            "The cluster file's [timing] max_moves: most automatic moves of a group per move_window.",
            None,
            [(NO_LABELS, i64::from(max_moves))],
        )
    }

    /// The link families (`warden_link_*`), one row set per link.
    ///
    /// # Errors
    ///
    /// Only the formatter's.
    pub fn links<'l>(&mut self, up_help: &str, links: &[Link<'l>]) -> fmt::Result {
        fn label<'l>(l: &Link<'l>) -> [(&'static str, &'l str); 2] {
            [("node", l.node), ("link", l.link)]
        }
        fn reason<'l>(l: &Link<'l>, why: &'static str) -> [(&'static str, &'l str); 3] {
            [("node", l.node), ("link", l.link), ("reason", why)]
        }
        self.gauge("warden_link_up", up_help, None, links.iter().map(|l| (label(l), i64::from(l.up))))?;
        self.counter(
            "warden_link_frames_sent",
            "Frames written whole on the link.",
            None,
            links.iter().map(|l| (label(l), l.sent)),
        )?;
        self.counter(
            "warden_link_frames_received",
            "Frames decoded into a message on the link.",
            None,
            links.iter().map(|l| (label(l), u64::from(l.decode.ok))),
        )?;
        self.counter(
            "warden_link_frames_rejected",
            "Frames the link's decoder refused, by reason.",
            None,
            links.iter().flat_map(|l| {
                frames_rejected(&l.decode).into_iter().map(move |(why, n)| (reason(l, why), u64::from(n)))
            }),
        )?;
        self.counter(
            "warden_link_frames_unsent",
            "Frames not sent on the link: its output full, or the port closed or failing.",
            None,
            links.iter().flat_map(|l| l.unsent.iter().map(move |(why, n)| (reason(l, why), *n))),
        )?;
        self.gauge(
            "warden_link_last_heard_age",
            "Time since a frame was last decoded on the link (no row: never).",
            Some(&Unit::Seconds),
            links.iter().filter_map(|l| Some((label(l), l.last_heard_age?))),
        )
    }

    /// `warden_metrics_requests_total{result}`: what the endpoint answered.
    ///
    /// # Errors
    ///
    /// Only the formatter's.
    pub fn endpoint(&mut self, tally: &Tally) -> fmt::Result {
        self.counter(
            "warden_metrics_requests",
            "Connections to this metrics endpoint, by how they ended.",
            None,
            tally.by_result().map(|(result, n)| ([("result", result)], n)),
        )
    }
}

/// One link's figures, as both daemons count them, for [`Page::links`].
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    /// The link's node.
    pub node: &'a str,
    /// The link's name.
    pub link: &'a str,
    /// Open (and, on the controller, its driver not stalled).
    pub up: bool,
    /// Frames written whole.
    pub sent: u64,
    /// The decoder's counts.
    pub decode: DecodeStats,
    /// Frames not sent, by reason (`full`, `failed`).
    pub unsent: &'a [(&'static str, u64)],
    /// Seconds since a frame was last decoded (`None`: never).
    pub last_heard_age: Option<f64>,
}

/// Frames a link's decoder refused, by reason, in the decoder's words
/// (the `reason` label of `warden_link_frames_rejected_total`).
#[must_use]
pub fn frames_rejected(d: &DecodeStats) -> [(&'static str, u32); 8] {
    // Taken apart whole: a counter added to the decoder is a compile error here.
    let DecodeStats { ok: _, too_long, cobs, empty, truncated, bad_tag, bad_version, decode, trailing_bytes } = *d;
    [
        ("too_long", too_long),
        ("cobs", cobs),
        ("empty", empty),
        ("truncated", truncated),
        ("bad_tag", bad_tag),
        ("bad_version", bad_version),
        ("decode", decode),
        ("trailing_bytes", trailing_bytes),
    ]
}

/// Milliseconds as seconds.
#[must_use]
pub fn seconds(ms: u64) -> f64 {
    // Exact below 2^53 ms (285,000 years).
    ms as f64 / 1000.0
}

/// A writer of a page, as `prometheus-client`'s registry calls it.
struct Writer<F>(F);

impl<F> fmt::Debug for Writer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Writer")
    }
}

impl<F: Fn(&mut Page<'_>) -> fmt::Result + Send + Sync + 'static> Collector for Writer<F> {
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> fmt::Result {
        (self.0)(&mut Page { encoder })
    }
}

/// The page `write` writes, as Prometheus text.
#[must_use]
pub fn render(write: impl Fn(&mut Page<'_>) -> fmt::Result + Send + Sync + 'static) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Writer(write)));
    let mut text = String::new();
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry) {
        // Writing to a String fails only if a writer says so; say it where it is read.
        text = format!("# the page could not be written: {e}\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_carry_their_units_in_their_names_and_histograms_their_buckets() {
        let mut b = Buckets::new(&[0.1, 1.0]);
        for v in [0.05, 0.5, 0.7, 3.0] {
            b.observe(v);
        }
        assert_eq!((b.count(), b.sum()), (4, 4.25));
        let text = render(move |page| {
            page.build_info("warden-test", "1.2.3")?;
            page.gauge("warden_node_life", "Life.", None, [([("node", "alpha"), ("life", "up")], 1i64)])?;
            page.gauge("warden_link_last_heard_age", "Age.", Some(&Unit::Seconds), [([("link", "x")], 0.25)])?;
            page.counter("warden_fence_operations", "Fences.", None, [([("result", "confirmed")], 2u64)])?;
            page.gauge("warden_nothing", "No rows, no family.", None, Vec::<([(&str, &str); 0], i64)>::new())?;
            page.histogram("warden_fence_duration", "Fence times.", Some(&Unit::Seconds), [(NO_LABELS, &b)])
        });
        let want = [
            "# TYPE warden_build_info gauge",
            "warden_build_info{program=\"warden-test\",version=\"1.2.3\"} 1",
            "warden_node_life{node=\"alpha\",life=\"up\"} 1",
            "# TYPE warden_link_last_heard_age_seconds gauge",
            "warden_link_last_heard_age_seconds{link=\"x\"} 0.25",
            "# TYPE warden_fence_operations_total counter",
            "warden_fence_operations_total{result=\"confirmed\"} 2",
            "# TYPE warden_fence_duration_seconds histogram",
            "warden_fence_duration_seconds_bucket{le=\"0.1\"} 1",
            "warden_fence_duration_seconds_bucket{le=\"1\"} 3",
            "warden_fence_duration_seconds_bucket{le=\"+Inf\"} 4",
            "warden_fence_duration_seconds_sum 4.25",
            "warden_fence_duration_seconds_count 4",
        ];
        for line in want {
            assert!(text.lines().any(|l| l == line), "no line `{line}` in:\n{text}");
        }
        assert!(!text.contains("warden_nothing"), "{text}");
    }

    #[test]
    fn the_timing_is_shown_by_key_in_seconds() {
        let text = render(|page| page.timing(&Timing::DEFAULT));
        assert!(text.contains("warden_timing_seconds{key=\"keepalive\"} 1.0\n"), "{text}");
        assert!(text.contains("warden_timing_seconds{key=\"deadtime\"} 10.0\n"), "{text}");
        assert!(!text.contains("auto_unfence_after"), "an unset key is left out: {text}");
        assert!(text.contains("warden_timing_max_moves "), "{text}");
    }
}
