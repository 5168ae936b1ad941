//! What observes a run: the client probe that times the outage
//! ([`probe`]), the detectors for two holders of the address or the mount
//! ([`detect`]), the writer that checks that no acknowledged record is lost
//! ([`writer`]) through the service the group runs ([`service`]); the
//! [`timeline`] everything lands on, the [`verdict`] a run ends in, and
//! summaries of measured durations ([`stats`]); the daemons' metrics
//! endpoints, scraped and loaded ([`scrape`]).

pub mod detect;
pub mod probe;
pub mod scrape;
pub mod service;
pub mod stats;
pub mod timeline;
pub mod verdict;
pub mod writer;
