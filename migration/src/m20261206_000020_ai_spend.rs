//! AI spend as a ledger of its own. Spend used to be summed from `ai_attempts`, which go with
//! their answer, and an answer with its note: deleting a note gave its month's spend back. The
//! ledger is not tied to answers, notes or providers, so nothing deleted changes a month.
//!
//! A question reserves its worst case (`reserved`) before it is sent, under the team's lock, so
//! questions asked at once cannot each see the whole budget; when it ends, its reservation is
//! `released` and what each provider charged is a `charged` row. A team's month is its charges
//! plus its live reservations.
//!
//! Existing spend is copied from `ai_attempts` (one charge per answer and provider); nothing is
//! removed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(SQL).await?;
        db.execute_unprepared(&crate::m20261122_000001_initial_schema::tenant_policy_sql(
            "ai_spend",
        ))
        .await?;
        db.execute_unprepared(COPY_SPEND).await?;
        Ok(())
    }
}

const SQL: &str = r#"
CREATE TABLE ai_spend (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The answer it was for; no foreign key: the spend outlives the answer and its note.
    answer_id   uuid,
    -- Who charged it (a `charged` row); NULL for a reservation of the team's month.
    provider    text,
    status      text NOT NULL CHECK (status IN ('reserved', 'released', 'charged')),
    amount_usd  numeric(14, 8) NOT NULL CHECK (amount_usd >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    settled_at  timestamptz,
    CHECK ((status = 'charged') = (provider IS NOT NULL))
);
CREATE INDEX ai_spend_month_idx ON ai_spend (tenant_id, created_at);
CREATE INDEX ai_spend_answer_idx ON ai_spend (answer_id) WHERE status = 'reserved';
"#;

const COPY_SPEND: &str = r#"
INSERT INTO ai_spend (id, tenant_id, answer_id, provider, status, amount_usd, created_at, settled_at)
SELECT gen_random_uuid(), tenant_id, answer_id, provider, 'charged', sum(cost_usd),
       min(created_at), min(created_at)
  FROM ai_attempts
 WHERE cost_usd > 0
 GROUP BY tenant_id, answer_id, provider;
"#;
