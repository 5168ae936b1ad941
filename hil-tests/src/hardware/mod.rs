//! The simulated hardware of the servers: each server's serial line to the
//! controller ([`serial`]), the relay board the controller talks to, played
//! by the rig ([`board`]), the relays and supplies that power the servers
//! ([`rack`]), one server and what power does to it ([`server`]), and the
//! shared disk ([`disk`]).

pub mod board;
pub mod disk;
pub mod rack;
pub mod serial;
pub mod server;
