//! Cairn's application services, between the domain (rules and storage, per tenant) and the
//! adapters that call them: server functions and HTTP routes (`app`, `server`), background jobs and
//! the CLI. Nothing here knows of Leptos or axum: a service takes the `AppContext` and a tenant's
//! transaction (or a job), and answers `api` types.

pub mod ai;
mod context;
pub mod delivery;
pub mod in_flight;
pub mod jobs;
pub mod knowledge;
pub mod project_sync;
pub mod sources;
pub mod workflows;

pub use context::{AppContext, GitHubSettings};
