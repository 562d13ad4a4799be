//! An answer keeps the knowledge that was sent with its question (each source's number, title,
//! lines, link and exact text), so a reader sees what the model saw. Existing answers had none.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE note_answers ADD COLUMN sources jsonb NOT NULL DEFAULT '[]'",
            )
            .await?;
        Ok(())
    }
}
