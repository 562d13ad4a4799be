//! Two functions of the team's knowledge that row-level security cannot serve well:
//!
//! - `cairn_teams_with_embedding_spaces()`: the teams whose knowledge has an embedding space in
//!   use (building or active), for the operator's `cairn embeddings backfill` without `--team`,
//!   which starts with no team; like `cairn_space_tenant`, it answers only team ids.
//! - `cairn_knowledge_by_words(...)`: the chunks of the caller's team (`cairn_current_tenant()`,
//!   the setting the policies read) that match a full-text query, ranked. Under row-level
//!   security the planner may not use the chunks' GIN index, because the match operator is not
//!   leakproof: it read every chunk of the team instead (430 ms over 100,000 chunks, against
//!   6 ms with the index). The function reads as the schema owner and filters by the same
//!   tenant the policies would.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared(SQL).await?;
        Ok(())
    }
}

const SQL: &str = r#"
CREATE FUNCTION cairn_teams_with_embedding_spaces() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$ SELECT DISTINCT tenant_id FROM embedding_spaces WHERE status <> 'retired' ORDER BY 1 $$;
REVOKE ALL ON FUNCTION cairn_teams_with_embedding_spaces() FROM PUBLIC;

-- $1 every word, $2 any word, $3 how many, $4 project, $5 kinds, $6 language, $7 path prefix,
-- $8 a source left out. Chunks holding every word rank first; only when they are fewer than
-- wanted, chunks holding some of the words follow (ranking every chunk that holds a common word
-- costs, so it is done only when needed).
CREATE FUNCTION cairn_knowledge_by_words(
    tsquery, tsquery, integer, uuid, text[], text, text, uuid
) RETURNS TABLE (chunk_id uuid, rank bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
WITH every_word AS MATERIALIZED (
    SELECT c.id, ts_rank_cd(c.search_vector, $1) AS score
      FROM knowledge_chunks c
     WHERE c.tenant_id = cairn_current_tenant() AND c.search_vector @@ $1
       AND ($4 IS NULL OR c.project_id = $4)
       AND (cardinality($5) = 0 OR c.source_kind = ANY($5))
       AND ($6 IS NULL OR c.language = $6)
       AND ($7 IS NULL OR starts_with(c.path, $7))
       AND ($8 IS NULL OR c.source_id <> $8)
     ORDER BY score DESC, c.id
     LIMIT $3),
some_words AS (
    SELECT c.id, ts_rank_cd(c.search_vector, $2) AS score
      FROM knowledge_chunks c
     WHERE (SELECT count(*) FROM every_word) < $3
       AND c.tenant_id = cairn_current_tenant() AND c.search_vector @@ $2
       AND NOT c.search_vector @@ $1
       AND ($4 IS NULL OR c.project_id = $4)
       AND (cardinality($5) = 0 OR c.source_kind = ANY($5))
       AND ($6 IS NULL OR c.language = $6)
       AND ($7 IS NULL OR starts_with(c.path, $7))
       AND ($8 IS NULL OR c.source_id <> $8)
     ORDER BY score DESC, c.id
     LIMIT $3)
SELECT id, row_number() OVER (ORDER BY every DESC, score DESC, id)
  FROM (SELECT id, score, true AS every FROM every_word
        UNION ALL SELECT id, score, false FROM some_words) found
 ORDER BY 2
 LIMIT $3
$$;
REVOKE ALL ON FUNCTION cairn_knowledge_by_words(tsquery, tsquery, integer, uuid, text[], text, text, uuid) FROM PUBLIC;
"#;
