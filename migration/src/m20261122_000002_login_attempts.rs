//! Login attempts, for rate limiting sign-ins per account and per client address. Shared by every
//! Cairn instance through the database, so limits hold behind a load balancer.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
CREATE TABLE login_attempts (
    id              bigserial PRIMARY KEY,
    email           text NOT NULL,
    client_address  text NOT NULL,
    succeeded       boolean NOT NULL,
    attempted_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_email_idx ON login_attempts (email, attempted_at DESC);
CREATE INDEX login_attempts_address_idx ON login_attempts (client_address, attempted_at DESC);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
"#,
            )
            .await?;
        Ok(())
    }
}
