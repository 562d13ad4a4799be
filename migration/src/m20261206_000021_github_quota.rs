//! What is left of GitHub's hourly allowance for requests without a token, as this instance last
//! heard it (GitHub counts those per client address: every instance behind one address shares
//! it). Syncs without a token take their requests from it and wait in the queue when it is used
//! up, rather than fail at random. Not a team's row: the allowance is the instance's.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE github_quota (
                     bucket      text PRIMARY KEY,
                     remaining   integer NOT NULL CHECK (remaining >= 0),
                     reset_at    timestamptz NOT NULL,
                     updated_at  timestamptz NOT NULL DEFAULT now()
                 );",
            )
            .await?;
        Ok(())
    }
}
