#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod ai;
pub mod error;
pub mod github;
pub mod ids;
pub mod jobs;
pub mod memory;
pub mod notes;
pub mod projects;
pub mod syncs;
pub mod tenants;
pub mod tokens;
#[cfg(feature = "server-fn")]
pub mod wire;
pub mod workflows;

pub use error::ApiError;
