//! When each job was last claimed: the job runtime hands out turns fairly across teams (the team
//! whose last job started longest ago goes first), looking at the last minute of claims.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE jobs ADD COLUMN claimed_at timestamptz;
                 CREATE INDEX jobs_claimed_idx ON jobs (claimed_at) WHERE claimed_at IS NOT NULL;",
            )
            .await?;
        Ok(())
    }
}
