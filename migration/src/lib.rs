#![doc = include_str!("../README.md")]

mod grants;
pub mod guard;
mod lock;
mod m20261122_000001_initial_schema;
mod m20261122_000002_login_attempts;
mod m20261122_000003_session_context;
mod m20261122_000004_image_tenants;
mod m20261129_000005_account_trust;
mod m20261129_000006_jobs;
mod m20261129_000007_job_events;
mod m20261129_000008_project_sync;
mod m20261129_000009_project_secrets;
mod m20261130_000010_sync_ignore;
mod m20261130_000011_sync_schedule;
mod m20261130_000012_ai;
mod m20261206_000013_one_active_path;
mod m20261206_000014_job_turns;
mod m20261206_000015_job_steps;
mod m20261206_000016_prune_job_events;
mod m20261206_000017_api_tokens;
mod m20261206_000018_webhook_deliveries;
mod m20261206_000019_memory_blobs;
mod m20261206_000020_ai_spend;
mod m20261206_000021_github_quota;
mod m20261207_000022_workflows;
mod m20261207_000023_knowledge;
mod m20261207_000024_answer_sources;
mod m20261207_000025_knowledge_functions;
mod m20261207_000026_sync_details;
mod m20261207_000027_email_change_links;

pub use grants::grant_app_role;
pub use guard::{GuardedMigrator, MigrateOptions, MigrationError, MigrationReport};
pub use lock::MigrationLock;
pub use sea_orm_migration;
use sea_orm_migration::prelude::*;

/// Every table whose rows belong to one tenant through a `tenant_id` column, each with forced
/// row-level security on `app.tenant_id`.
pub const TENANT_TABLES: &[&str] = &[
    "memberships",
    "projects",
    "project_notes",
    "project_syncs",
    "memory_entries",
    "note_images",
    "code_analysis_runs",
    "workflow_insights",
    "audit_log",
    "invitations",
    "job_events",
    "project_secrets",
    "job_steps",
    "api_tokens",
    "memory_blobs",
    "ai_spend",
    "knowledge_sources",
    "knowledge_chunks",
    "embedding_spaces",
    "chunk_vectors",
];

/// Cairn's migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial_schema::Migration),
            Box::new(m20261122_000002_login_attempts::Migration),
            Box::new(m20261122_000003_session_context::Migration),
            Box::new(m20261122_000004_image_tenants::Migration),
            Box::new(m20261129_000005_account_trust::Migration),
            Box::new(m20261129_000006_jobs::Migration),
            Box::new(m20261129_000007_job_events::Migration),
            Box::new(m20261129_000008_project_sync::Migration),
            Box::new(m20261129_000009_project_secrets::Migration),
            Box::new(m20261130_000010_sync_ignore::Migration),
            Box::new(m20261130_000011_sync_schedule::Migration),
            Box::new(m20261130_000012_ai::Migration),
            Box::new(m20261206_000013_one_active_path::Migration),
            Box::new(m20261206_000014_job_turns::Migration),
            Box::new(m20261206_000015_job_steps::Migration),
            Box::new(m20261206_000016_prune_job_events::Migration),
            Box::new(m20261206_000017_api_tokens::Migration),
            Box::new(m20261206_000018_webhook_deliveries::Migration),
            Box::new(m20261206_000019_memory_blobs::Migration),
            Box::new(m20261206_000020_ai_spend::Migration),
            Box::new(m20261206_000021_github_quota::Migration),
            Box::new(m20261207_000022_workflows::Migration),
            Box::new(m20261207_000023_knowledge::Migration),
            Box::new(m20261207_000024_answer_sources::Migration),
            Box::new(m20261207_000025_knowledge_functions::Migration),
            Box::new(m20261207_000026_sync_details::Migration),
            Box::new(m20261207_000027_email_change_links::Migration),
        ]
    }
}

impl GuardedMigrator for Migrator {}
