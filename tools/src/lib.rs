//! # warden-tools
//!
//! Operator tools for Warden.
