//! A sync keeps the files it left out by name, with why ("a lock file", "binary (.png)"), so its
//! page can list them; it kept only their counts by reason. Syncs made before have an empty list.

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
"#;
