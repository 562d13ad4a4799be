//! Project Sync's bookkeeping: each sync runs as a job (and follows it when the job ends without
//! closing the sync: a crash, the reaper, a cancel), says what triggered it and how it went, and
//! keeps the branch's ETag so the next sync of an unchanged branch costs one conditional request.
//! File entries record their language and size.

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
ALTER TABLE project_syncs
    ADD COLUMN job_id         uuid REFERENCES jobs (id) ON DELETE SET NULL,
    ADD COLUMN trigger        text NOT NULL DEFAULT 'button'
                              CHECK (trigger IN ('button', 'cli', 'webhook', 'schedule')),
    ADD COLUMN scan_path      text NOT NULL DEFAULT '',
    ADD COLUMN branch_etag    text,
    ADD COLUMN files_moved    integer NOT NULL DEFAULT 0,
    ADD COLUMN skipped        jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN progress       jsonb NOT NULL DEFAULT '{}'::jsonb;
CREATE INDEX project_syncs_job_idx ON project_syncs (job_id);

ALTER TABLE memory_entries
    ADD COLUMN language   text,
    ADD COLUMN byte_size  bigint;

-- A sync whose job ends without the sync closing it (its instance died and the reaper failed it,
-- it was cancelled, a step failed) ends with the job; a job queued again puts its sync back in the
-- queue. So a dead run never holds the project's one active sync.
CREATE FUNCTION cairn_sync_follows_job() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
    AS $$
BEGIN
    IF NEW.status IN ('failed', 'cancelled') THEN
        UPDATE project_syncs
           SET status = NEW.status,
               error = coalesce(NEW.last_error, error),
               finished_at = now()
         WHERE job_id = NEW.id AND status IN ('queued', 'running');
    ELSIF NEW.status = 'queued' AND OLD.status = 'running' THEN
        UPDATE project_syncs
           SET status = 'queued', phase = NULL, error = NEW.last_error
         WHERE job_id = NEW.id AND status = 'running';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_sync_follows AFTER UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION cairn_sync_follows_job();
DO $$ BEGIN
    EXECUTE format('CREATE POLICY sync_follows_job ON project_syncs FOR UPDATE TO %I USING (true) WITH CHECK (true)',
                   current_user);
    EXECUTE format('CREATE POLICY sync_follows_job_read ON project_syncs FOR SELECT TO %I USING (true)',
                   current_user);
END $$;
"#;
