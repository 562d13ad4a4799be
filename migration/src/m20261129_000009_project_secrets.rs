//! A project's secrets (its GitHub token, its webhook secret), sealed by the application with a key
//! the database never sees; and what the webhook receiver, which has no session, may look up:
//! the projects linked to a repository, with their sealed webhook secrets. A sync asked for by a
//! push while a sync runs is remembered, so the push is not lost.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(SQL).await?;
        db.execute_unprepared(&crate::m20261122_000001_initial_schema::tenant_policy_sql(
            "project_secrets",
        ))
        .await?;
        Ok(())
    }
}

const SQL: &str = r#"
CREATE TABLE project_secrets (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id  uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('github_token', 'webhook_secret')),
    key_id      text NOT NULL,
    sealed      bytea NOT NULL,
    updated_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, kind),
    FOREIGN KEY (project_id, tenant_id) REFERENCES projects (id, tenant_id) ON DELETE CASCADE
);

ALTER TABLE project_syncs ADD COLUMN resync_requested boolean NOT NULL DEFAULT false;

-- The projects linked to a repository that have a webhook secret, across tenants: a push names
-- only its repository, and its signature (checked with each secret) says which project it is for.
CREATE FUNCTION cairn_webhook_targets(repo_owner text, repo_name text)
RETURNS TABLE (tenant_id uuid, project_id uuid, branch text, key_id text, sealed bytea)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
    SELECT p.tenant_id, p.id, p.github_branch, s.key_id, s.sealed
      FROM projects p
      JOIN project_secrets s ON s.project_id = p.id AND s.kind = 'webhook_secret'
     WHERE lower(p.github_owner) = lower(repo_owner) AND lower(p.github_repo) = lower(repo_name)
$$;
REVOKE ALL ON FUNCTION cairn_webhook_targets(text, text) FROM PUBLIC;

-- The team a project belongs to: for `cairn sync PROJECT_ID`, run by the instance's operator, who
-- names a project without being a member of its team.
CREATE FUNCTION cairn_project_tenant(project uuid) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$ SELECT tenant_id FROM projects WHERE id = project $$;
REVOKE ALL ON FUNCTION cairn_project_tenant(uuid) FROM PUBLIC;
"#;
