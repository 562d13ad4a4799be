//! GitHub's hourly allowance for requests without a token (60 an hour per client address), shared
//! by every sync of every team that has no token. A sync takes its first requests from what is
//! left before it starts; when too little is left it waits in the queue until the allowance comes
//! back, saying so, instead of failing part-way. What GitHub says in its rate-limit headers is
//! written back after each sync, so the count follows GitHub's own.

use crate::{DomainError, TenantTxn};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

const BUCKET: &str = "unauthenticated";

/// Requests a sync needs at the least: the branch, its tree, the archive and its redirect.
pub const SYNC_REQUESTS: i32 = 4;

/// Takes `requests` from the allowance. `Err(reset)` when too little is left until `reset`; an
/// allowance never heard of, or whose window has passed, is taken as whole.
pub async fn take(tx: &TenantTxn, requests: i32) -> Result<Result<(), DateTime<Utc>>, DomainError> {
    #[derive(FromQueryResult)]
    struct Allowance {
        remaining: i32,
        reset_at: DateTime<chrono::FixedOffset>,
        passed: bool,
    }
    let allowance = Allowance::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT remaining, reset_at, reset_at <= now() AS passed
           FROM github_quota WHERE bucket = $1 FOR UPDATE",
        [BUCKET.into()],
    ))
    .one(tx.txn())
    .await?;
    let Some(allowance) = allowance.filter(|a| !a.passed) else {
        return Ok(Ok(()));
    };
    if allowance.remaining < requests {
        return Ok(Err(allowance.reset_at.with_timezone(&Utc)));
    }
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE github_quota SET remaining = remaining - $2, updated_at = now()
              WHERE bucket = $1",
            [BUCKET.into(), requests.into()],
        ))
        .await?;
    Ok(Ok(()))
}

/// Records what GitHub said is left (`remaining` until `reset`): a later window replaces an
/// earlier one; within one window the lower count wins (other syncs spent meanwhile).
pub async fn heard(
    tx: &TenantTxn,
    remaining: u64,
    reset: DateTime<Utc>,
) -> Result<(), DomainError> {
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO github_quota (bucket, remaining, reset_at) VALUES ($1, $2, $3)
             ON CONFLICT (bucket) DO UPDATE
                SET remaining = CASE WHEN EXCLUDED.reset_at > github_quota.reset_at
                                     THEN EXCLUDED.remaining
                                     ELSE least(github_quota.remaining, EXCLUDED.remaining) END,
                    reset_at = greatest(github_quota.reset_at, EXCLUDED.reset_at),
                    updated_at = now()",
            [
                BUCKET.into(),
                i32::try_from(remaining).unwrap_or(i32::MAX).into(),
                reset.fixed_offset().into(),
            ],
        ))
        .await?;
    Ok(())
}
