//! The first schema: tenants and accounts, projects, notes and their images, memory entries, syncs,
//! code analysis runs, workflow insights and the audit log, with row-level security on every table
//! that belongs to a tenant.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(SCHEMA).await?;
        for table in TENANT_TABLES {
            db.execute_unprepared(&tenant_policy_sql(table)).await?;
        }
        db.execute_unprepared(MEMBERSHIP_AND_TENANT_POLICIES)
            .await?;
        Ok(())
    }
}

/// Tables whose rows belong to one tenant through a `tenant_id` column (as of this migration).
pub(crate) const TENANT_TABLES: &[&str] = &[
    "memberships",
    "projects",
    "project_notes",
    "project_syncs",
    "memory_entries",
    "note_images",
    "code_analysis_runs",
    "workflow_insights",
    "audit_log",
];

/// Row-level security for one tenant table: forced, so even the table's owner role obeys it unless it
/// has BYPASSRLS; rows are visible and writable only under the tenant set in `app.tenant_id`.
pub(crate) fn tenant_policy_sql(table: &str) -> String {
    format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
         CREATE POLICY tenant_isolation ON {table}
             USING (tenant_id = cairn_current_tenant())
             WITH CHECK (tenant_id = cairn_current_tenant());"
    )
}

/// A user may list their own memberships (and the tenants they belong to) before choosing a tenant.
const MEMBERSHIP_AND_TENANT_POLICIES: &str = r#"
CREATE POLICY own_memberships ON memberships FOR SELECT
    USING (user_id = cairn_current_user());

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (id = cairn_current_tenant())
    WITH CHECK (id = cairn_current_tenant());
CREATE POLICY member_tenants ON tenants FOR SELECT
    USING (id IN (SELECT tenant_id FROM memberships WHERE user_id = cairn_current_user()));
"#;

const SCHEMA: &str = r#"
CREATE EXTENSION IF NOT EXISTS vector;

-- The tenant and user of the current transaction, set with set_config(..., true) by the application.
-- An unset or reset setting reads as '' and means "nobody": every policy then matches no row.
CREATE FUNCTION cairn_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;
CREATE FUNCTION cairn_current_user() RETURNS uuid
    LANGUAGE sql STABLE
    AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email          text NOT NULL,
    password_hash  text NOT NULL,
    display_name   text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user_id_idx ON memberships (user_id);

CREATE TABLE sessions (
    id                uuid PRIMARY KEY,
    token_hash        text NOT NULL UNIQUE,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    active_tenant_id  uuid REFERENCES tenants (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    revoked_at        timestamptz,
    user_agent        text,
    client_address    text
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE projects (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    description    text NOT NULL DEFAULT '',
    github_owner   text,
    github_repo    text,
    github_branch  text,
    github_path    text NOT NULL DEFAULT '',
    created_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, tenant_id)
);
CREATE UNIQUE INDEX projects_tenant_name_key ON projects (tenant_id, lower(name));

CREATE TABLE project_notes (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id  uuid NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL DEFAULT '',
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, tenant_id),
    FOREIGN KEY (project_id, tenant_id) REFERENCES projects (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX project_notes_project_created_idx ON project_notes (project_id, created_at DESC);

CREATE TABLE project_syncs (
    id                uuid PRIMARY KEY,
    tenant_id         uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id        uuid NOT NULL,
    branch            text NOT NULL,
    head_sha          text,
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    phase             text CHECK (phase IN ('prepare', 'scan', 'import', 'finalize')),
    files_scanned     integer NOT NULL DEFAULT 0,
    files_added       integer NOT NULL DEFAULT 0,
    files_changed     integer NOT NULL DEFAULT 0,
    files_removed     integer NOT NULL DEFAULT 0,
    files_unchanged   integer NOT NULL DEFAULT 0,
    files_skipped     integer NOT NULL DEFAULT 0,
    github_requests   integer NOT NULL DEFAULT 0,
    error             text,
    previous_sync_id  uuid UNIQUE REFERENCES project_syncs (id) ON DELETE SET NULL,
    requested_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    heartbeat_at      timestamptz,
    finished_at       timestamptz,
    UNIQUE (id, tenant_id),
    FOREIGN KEY (project_id, tenant_id) REFERENCES projects (id, tenant_id) ON DELETE CASCADE
);
-- The database, not a check-then-insert, guarantees at most one queued or running sync per project.
CREATE UNIQUE INDEX project_syncs_one_active_per_project
    ON project_syncs (project_id) WHERE status IN ('queued', 'running');
CREATE INDEX project_syncs_project_created_idx ON project_syncs (project_id, created_at DESC);

CREATE TABLE memory_entries (
    id                     uuid PRIMARY KEY,
    tenant_id              uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id             uuid NOT NULL,
    kind                   text NOT NULL CHECK (kind IN ('file', 'manual', 'insight', 'pattern')),
    title                  text NOT NULL,
    content                text NOT NULL DEFAULT '',
    source_path            text,
    blob_sha               text,
    status                 text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'superseded')),
    sync_id                uuid,
    superseded_by_sync_id  uuid,
    embedding              vector(1536),
    embedding_model        text,
    search_vector          tsvector GENERATED ALWAYS AS (
                               setweight(to_tsvector('english', title), 'A') ||
                               setweight(to_tsvector('english', content), 'B')) STORED,
    created_by             uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, tenant_id),
    FOREIGN KEY (project_id, tenant_id) REFERENCES projects (id, tenant_id) ON DELETE CASCADE,
    FOREIGN KEY (sync_id, tenant_id) REFERENCES project_syncs (id, tenant_id)
        ON DELETE SET NULL (sync_id),
    FOREIGN KEY (superseded_by_sync_id, tenant_id) REFERENCES project_syncs (id, tenant_id)
        ON DELETE SET NULL (superseded_by_sync_id)
);
CREATE INDEX memory_entries_project_status_kind_idx ON memory_entries (project_id, status, kind);
CREATE INDEX memory_entries_active_path_idx ON memory_entries (project_id, source_path)
    WHERE status = 'active';
CREATE INDEX memory_entries_search_idx ON memory_entries USING gin (search_vector);
CREATE INDEX memory_entries_embedding_hnsw_idx ON memory_entries
    USING hnsw (embedding vector_cosine_ops);

CREATE TABLE note_images (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    note_id          uuid,
    memory_entry_id  uuid,
    image_key        text NOT NULL,
    content_type     text NOT NULL
                     CHECK (content_type IN ('image/png', 'image/jpeg', 'image/gif', 'image/webp')),
    byte_size        bigint NOT NULL CHECK (byte_size > 0),
    width            integer NOT NULL CHECK (width > 0),
    height           integer NOT NULL CHECK (height > 0),
    description      text NOT NULL DEFAULT '',
    sort_order       integer NOT NULL DEFAULT 0,
    created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- An image belongs to a note, a memory entry, or both; never to nothing.
    CHECK (num_nonnulls(note_id, memory_entry_id) >= 1),
    UNIQUE (note_id, image_key),
    UNIQUE (memory_entry_id, image_key),
    FOREIGN KEY (note_id, tenant_id) REFERENCES project_notes (id, tenant_id) ON DELETE CASCADE,
    FOREIGN KEY (memory_entry_id, tenant_id) REFERENCES memory_entries (id, tenant_id)
        ON DELETE CASCADE
);
CREATE INDEX note_images_note_order_idx ON note_images (note_id, sort_order);
CREATE INDEX note_images_memory_entry_order_idx ON note_images (memory_entry_id, sort_order);

CREATE TABLE code_analysis_runs (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id      uuid NOT NULL,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    files_analyzed  integer NOT NULL DEFAULT 0,
    patterns_found  integer NOT NULL DEFAULT 0,
    error           text,
    requested_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    heartbeat_at    timestamptz,
    finished_at     timestamptz,
    UNIQUE (id, tenant_id),
    FOREIGN KEY (project_id, tenant_id) REFERENCES projects (id, tenant_id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX code_analysis_runs_one_active_per_project
    ON code_analysis_runs (project_id) WHERE status IN ('queued', 'running');

CREATE TABLE workflow_insights (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id       uuid NOT NULL,
    workflow_id      uuid,
    title            text NOT NULL DEFAULT '',
    content          text NOT NULL,
    embedding        vector(1536),
    embedding_model  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, tenant_id),
    FOREIGN KEY (project_id, tenant_id) REFERENCES projects (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX workflow_insights_project_idx ON workflow_insights (project_id, created_at DESC);
CREATE INDEX workflow_insights_embedding_hnsw_idx ON workflow_insights
    USING hnsw (embedding vector_cosine_ops);

CREATE TABLE audit_log (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    actor_user_id  uuid REFERENCES users (id) ON DELETE SET NULL,
    action         text NOT NULL,
    target_table   text NOT NULL,
    target_id      uuid,
    detail         jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id     text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_created_idx ON audit_log (tenant_id, created_at DESC);
"#;
