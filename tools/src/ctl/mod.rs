//! `wardenctl`'s operator commands: status, and the requests relayed to the
//! controller through the local agent's control socket.
//!
//! * [`socket`]: which control socket to talk to.
//! * [`render`]: the status as a table for people.
//! * [`command`]: running a command, with its exit status.
//! * [`direct`]: the same, sent to the controller's operator endpoint
//!   (`--controller ADDR`) with no agent on this host.

pub mod command;
pub mod direct;
pub mod render;
pub mod socket;

pub use command::{run_history, run_request, run_status, Exit, Outcome};
pub use socket::{choose_socket, SocketChoice};
