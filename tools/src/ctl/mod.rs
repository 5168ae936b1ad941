//! `wardenctl`'s operator commands: status, and the requests relayed to the
//! controller through the local agent's control socket.
//!
//! * [`socket`]: which control socket to talk to.
//! * [`render`]: the status as a table for people.
//! * [`command`]: running a command, with its exit status.

pub mod command;
pub mod render;
pub mod socket;

pub use command::{run_request, run_status, Exit, Outcome};
pub use socket::{choose_socket, SocketChoice};
