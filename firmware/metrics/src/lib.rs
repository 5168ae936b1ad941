//! # warden-metrics
//!
//! What both daemons (the Linux controller and the host agent) need to
//! serve Prometheus metrics without ever holding up a heartbeat loop.
//!
//! ## Contract
//!
//! * The loop *publishes*: now and then (at most once per keepalive, and at
//!   a change) it builds a snapshot of plain numbers and hands it to
//!   [`Latest::publish`], which never waits: if a scrape is taking the
//!   previous snapshot at that very instant, the new one is dropped and the
//!   loop publishes again later.
//! * The endpoint *renders*: [`Endpoint`] accepts connections and answers
//!   `GET /metrics` on threads of its own, at normal scheduling (started
//!   before the loop raises itself to `SCHED_FIFO`), reading the latest
//!   snapshot and writing it as Prometheus text (exposition format 0.0.4)
//!   through `prometheus-client` ([`Page`]).
//! * Nothing a client does reaches the loop: a request is read for at most
//!   [`Limits::read_time`] and [`Limits::request_bytes`], answers are written
//!   within [`Limits::write_time`], a fixed number of workers serve, a
//!   bounded number of connections wait for them, and any more are answered
//!   `503` at once and closed. Every outcome is counted ([`Tally`]) and shown
//!   on the page itself (`warden_metrics_requests_total`).
//!
//! ## Layers
//!
//! * [`latest`]: the slot between the loop and the endpoint.
//! * [`endpoint`]: the bounded HTTP server (requests parsed by `httparse`).
//! * [`page`]: families of metrics written whole, histograms of plain
//!   bucket counts ([`Buckets`]), and what both daemons show alike (build
//!   information, configured timing, the endpoint's own counts).

pub mod endpoint;
pub mod latest;
pub mod page;

pub use endpoint::{Endpoint, Limits, Tally};
pub use latest::Latest;
pub use page::{render, Buckets, Page, Unit};
