//! Deterministic simulation of a whole cluster (DESIGN §6.1).
//!
//! The real [`Controller`](warden_core::controller::Controller) and real
//! [`Agent`](warden_agent_proto::Agent)s run over simulated serial links
//! (loss, delay, duplication, byte corruption, cuts), power relays with
//! sense inputs (that may ignore a command or lag), and a world of resources
//! whose steps take time and may fail. Virtual time jumps to the next event
//! or timer; every random choice comes from the seed, so a seed replays
//! exactly.
//!
//! After every event the run is checked against the *world* (what really
//! holds a group's resources), not against what the controller believes:
//! * rule 1, exclusivity: no group active (or starting) on two powered servers;
//! * rule 3, stay down: a relay is switched off only after the fence record
//!   is persisted, switched on only for an operator unfence and never while
//!   the record says fenced, and a fenced server that has power (a relay
//!   that fell closed during a controller reset, say) is commanded off at once;
//! * rule 4: a restarted controller powers nothing on by itself;
//! * rule 6: no group moves more than `max_moves` times per `move_window`;
//! * a timer the controller or an agent asks for is always served.
//!
//! Then the faults stop, everything is repaired and an operator unfences
//! fenced servers; liveness requires every group to be held again, fully,
//! on exactly one powered server, within [`Plan::liveness_bound`].
//!
//! The [benchmarks](mod@bench) run the same halves without the simulator: a
//! [`Recording`] of a plan's cluster in steady state (perfect links,
//! steps done at once) is replayed to time a controller and an agent step.

mod agenda;
pub mod bench;
mod campaign;
mod engine;
mod narrate;
mod plan;
mod rng;
mod steady;
mod trace;
mod world;

pub use campaign::{run_seed, Campaign, Summary};
pub use engine::{ControllerHook, Outcome, RunOptions, Scripted, Sim};
pub use narrate::narrate;
pub use plan::{Fault, Faults, GroupSpec, Plan};
pub use rng::Rng;
pub use steady::{AgentInput, ControllerInput, Recording};
pub use trace::{describe_event, line, Entry, Trace};
