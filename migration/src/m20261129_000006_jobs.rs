//! The job queue: background work shared by every Cairn instance. Not tenant data: claiming looks
//! across tenants; a job that acts for a tenant names it (`for_tenant`) and its work runs in that
//! tenant's row-level-security transaction.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
CREATE TABLE jobs (
    id                uuid PRIMARY KEY,
    kind              text NOT NULL,
    for_tenant        uuid REFERENCES tenants (id) ON DELETE CASCADE,
    payload           jsonb NOT NULL DEFAULT '{}'::jsonb,
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    attempts          integer NOT NULL DEFAULT 0,
    max_attempts      integer NOT NULL CHECK (max_attempts >= 1),
    run_after         timestamptz NOT NULL DEFAULT now(),
    heartbeat_at      timestamptz,
    locked_by         text,
    cancel_requested  boolean NOT NULL DEFAULT false,
    last_error        text,
    -- A schedule's slot ("storage.sweep@29443050"): one job per slot, whichever instance enqueues.
    unique_key        text UNIQUE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz
);
CREATE INDEX jobs_ready_idx ON jobs (run_after) WHERE status = 'queued';
CREATE INDEX jobs_running_idx ON jobs (heartbeat_at) WHERE status = 'running';
"#,
            )
            .await?;
        Ok(())
    }
}
