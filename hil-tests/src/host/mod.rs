//! The host: the machine the rig runs on. Named network namespaces
//! ([`netns`]) joined into the rig's network ([`topology`]), each server's
//! first process ([`keeper`]), address dumps ([`netlink`]), processes found
//! by namespace ([`procs`]); the names a run creates ([`prefix`]) and what a
//! crashed run left ([`leftovers`]); real-time threads ([`realtime`]),
//! SIGINT and SIGTERM ([`signals`]), the outside programs ([`tools`]), and
//! Pacemaker's fencer beside the rig ([`pacemaker`]).

pub mod keeper;
pub mod leftovers;
pub mod netlink;
pub mod netns;
pub mod pacemaker;
pub mod prefix;
pub mod procs;
pub mod realtime;
pub mod signals;
pub mod tools;
pub mod topology;
