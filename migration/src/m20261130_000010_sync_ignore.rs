//! What a project's syncs leave out beyond the built-in defaults, one pattern per line.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE projects ADD COLUMN sync_ignore text NOT NULL DEFAULT ''",
            )
            .await?;
        Ok(())
    }
}
