//! Verified webhook deliveries of the last day, by the hash of their signed body: a delivery
//! replayed (the same signed bytes again, whatever its headers say) does nothing. Not a team's
//! rows: one delivery may concern several teams' projects.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE TABLE webhook_deliveries (
                     body_sha256  text PRIMARY KEY,
                     delivery_id  text,
                     received_at  timestamptz NOT NULL DEFAULT now()
                 );
                 CREATE INDEX webhook_deliveries_received_idx ON webhook_deliveries (received_at);",
            )
            .await?;
        Ok(())
    }
}
