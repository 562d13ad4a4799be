//! An answer keeps the knowledge that was sent with its question (each source's number, title,
//! lines, link and exact text), so a reader sees what the model saw; so does a workflow run, for
//! its prompts' `{{context}}`. Existing answers and runs had none.
//! And the team of an embedding space, for the operator's `cairn embeddings drop-space`.

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
ALTER TABLE note_answers ADD COLUMN sources jsonb NOT NULL DEFAULT '[]';
-- A workflow run keeps the knowledge its prompts' {{context}} gave (retrieved once per run).
ALTER TABLE workflow_runs ADD COLUMN sources jsonb NOT NULL DEFAULT '[]';

-- The team of an embedding space, for the command line, which starts with no team; like
-- cairn_project_tenant, it answers only a team id.
CREATE FUNCTION cairn_space_tenant(space uuid) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$ SELECT tenant_id FROM embedding_spaces WHERE id = space $$;
REVOKE ALL ON FUNCTION cairn_space_tenant(uuid) FROM PUBLIC;
"#;
