//! Old job events go: a maintenance job calls `cairn_prune_job_events` once a day, which deletes
//! the events of jobs that finished longer ago than the retention, across teams (their rows are
//! the teams' and row-level security would hide them from the application role), and the finished
//! jobs that belong to no team (schedule checks, sweeps) as old as that. A team's job rows stay.

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
CREATE FUNCTION cairn_prune_job_events(retention interval)
    RETURNS TABLE (events bigint, jobs bigint)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
    AS $$
DECLARE
    pruned_events bigint;
    pruned_jobs bigint;
BEGIN
    DELETE FROM job_events e USING jobs j
     WHERE e.job_id = j.id AND j.finished_at < now() - retention
       AND j.status IN ('completed', 'failed', 'cancelled');
    GET DIAGNOSTICS pruned_events = ROW_COUNT;
    DELETE FROM jobs
     WHERE for_tenant IS NULL AND finished_at < now() - retention
       AND status IN ('completed', 'failed', 'cancelled');
    GET DIAGNOSTICS pruned_jobs = ROW_COUNT;
    RETURN QUERY SELECT pruned_events, pruned_jobs;
END $$;
"#,
            )
            .await?;
        Ok(())
    }
}
