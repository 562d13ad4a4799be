//! The Cairn server: configuration, the embedded database, the HTTP application and the CLI.
#![doc = include_str!("../README.md")]

pub mod cli;
mod cli_embeddings;
mod cli_sync;
mod cli_workflow;
pub mod config;
pub mod database;
pub mod embedded_db;
mod error;
pub mod events;
mod routes;
mod secret_keys;
pub mod startup;
mod storage;
pub mod telemetry;

pub use app::state::AppState;
pub use startup::Application;
