//! The controller (DESIGN §3): a sans-IO state machine that decides which
//! node holds which group, and fences nodes that stop answering.
//!
//! Inputs: [`Controller::handle_message`] (a frame already decoded and
//! authenticated by [`crate::wire::Decoder`]), [`Controller::handle_sense`],
//! [`Controller::handle_request`], [`Controller::handle_timeout`]. Outputs come
//! from [`Controller::poll_output`] in the order they must be carried out;
//! [`Controller::poll_timeout`] says when to call `handle_timeout` next.

mod config;
mod io;

pub use config::{ClusterConfig, ConfigError, GroupConfig, Timing, TimingError, TimingProblem};
pub use io::{Boot, ControllerStats, Event, FenceRecord, GroupView, Life, MoveReason, NodeView, Output};
