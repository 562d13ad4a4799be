#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod ai;
pub mod api_tokens;
mod audit;
pub mod blobs;
// The tables as SeaORM entities: only the domain reads and writes rows. Tests that arrange or
// inspect rows directly get them with the `testing` feature.
#[cfg(feature = "testing")]
pub mod entities;
// Tables for features still to come (analyses, insights) have entities nothing uses yet.
#[cfg(not(feature = "testing"))]
#[allow(dead_code)]
mod entities;
mod error;
pub mod github_quota;
pub mod images;
pub mod invitations;
pub mod job_runs;
pub mod knowledge;
pub mod markdown;
pub mod members;
pub mod memory;
pub mod notes;
mod pool;
pub mod project_secrets;
pub mod projects;
pub mod rate_limit;
pub mod reseal;
pub mod secrets;
mod sql;
mod storage;
pub mod syncs;
mod tenant;
pub mod webhooks;
pub mod workflows;

pub use error::{DomainError, Upstream};
pub use pool::{PoolHealth, PoolStats};
pub use sea_orm;
pub use storage::ImageStore;
pub use storage::Orphans;
pub use tenant::{Credential, Db, Principal, TenantCtx, TenantTxn};
