//! # warden-hil
//!
//! Test rigs for Warden.
