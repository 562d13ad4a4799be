//! Durable job steps: what each finished step of a team's job produced (its output, its cost), so
//! a job retried or resumed after a crash skips the steps it finished and reuses their outputs. A
//! step that was paid for (an AI call) is never paid for again. Tenant rows: a step's output is
//! the team's data.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE TABLE job_steps (
                 job_id       uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
                 step_key     text NOT NULL CHECK (step_key <> '' AND length(step_key) <= 200),
                 tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
                 output       jsonb NOT NULL,
                 cost_usd     numeric(14, 6) CHECK (cost_usd >= 0),
                 attempt      integer NOT NULL CHECK (attempt >= 1),
                 finished_at  timestamptz NOT NULL DEFAULT now(),
                 PRIMARY KEY (job_id, step_key)
             );",
        )
        .await?;
        db.execute_unprepared(&crate::m20261122_000001_initial_schema::tenant_policy_sql(
            "job_steps",
        ))
        .await?;
        Ok(())
    }
}
