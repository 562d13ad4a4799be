//! What a sync keeps for its page and its files' links:
//! - the files it left out by name, with why ("a lock file", "binary (.png)"); it kept only their
//!   counts by reason. Syncs made before have an empty list.
//! - the repository it read ("owner/name"), so that a file's "Open on GitHub" still points there
//!   after the project is linked to another repository. Syncs made before have none: their files
//!   link to the project's repository, as before.

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
-- [{"path": "Cargo.lock", "why": "a lock file"}, …], at most 1,000 (the counts have them all).
ALTER TABLE project_syncs ADD COLUMN skipped_paths jsonb NOT NULL DEFAULT '[]';
ALTER TABLE project_syncs ADD COLUMN repository text;
"#;
