//! File contents stored once per blob. Git names identical contents by one blob SHA, so a tree can
//! list one blob under thousands of paths: an imported file's entry now points at its team's copy
//! of the blob (`memory_blobs`, keyed by team and SHA) instead of holding the text itself, and a
//! re-sync that copies or moves files stores nothing new. Full-text search covers the blob's text.
//!
//! Existing file entries keep their text until its blob row holds exactly the same text: the move
//! copies first (per SHA, the text most of its entries hold), then empties only the entries whose
//! blob matches them byte for byte, so nothing is lost even for entries that disagree about a SHA.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(SQL).await?;
        db.execute_unprepared(&crate::m20261122_000001_initial_schema::tenant_policy_sql(
            "memory_blobs",
        ))
        .await?;
        db.execute_unprepared(MOVE_CONTENTS).await?;
        db.execute_unprepared(SWEEP).await?;
        Ok(())
    }
}

const SQL: &str = r#"
CREATE TABLE memory_blobs (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    sha            text NOT NULL CHECK (length(sha) BETWEEN 1 AND 128),
    content        text NOT NULL,
    byte_size      bigint NOT NULL CHECK (byte_size >= 0),
    search_vector  tsvector GENERATED ALWAYS AS (
                       setweight(to_tsvector('english', content), 'B')) STORED,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- Last stored or found by a sync: a blob no entry points at is removed only once it has been
    -- unused for a day, so a sync that found it still finds it when it finalizes.
    used_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, sha)
);
CREATE INDEX memory_blobs_used_idx ON memory_blobs (used_at);
CREATE INDEX memory_blobs_search_idx ON memory_blobs USING gin (search_vector);
CREATE INDEX memory_entries_blob_idx ON memory_entries (tenant_id, blob_sha)
    WHERE blob_sha IS NOT NULL;
"#;

const MOVE_CONTENTS: &str = r#"
-- Per team and SHA, the text most of its entries hold (the newest among equals).
INSERT INTO memory_blobs (tenant_id, sha, content, byte_size)
SELECT DISTINCT ON (tenant_id, blob_sha) tenant_id, blob_sha, content, octet_length(content)
  FROM (SELECT tenant_id, blob_sha, content, created_at,
               count(*) OVER (PARTITION BY tenant_id, blob_sha, content) AS holders
          FROM memory_entries
         WHERE kind = 'file' AND blob_sha IS NOT NULL AND content <> ''
           AND length(blob_sha) BETWEEN 1 AND 128) AS texts
 ORDER BY tenant_id, blob_sha, holders DESC, created_at DESC
ON CONFLICT DO NOTHING;

UPDATE memory_entries e
   SET content = ''
  FROM memory_blobs b
 WHERE e.kind = 'file' AND e.content <> ''
   AND b.tenant_id = e.tenant_id AND b.sha = e.blob_sha AND b.content = e.content;
"#;

/// Blobs no entry points at (a deleted project's, a failed sync's) are removed across teams once
/// unused for `grace`; row-level security would hide other teams' rows from the application role.
const SWEEP: &str = r#"
CREATE FUNCTION cairn_sweep_memory_blobs(grace interval)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public
    AS $$
DECLARE
    removed bigint;
BEGIN
    DELETE FROM memory_blobs b
     WHERE b.used_at < now() - grace
       AND NOT EXISTS (SELECT 1 FROM memory_entries e
                        WHERE e.tenant_id = b.tenant_id AND e.blob_sha = b.sha);
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END $$;
"#;
