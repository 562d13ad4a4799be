//! A team's file contents, stored once per git blob SHA. An imported file's entry points at its
//! blob (its own `content` is empty), so a tree listing one blob under many paths, or a re-sync
//! that copies or moves files, stores one copy. A blob row no entry points at is invisible: a sync
//! stores its blobs as it fetches them, in small batches, and they only show once `finalize` makes
//! entries point at them. A retried sync finds the blobs its failed attempt stored and does not
//! fetch them again.

use crate::{DomainError, TenantTxn, sql};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use std::collections::HashMap;

/// SQL for an entry's text in a query over `memory_entries`: its blob's when it has one.
pub(crate) const ENTRY_CONTENT_SQL: &str = "COALESCE((SELECT b.content FROM memory_blobs b
      WHERE memory_entries.content = '' AND b.tenant_id = memory_entries.tenant_id
        AND b.sha = memory_entries.blob_sha), memory_entries.content)";

/// SQL for whether an entry's blob matches the web-search query `$param`.
pub(crate) fn blob_matches_sql(param: u8) -> String {
    format!(
        "(memory_entries.content = '' AND EXISTS (SELECT 1 FROM memory_blobs b
            WHERE b.tenant_id = memory_entries.tenant_id AND b.sha = memory_entries.blob_sha
              AND b.search_vector @@ websearch_to_tsquery('english', ${param})))"
    )
}

/// SQL for an entry's full-text vector, its blob's text included.
pub(crate) const ENTRY_SEARCH_VECTOR_SQL: &str = "(memory_entries.search_vector ||
     COALESCE((SELECT b.search_vector FROM memory_blobs b
                WHERE memory_entries.content = '' AND b.tenant_id = memory_entries.tenant_id
                  AND b.sha = memory_entries.blob_sha), ''::tsvector))";

/// Which of `shas` the team has stored already, with their sizes in bytes. Each found is marked
/// used now, so the sweep leaves it for the sync that counts on it.
pub async fn stored(tx: &TenantTxn, shas: &[String]) -> Result<HashMap<String, i64>, DomainError> {
    #[derive(FromQueryResult)]
    struct Found {
        sha: String,
        byte_size: i64,
    }
    let mut found = HashMap::new();
    for batch in shas.chunks(5_000) {
        let rows = Found::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE memory_blobs SET used_at = now()
              WHERE tenant_id = $1 AND sha = ANY($2)
             RETURNING sha, byte_size",
            [
                tx.ctx().tenant_id().into_uuid().into(),
                sql::texts(batch.to_vec()),
            ],
        ))
        .all(tx.txn())
        .await?;
        found.extend(rows.into_iter().map(|row| (row.sha, row.byte_size)));
    }
    Ok(found)
}

/// Stores `blobs` (SHA, text); one already stored is left as it is.
pub async fn store(tx: &TenantTxn, blobs: &[(String, String)]) -> Result<(), DomainError> {
    if blobs.is_empty() {
        return Ok(());
    }
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO memory_blobs (tenant_id, sha, content, byte_size)
             SELECT $1, b.sha, b.content, octet_length(b.content)
               FROM unnest($2::text[], $3::text[]) AS b(sha, content)
             ON CONFLICT (tenant_id, sha) DO UPDATE SET used_at = now()",
            [
                tx.ctx().tenant_id().into_uuid().into(),
                sql::texts(blobs.iter().map(|(sha, _)| sha.clone()).collect()),
                sql::texts(blobs.iter().map(|(_, text)| text.clone()).collect()),
            ],
        ))
        .await?;
    Ok(())
}

/// The text of the team's blob `sha`, if stored.
pub(crate) async fn text_of(tx: &TenantTxn, sha: &str) -> Result<Option<String>, DomainError> {
    #[derive(FromQueryResult)]
    struct Text {
        content: String,
    }
    let row = Text::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT content FROM memory_blobs WHERE tenant_id = $1 AND sha = $2",
        [tx.ctx().tenant_id().into_uuid().into(), sha.into()],
    ))
    .one(tx.txn())
    .await?;
    Ok(row.map(|row| row.content))
}

/// How long a blob no entry points at is kept after it was last used: longer than any sync runs
/// (a failed or postponed sync's blobs wait for its next attempt).
pub const UNUSED_BLOB_GRACE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes, across teams, the blobs no entry points at that have been unused for `grace` (a
/// deleted project's, a sync's that never finished); how many.
pub async fn sweep(db: &crate::Db, grace: std::time::Duration) -> Result<u64, DomainError> {
    #[derive(FromQueryResult)]
    struct Swept {
        removed: i64,
    }
    let swept = Swept::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT cairn_sweep_memory_blobs(make_interval(secs => $1)) AS removed",
        [grace.as_secs_f64().into()],
    ))
    .one(db.connection())
    .await?;
    Ok(swept.map_or(0, |s| u64::try_from(s.removed).unwrap_or(0)))
}
