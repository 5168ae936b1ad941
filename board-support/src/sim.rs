//! In-memory, deterministic implementations for the whole-cluster simulator.
