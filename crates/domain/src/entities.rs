//! SeaORM entities, one module per table. They mirror the schema created by the `migration` crate.
#![allow(missing_docs)] // Generated-shape code: the columns are documented by the migration.

pub mod account_tokens;
pub mod audit_log;
pub mod code_analysis_runs;
pub mod invitations;
pub mod memberships;
pub mod memory_entries;
pub mod note_images;
pub mod project_notes;
pub mod project_syncs;
pub mod projects;
pub mod sessions;
pub mod tenants;
pub mod users;
pub mod workflow_insights;

pub mod run_status;
