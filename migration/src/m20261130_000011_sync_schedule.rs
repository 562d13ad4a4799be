//! A project's sync schedule: every N minutes Cairn asks GitHub whether the branch moved (a
//! conditional request, free when it did not) and syncs only when it did.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(SQL).await?;
        Ok(())
    }
}

const SQL: &str = r#"
ALTER TABLE projects
    ADD COLUMN sync_every_minutes integer CHECK (sync_every_minutes BETWEEN 1 AND 10080),
    ADD COLUMN sync_checked_at timestamptz;

-- The scheduled projects whose turn has come, across tenants, each marked as checked now so that
-- the next call (on any instance) does not hand it out again.
CREATE FUNCTION cairn_due_scheduled_syncs(max_projects integer)
RETURNS TABLE (tenant_id uuid, project_id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    UPDATE projects p SET sync_checked_at = now()
      FROM (SELECT id FROM projects
             WHERE sync_every_minutes IS NOT NULL AND github_repo IS NOT NULL
               AND (sync_checked_at IS NULL
                    OR sync_checked_at + make_interval(mins => sync_every_minutes) <= now())
             ORDER BY sync_checked_at NULLS FIRST
             LIMIT max_projects
             FOR UPDATE SKIP LOCKED) due
     WHERE p.id = due.id
    RETURNING p.tenant_id, p.id
$$;
REVOKE ALL ON FUNCTION cairn_due_scheduled_syncs(integer) FROM PUBLIC;
"#;
