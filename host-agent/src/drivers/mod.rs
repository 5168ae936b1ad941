//! Resource kinds on Linux. Each implements [`crate::resource::Resource`].

pub mod disk;
pub mod monitor;
pub mod net;
pub mod process;
pub mod service;
