//! What background work reports while it runs, for live progress: each job of a tenant gets an
//! ordered stream of events (its status changes and its progress), kept as tenant rows and
//! announced on the `cairn_events` channel with ids only, so a listener re-reads them under
//! row-level security. Jobs also remember who asked for them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(SCHEMA).await?;
        db.execute_unprepared(&crate::m20261122_000001_initial_schema::tenant_policy_sql(
            "job_events",
        ))
        .await?;
        db.execute_unprepared(STATUS_EVENTS).await?;
        Ok(())
    }
}

const SCHEMA: &str = r#"
ALTER TABLE jobs ADD COLUMN requested_by uuid REFERENCES users (id) ON DELETE SET NULL;

CREATE TABLE job_events (
    id          bigserial PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('status', 'progress')),
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_job_idx ON job_events (job_id, id);

-- Announced at commit, ids only: what a listener may see it reads again under row-level security.
CREATE FUNCTION cairn_announce_job_event() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('cairn_events',
        json_build_object('job', NEW.job_id, 'event', NEW.id)::text);
    RETURN NULL;
END $$;
CREATE TRIGGER job_events_announce AFTER INSERT ON job_events
    FOR EACH ROW EXECUTE FUNCTION cairn_announce_job_event();
"#;

/// A tenant's job records each change of its status as an event, whoever changed it (a runtime
/// finishing it, the reaper, a cancel). The trigger runs as the schema owner, which a policy of its
/// own lets insert these rows whatever tenant the transaction is set to; the application role gets
/// no such policy.
const STATUS_EVENTS: &str = r#"
CREATE FUNCTION cairn_record_job_status() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
    AS $$
BEGIN
    IF NEW.for_tenant IS NOT NULL
       AND (TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status) THEN
        INSERT INTO job_events (tenant_id, job_id, kind, data)
        VALUES (NEW.for_tenant, NEW.id, 'status',
                jsonb_build_object('status', NEW.status,
                                   'attempt', NEW.attempts,
                                   'max_attempts', NEW.max_attempts,
                                   'error', CASE WHEN NEW.status IN ('queued', 'failed')
                                                 THEN NEW.last_error END));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_record_status AFTER INSERT OR UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION cairn_record_job_status();
DO $$ BEGIN
    EXECUTE format('CREATE POLICY job_status_events ON job_events FOR INSERT TO %I WITH CHECK (true)',
                   current_user);
END $$;
"#;
