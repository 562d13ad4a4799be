//! AI workflows: a team's templates (each save a new version: a run keeps the version it ran), the
//! runs of a template on a note, and each run's stored steps. A step's row is its durable record:
//! a run resumed after a crash, a retry or a failure skips every step that has one, so a step that
//! was paid for is never paid for again. A finished run's report is a memory entry of the new kind
//! `workflow_report` (the kinds' check widens; no row changes).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(SQL).await?;
        for table in ["workflow_templates", "workflow_runs", "workflow_steps"] {
            db.execute_unprepared(&crate::m20261122_000001_initial_schema::tenant_policy_sql(
                table,
            ))
            .await?;
        }
        Ok(())
    }
}

const SQL: &str = r#"
ALTER TABLE memory_entries DROP CONSTRAINT memory_entries_kind_check,
    ADD CONSTRAINT memory_entries_kind_check
        CHECK (kind IN ('file', 'manual', 'insight', 'pattern', 'workflow_report'));

-- A workflow run whose worst case is above this asks for a confirmation before it starts.
ALTER TABLE ai_settings
    ADD COLUMN run_confirm_above_usd numeric(12, 4) CHECK (run_confirm_above_usd >= 0);

CREATE TABLE workflow_templates (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    version     integer NOT NULL CHECK (version >= 1),
    definition  jsonb NOT NULL,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name, version)
);

CREATE TABLE workflow_runs (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id        uuid NOT NULL,
    note_id           uuid NOT NULL,
    template_name     text NOT NULL,
    -- 0: the built-in template (never stored).
    template_version  integer NOT NULL CHECK (template_version >= 0),
    definition        jsonb NOT NULL,
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    job_id            uuid,
    error             text,
    -- The attempts of the step that failed the run, for its page.
    failed_attempts   jsonb NOT NULL DEFAULT '[]',
    estimate_usd      numeric(14, 8) NOT NULL DEFAULT 0,
    -- Fan-out items with a stored output, and the items of the list.
    traced_done       integer,
    traced_of         integer,
    rerun_of          uuid,
    requested_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    UNIQUE (id, tenant_id),
    FOREIGN KEY (note_id, tenant_id) REFERENCES project_notes (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX workflow_runs_note_idx ON workflow_runs (note_id, created_at DESC);
CREATE INDEX workflow_runs_project_idx ON workflow_runs (project_id, created_at DESC);

-- The team of a note, for the command line (`cairn workflow run --note`), which starts with no
-- team; like cairn_project_tenant, it answers only a team id.
CREATE FUNCTION cairn_note_tenant(note uuid) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$ SELECT tenant_id FROM project_notes WHERE id = note $$;
REVOKE ALL ON FUNCTION cairn_note_tenant(uuid) FROM PUBLIC;

CREATE TABLE workflow_steps (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    run_id       uuid NOT NULL,
    seq          integer NOT NULL,
    step_key     text NOT NULL,
    -- The fan-out item's id; '' for a step that does not fan out.
    item         text NOT NULL DEFAULT '',
    status       text NOT NULL CHECK (status IN ('completed', 'copied')),
    output       text NOT NULL CHECK (length(btrim(output)) > 0),
    provider     text,
    model        text,
    attempts     jsonb NOT NULL DEFAULT '[]',
    tokens_in    integer NOT NULL DEFAULT 0,
    tokens_out   integer NOT NULL DEFAULT 0,
    cost_usd     numeric(14, 8) NOT NULL DEFAULT 0,
    duration_ms  integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, step_key, item),
    FOREIGN KEY (run_id, tenant_id) REFERENCES workflow_runs (id, tenant_id) ON DELETE CASCADE
);

-- The key findings of steps that produce insights (the synthesis review) go into the existing
-- workflow_insights (kept with the project; embedded later): which run and step, what kind, how
-- severe. Columns are only added. An insight outlives its run (a deleted note takes its runs).
ALTER TABLE workflow_insights
    ADD COLUMN run_id uuid,
    ADD COLUMN step_key text,
    ADD COLUMN kind text CHECK (kind IN ('gap', 'conflict', 'risk', 'order', 'other')),
    ADD COLUMN severity text CHECK (severity IN ('low', 'medium', 'high')),
    ADD FOREIGN KEY (run_id, tenant_id) REFERENCES workflow_runs (id, tenant_id)
        ON DELETE SET NULL (run_id);
"#;
