//! A team's knowledge as search ranks it: its sources (active file, manual and report entries,
//! notes with their captions, workflow insights) cut into chunks (see [`chunk`]), each chunk's
//! vector in the team's embedding spaces, and the hybrid search over both.
//!
//! Indexing is incremental and idempotent: a source is chunked again only when its text's hash
//! changed (a file's blob SHA, else an md5 the database computes), a chunk whose text is unchanged
//! keeps its row and so its vectors, a chunk is embedded only when no chunk with the same text has
//! a vector in the space yet, and a source that is gone loses its chunks and vectors with it. So
//! an indexing job that stops anywhere (a crash, a provider failing) is resumed by running it again.

pub mod chunk;
pub mod syntax;

use crate::sql;
use crate::{DomainError, TenantTxn};
use api::ids::{EmbeddingSpaceId, JobId, MemoryEntryId, ProjectId};
use api::knowledge::{
    CONTEXT_CHARS, CitedSource, EmbeddingSpace, IndexingState, MARK_END, MARK_START, MAX_SOURCES,
    Matched, SearchBy, SearchHit, SearchQuery, SourceKind, SpaceStatus,
};
use api::tenants::Permission;
use jobs::JobKind;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

/// The `knowledge.index` job: chunks what changed, then embeds what has no vector in the team's
/// active and building spaces, and switches to a building space once it is complete.
pub struct KnowledgeIndexJob;

/// What an indexing job carries: nothing (it indexes whatever its team lacks).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KnowledgeIndexPayload {}

impl JobKind for KnowledgeIndexJob {
    const NAME: &'static str = "knowledge.index";
    // Its own queue: a backfill of thousands of chunks never delays a sync or a workflow.
    const QUEUE: &'static str = "embed";
    type Payload = KnowledgeIndexPayload;
    // Each round stores what it embedded: a retry starts where the failure left off.
    const MAX_ATTEMPTS: i32 = 5;
    const STALE_AFTER: Duration = Duration::from_secs(120);
    const REQUEUE_WHEN_STALE: bool = true;
    const TIMEOUT: Duration = Duration::from_secs(6 * 3600);
}

fn tenant(tx: &TenantTxn) -> Value {
    tx.ctx().tenant_id().into_uuid().into()
}

/// Queues the team's indexing unless a job is already waiting to start (which will see whatever
/// this transaction changed). Called where knowledge changes: a sync's finalize, a note or a
/// manual entry saved, a workflow's report or insights stored.
pub async fn queue_indexing(tx: &TenantTxn) -> Result<Option<JobId>, DomainError> {
    let waiting = tx
        .txn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS one FROM jobs
              WHERE kind = $1 AND for_tenant = $2 AND status = 'queued' LIMIT 1",
            [KnowledgeIndexJob::NAME.into(), tenant(tx)],
        ))
        .await?;
    if waiting.is_some() {
        return Ok(None);
    }
    let job = crate::job_runs::enqueue_for::<KnowledgeIndexJob>(
        tx,
        &KnowledgeIndexPayload::default(),
        None,
        None,
    )
    .await?;
    Ok(Some(job))
}

/// What keeps the knowledge sent to a model.
pub(crate) enum SourcesOf {
    /// A note's answer.
    Answer,
    /// A workflow run (its prompts' `{{context}}`).
    Run,
}

/// Keeps `sources` with the answer or run `id`, so a reader sees what the model saw.
pub(crate) async fn keep_sources(
    tx: &TenantTxn,
    of: SourcesOf,
    id: Uuid,
    sources: &[CitedSource],
) -> Result<(), DomainError> {
    let table = match of {
        SourcesOf::Answer => "note_answers",
        SourcesOf::Run => "workflow_runs",
    };
    let sources = serde_json::to_value(sources)
        .map_err(|e| DomainError::Internal(format!("sources: {e}")))?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("UPDATE {table} SET sources = $3 WHERE id = $1 AND tenant_id = $2"),
            [id.into(), tenant(tx), sources.into()],
        ))
        .await?;
    Ok(())
}

/// Every team with an embedding space in use (building or active), for the operator, who names
/// no team.
pub async fn teams_with_spaces(db: &crate::Db) -> Result<Vec<api::ids::TenantId>, DomainError> {
    let rows = db
        .connection()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT team FROM cairn_teams_with_embedding_spaces() AS team",
        ))
        .await?;
    rows.iter()
        .map(|row| Ok(api::ids::TenantId::from_uuid(row.try_get("", "team")?)))
        .collect()
}

/// The team's indexing: its latest job's state.
pub async fn indexing_state(tx: &TenantTxn) -> Result<IndexingState, DomainError> {
    let row = tx
        .txn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT status, last_error,
                    to_char(run_after AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS retry_at,
                    run_after > now() AS later
               FROM jobs
              WHERE kind = $1 AND for_tenant = $2
              ORDER BY created_at DESC LIMIT 1",
            [KnowledgeIndexJob::NAME.into(), tenant(tx)],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(IndexingState::Idle);
    };
    let status: String = row.try_get("", "status")?;
    let error: Option<String> = row.try_get("", "last_error")?;
    let later: bool = row.try_get("", "later")?;
    let reason = || error.clone().unwrap_or_else(|| "no reason given".into());
    Ok(match status.as_str() {
        // A queued job with an error waits before its next attempt (after a failure, or
        // postponed by a rate limit).
        "queued" if error.is_some() && later => IndexingState::Waiting {
            reason: reason(),
            retry_at: row.try_get("", "retry_at")?,
        },
        "queued" | "running" => IndexingState::Working,
        "failed" => IndexingState::Failed { reason: reason() },
        _ => IndexingState::Idle,
    })
}

/// Each source's kind, id, project, text hash and text, as the database holds them now. `$1` is
/// the tenant.
const CURRENT_SOURCES_SQL: &str = "
    SELECT CASE e.kind WHEN 'workflow_report' THEN 'report' ELSE e.kind END AS kind,
           e.id, e.project_id,
           coalesce(e.blob_sha, md5(e.title || E'\\n' || e.content)) AS hash,
           coalesce(e.source_path, e.title) AS title, e.source_path AS path, e.language,
           CASE WHEN e.kind = 'file' THEN coalesce(b.content, e.content)
                ELSE e.title || E'\\n\\n' || e.content END AS text
      FROM memory_entries e
      LEFT JOIN memory_blobs b ON b.tenant_id = e.tenant_id AND b.sha = e.blob_sha
     WHERE e.tenant_id = $1 AND e.status = 'active'
       AND e.kind IN ('file', 'manual', 'workflow_report')
    UNION ALL
    SELECT 'note', n.id, n.project_id,
           md5(n.title || E'\\n' || n.body || E'\\n' || coalesce(c.captions, '')),
           n.title, NULL, NULL,
           n.title || E'\\n\\n' || n.body || coalesce(E'\\n\\n' || c.captions, '')
      FROM project_notes n
      LEFT JOIN LATERAL (SELECT string_agg(i.description, E'\\n' ORDER BY i.sort_order) AS captions
                           FROM note_images i
                          WHERE i.note_id = n.id AND i.description <> '') c ON true
     WHERE n.tenant_id = $1
    UNION ALL
    SELECT 'insight', w.id, w.project_id, md5(w.title || E'\\n' || w.content),
           w.title, NULL, NULL, w.title || E'\\n\\n' || w.content
      FROM workflow_insights w
     WHERE w.tenant_id = $1";

/// A source whose text changed since it was chunked (or that never was).
#[derive(Debug, Clone, FromQueryResult)]
pub struct ChangedSource {
    kind: String,
    id: Uuid,
    project_id: Uuid,
    hash: String,
    title: String,
    path: Option<String>,
    language: Option<String>,
    text: String,
}

/// Up to `limit` sources whose text changed since they were chunked.
pub async fn changed_sources(
    tx: &TenantTxn,
    limit: u64,
) -> Result<Vec<ChangedSource>, DomainError> {
    let rows = ChangedSource::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "SELECT c.kind, c.id, c.project_id, c.hash, c.title, c.path, c.language, c.text
               FROM ({CURRENT_SOURCES_SQL}) AS c
               LEFT JOIN knowledge_sources s ON s.source_kind = c.kind AND s.source_id = c.id
              WHERE s.source_hash IS DISTINCT FROM c.hash
              ORDER BY c.id
              LIMIT $2"
        ),
        [tenant(tx), i64::try_from(limit).unwrap_or(i64::MAX).into()],
    ))
    .all(tx.txn())
    .await?;
    Ok(rows)
}

/// Chunks `source` again: chunks whose text is unchanged keep their rows (and vectors), new texts
/// get new rows, texts no longer there are removed. Returns how many chunks are new.
pub async fn rechunk(tx: &TenantTxn, source: &ChangedSource) -> Result<u64, DomainError> {
    let pieces = chunk::pieces(
        &source.text,
        chunk::Kind {
            language: source.language.as_deref(),
            path: source.path.as_deref(),
        },
    );
    let txn = tx.txn();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO knowledge_sources (tenant_id, source_kind, source_id, project_id, source_hash)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (source_kind, source_id)
         DO UPDATE SET source_hash = EXCLUDED.source_hash, project_id = EXCLUDED.project_id,
                       chunked_at = now()",
        [
            tenant(tx),
            source.kind.clone().into(),
            source.id.into(),
            source.project_id.into(),
            source.hash.clone().into(),
        ],
    ))
    .await?;
    let existing: Vec<(Uuid, String)> = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, content_hash FROM knowledge_chunks
              WHERE source_kind = $1 AND source_id = $2 ORDER BY seq",
            [source.kind.clone().into(), source.id.into()],
        ))
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get("", "id")?, row.try_get("", "content_hash")?)))
        .collect::<Result<_, DomainError>>()?;
    let mut unclaimed = existing;
    let mut ids = Vec::with_capacity(pieces.len());
    let mut hashes = Vec::with_capacity(pieces.len());
    let mut fresh = 0;
    for piece in &pieces {
        let hash = content_hash(&piece.text);
        let kept = unclaimed
            .iter()
            .position(|(_, h)| *h == hash)
            .map(|at| unclaimed.swap_remove(at).0);
        if kept.is_none() {
            fresh += 1;
        }
        ids.push(kept.unwrap_or_else(Uuid::now_v7));
        hashes.push(hash);
    }
    let gone: Vec<Uuid> = unclaimed.into_iter().map(|(id, _)| id).collect();
    if !gone.is_empty() {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM knowledge_chunks WHERE id = ANY($1)",
            [sql::uuids(&gone)],
        ))
        .await?;
    }
    if pieces.is_empty() {
        return Ok(0);
    }
    let lined = source.kind == "file";
    let number = |n: u32| i64::from(n);
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO knowledge_chunks (id, tenant_id, project_id, source_kind, source_id, seq, title,
                                       path, language, line_start, line_end, content, content_hash)
         SELECT p.id, $1, $2, $3, $4, p.seq - 1, $5, $6, $7,
                CASE WHEN $8 THEN p.line_start END, CASE WHEN $8 THEN p.line_end END,
                p.content, p.hash
           FROM unnest($9::uuid[], $10::bigint[], $11::bigint[], $12::text[], $13::text[])
                WITH ORDINALITY AS p(id, line_start, line_end, content, hash, seq)
         ON CONFLICT (id) DO UPDATE
            SET seq = EXCLUDED.seq, title = EXCLUDED.title, path = EXCLUDED.path,
                language = EXCLUDED.language, line_start = EXCLUDED.line_start,
                line_end = EXCLUDED.line_end, project_id = EXCLUDED.project_id",
        [
            tenant(tx),
            source.project_id.into(),
            source.kind.clone().into(),
            source.id.into(),
            source.title.clone().into(),
            source.path.clone().into(),
            source.language.clone().into(),
            lined.into(),
            sql::uuids(&ids),
            sql::bigints(pieces.iter().map(|p| number(p.line_start)).collect()),
            sql::bigints(pieces.iter().map(|p| number(p.line_end)).collect()),
            sql::texts(pieces.iter().map(|p| p.text.clone()).collect()),
            sql::texts(hashes),
        ],
    ))
    .await?;
    Ok(fresh)
}

/// A chunk's text hash: what decides whether it needs embedding.
fn content_hash(text: &str) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// Removes the chunks (and vectors) of sources that are gone: superseded or removed entries,
/// deleted notes and insights. Returns how many sources.
pub async fn remove_gone_sources(tx: &TenantTxn) -> Result<u64, DomainError> {
    let done = tx
        .txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "DELETE FROM knowledge_sources s
                  WHERE s.tenant_id = $1
                    AND NOT EXISTS (SELECT 1 FROM ({CURRENT_SOURCES_SQL}) AS c
                                     WHERE c.kind = s.source_kind AND c.id = s.source_id)"
            ),
            [tenant(tx)],
        ))
        .await?;
    Ok(done.rows_affected())
}

/// A space as the indexing job and search use it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct SpaceRow {
    /// Its id.
    pub id: Uuid,
    /// The provider.
    pub provider: String,
    /// The model.
    pub model: String,
    dimensions: i32,
    status: String,
}

impl SpaceRow {
    /// Its vectors' size.
    pub fn dimensions(&self) -> usize {
        usize::try_from(self.dimensions).unwrap_or(0)
    }

    /// Its state.
    pub fn status(&self) -> SpaceStatus {
        SpaceStatus::parse(&self.status).unwrap_or(SpaceStatus::Retired)
    }

    /// Its id, typed.
    pub fn space_id(&self) -> EmbeddingSpaceId {
        EmbeddingSpaceId::from_uuid(self.id)
    }

    /// The SQL type its vectors are compared as (`halfvec` past `vector`'s index limit).
    fn sql_type(&self) -> String {
        if self.dimensions <= 2000 {
            format!("vector({})", self.dimensions)
        } else {
            format!("halfvec({})", self.dimensions)
        }
    }
}

const SPACE_COLUMNS: &str = "id, provider, model, dimensions, status";

/// The team's spaces that are active or building (the ones indexing fills).
pub async fn live_spaces(tx: &TenantTxn) -> Result<Vec<SpaceRow>, DomainError> {
    Ok(SpaceRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "SELECT {SPACE_COLUMNS} FROM embedding_spaces
              WHERE tenant_id = $1 AND status IN ('active', 'building') ORDER BY created_at"
        ),
        [tenant(tx)],
    ))
    .all(tx.txn())
    .await?)
}

/// The space search uses, if the team has one.
pub async fn active_space(tx: &TenantTxn) -> Result<Option<SpaceRow>, DomainError> {
    Ok(live_spaces(tx)
        .await?
        .into_iter()
        .find(|s| s.status() == SpaceStatus::Active))
}

/// The team's spaces with their fill, newest first.
pub async fn spaces(tx: &TenantTxn) -> Result<Vec<EmbeddingSpace>, DomainError> {
    #[derive(FromQueryResult)]
    struct Row {
        id: Uuid,
        provider: String,
        model: String,
        dimensions: i32,
        status: String,
        vectors: i64,
        chunks: i64,
        recent: i64,
        window_secs: f64,
        created_at: chrono::DateTime<chrono::FixedOffset>,
    }
    // The rate: vectors stored in the last 30 seconds (or since the space was made).
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT s.id, s.provider, s.model, s.dimensions, s.status, s.created_at,
                (SELECT count(*) FROM chunk_vectors v WHERE v.space_id = s.id) AS vectors,
                (SELECT count(*) FROM knowledge_chunks c WHERE c.tenant_id = s.tenant_id) AS chunks,
                (SELECT count(*) FROM chunk_vectors v
                  WHERE v.space_id = s.id AND v.created_at > now() - interval '30 seconds') AS recent,
                extract(epoch FROM least(interval '30 seconds', now() - s.created_at))::float8
                    AS window_secs
           FROM embedding_spaces s
          WHERE s.tenant_id = $1
          ORDER BY s.created_at DESC",
        [tenant(tx)],
    ))
    .all(tx.txn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| EmbeddingSpace {
            id: EmbeddingSpaceId::from_uuid(row.id),
            provider: row.provider,
            model: row.model,
            dimensions: sql::unsigned(row.dimensions),
            status: SpaceStatus::parse(&row.status).unwrap_or(SpaceStatus::Retired),
            vectors: u64::try_from(row.vectors).unwrap_or(0),
            chunks: u64::try_from(row.chunks).unwrap_or(0),
            per_second: row.recent as f64 / row.window_secs.max(1.0),
            created_at: row.created_at.to_rfc3339(),
        })
        .collect())
}

/// Makes a space for `model` of `provider` (`dimensions` measured by the caller), building beside
/// the active one, with its own index; queues the backfill. A space of the same model that is
/// active or building already is `Conflict`; one building another model is replaced (never one
/// that is active: search keeps using it until the new one is complete).
pub async fn create_space(
    tx: &TenantTxn,
    provider: &str,
    model: &str,
    dimensions: u32,
) -> Result<EmbeddingSpaceId, DomainError> {
    tx.ctx().require(Permission::ManageAi)?;
    if !(1..=4000).contains(&dimensions) {
        return Err(DomainError::Invalid {
            field: "model".into(),
            reason: format!("answers {dimensions}-dimensional vectors; Cairn indexes 1 to 4,000"),
        });
    }
    let live = live_spaces(tx).await?;
    if live
        .iter()
        .any(|s| s.provider == provider && s.model == model)
    {
        return Err(DomainError::Conflict(format!(
            "{provider}/{model} is already the team's embedding model (or being built)"
        )));
    }
    let txn = tx.txn();
    // A space still building for another model is abandoned: its vectors are not searched yet.
    retire(tx, SpaceStatus::Building).await?;
    let id = Uuid::now_v7();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO embedding_spaces (id, tenant_id, provider, model, dimensions, created_by)
         VALUES ($1, $2, $3, $4, $5, $6)",
        [
            id.into(),
            tenant(tx),
            provider.into(),
            model.into(),
            i32::try_from(dimensions).unwrap_or(i32::MAX).into(),
            tx.ctx().user_id().map(|u| u.into_uuid()).into(),
        ],
    ))
    .await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT cairn_index_embedding_space($1)",
        [id.into()],
    ))
    .await?;
    crate::audit::record(
        txn,
        tx.ctx(),
        crate::audit::AuditAction::EmbeddingSpaceCreate,
        id,
        serde_json::json!({"provider": provider, "model": model, "dimensions": dimensions}),
    )
    .await?;
    queue_indexing(tx).await?;
    Ok(EmbeddingSpaceId::from_uuid(id))
}

/// Removes a retired space with its vectors; returns how many vectors went. Only a retired space:
/// an active or building one is `Conflict`.
pub async fn drop_space(tx: &TenantTxn, id: EmbeddingSpaceId) -> Result<u64, DomainError> {
    tx.ctx().require(Permission::ManageAi)?;
    let space = space(tx, id).await?;
    if space.status() != SpaceStatus::Retired {
        return Err(DomainError::Conflict(
            "only a retired embedding space is removed; this one is in use".into(),
        ));
    }
    let row = tx
        .txn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT cairn_drop_embedding_space($1) AS removed",
            [id.into_uuid().into()],
        ))
        .await?
        .ok_or(DomainError::NotFound)?;
    let removed: i64 = row.try_get("", "removed")?;
    crate::audit::record(
        tx.txn(),
        tx.ctx(),
        crate::audit::AuditAction::EmbeddingSpaceDrop,
        id.into_uuid(),
        serde_json::json!({"model": space.model, "vectors": removed}),
    )
    .await?;
    Ok(u64::try_from(removed).unwrap_or(0))
}

/// One of the team's spaces; another team's is `NotFound`.
pub async fn space(tx: &TenantTxn, id: EmbeddingSpaceId) -> Result<SpaceRow, DomainError> {
    SpaceRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("SELECT {SPACE_COLUMNS} FROM embedding_spaces WHERE id = $1 AND tenant_id = $2"),
        [id.into_uuid().into(), tenant(tx)],
    ))
    .one(tx.txn())
    .await?
    .ok_or(DomainError::NotFound)
}

/// Gives chunks without a vector in `space` the vector another chunk with the same text has there
/// (identical texts are embedded once). Returns how many.
pub async fn copy_known_vectors(tx: &TenantTxn, space: &SpaceRow) -> Result<u64, DomainError> {
    let done = tx
        .txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO chunk_vectors (tenant_id, space_id, chunk_id, project_id, source_kind,
                                        content_hash, embedding)
             SELECT c.tenant_id, $2, c.id, c.project_id, c.source_kind, c.content_hash, k.embedding
               FROM knowledge_chunks c
               JOIN LATERAL (SELECT v.embedding FROM chunk_vectors v
                              WHERE v.space_id = $2 AND v.content_hash = c.content_hash
                              LIMIT 1) k ON true
              WHERE c.tenant_id = $1
                AND NOT EXISTS (SELECT 1 FROM chunk_vectors x
                                 WHERE x.space_id = $2 AND x.chunk_id = c.id)
             ON CONFLICT DO NOTHING",
            [tenant(tx), space.id.into()],
        ))
        .await?;
    Ok(done.rows_affected())
}

/// Up to `limit` distinct texts that have no vector in `space`, each with its hash.
pub async fn texts_to_embed(
    tx: &TenantTxn,
    space: &SpaceRow,
    limit: u64,
) -> Result<Vec<(String, String)>, DomainError> {
    let rows = tx
        .txn()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT DISTINCT ON (c.content_hash) c.content_hash, c.content
               FROM knowledge_chunks c
              WHERE c.tenant_id = $1
                AND NOT EXISTS (SELECT 1 FROM chunk_vectors v
                                 WHERE v.space_id = $2 AND v.chunk_id = c.id)
              ORDER BY c.content_hash
              LIMIT $3",
            [
                tenant(tx),
                space.id.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok((
                row.try_get("", "content_hash")?,
                row.try_get("", "content")?,
            ))
        })
        .collect()
}

/// How many chunks have no vector in `space`, of how many.
pub async fn fill(tx: &TenantTxn, space: &SpaceRow) -> Result<(u64, u64), DomainError> {
    let row = tx
        .txn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT (SELECT count(*) FROM knowledge_chunks WHERE tenant_id = $1) AS chunks,
                    (SELECT count(*) FROM chunk_vectors WHERE space_id = $2) AS vectors",
            [tenant(tx), space.id.into()],
        ))
        .await?
        .ok_or_else(|| DomainError::Internal("count returned nothing".into()))?;
    let chunks: i64 = row.try_get("", "chunks")?;
    let vectors: i64 = row.try_get("", "vectors")?;
    Ok((
        u64::try_from(vectors).unwrap_or(0),
        u64::try_from(chunks).unwrap_or(0),
    ))
}

/// A vector as pgvector reads it from text: `[0.1,0.2]`. Non-finite numbers are refused (a
/// provider answering them answered nothing usable).
fn vector_literal(vector: &[f32]) -> Result<String, DomainError> {
    if vector.iter().any(|x| !x.is_finite()) {
        return Err(DomainError::Invalid {
            field: "embedding".into(),
            reason: "the provider answered a vector with a number that is not finite".into(),
        });
    }
    let mut text = String::with_capacity(vector.len() * 10 + 2);
    text.push('[');
    for (n, x) in vector.iter().enumerate() {
        if n > 0 {
            text.push(',');
        }
        text.push_str(&x.to_string());
    }
    text.push(']');
    Ok(text)
}

/// Stores each text's vector for every chunk holding that text. Vectors of another size than the
/// space's are refused whole (a provider that changed its model under the same name).
pub async fn store_vectors(
    tx: &TenantTxn,
    space: &SpaceRow,
    vectors: &[(String, Vec<f32>)],
) -> Result<u64, DomainError> {
    if let Some((_, wrong)) = vectors.iter().find(|(_, v)| v.len() != space.dimensions()) {
        return Err(DomainError::Invalid {
            field: "embedding".into(),
            reason: format!(
                "{} answered {} dimensions; the space holds {}",
                space.model,
                wrong.len(),
                space.dimensions()
            ),
        });
    }
    let literals = vectors
        .iter()
        .map(|(_, v)| vector_literal(v))
        .collect::<Result<Vec<_>, _>>()?;
    let done = tx
        .txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO chunk_vectors (tenant_id, space_id, chunk_id, project_id, source_kind,
                                        content_hash, embedding)
             SELECT c.tenant_id, $2, c.id, c.project_id, c.source_kind, c.content_hash,
                    t.vector::vector
               FROM unnest($3::text[], $4::text[]) AS t(hash, vector)
               JOIN knowledge_chunks c ON c.tenant_id = $1 AND c.content_hash = t.hash
             ON CONFLICT DO NOTHING",
            [
                tenant(tx),
                space.id.into(),
                sql::texts(vectors.iter().map(|(h, _)| h.clone()).collect()),
                sql::texts(literals),
            ],
        ))
        .await?;
    Ok(done.rows_affected())
}

/// Retires the team's space that is `status` (there is one at most), if any.
async fn retire(tx: &TenantTxn, status: SpaceStatus) -> Result<(), DomainError> {
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE embedding_spaces SET status = 'retired', retired_at = now()
              WHERE tenant_id = $1 AND status = $2",
            [tenant(tx), status.as_str().into()],
        ))
        .await?;
    Ok(())
}

/// Makes a building space the active one when every chunk has its vector (the old active space
/// retires in the same transaction: search switches at once, never to a half-filled space).
/// Whether it switched.
pub async fn activate_if_complete(tx: &TenantTxn, space: &SpaceRow) -> Result<bool, DomainError> {
    if space.status() != SpaceStatus::Building {
        return Ok(false);
    }
    let (vectors, chunks) = fill(tx, space).await?;
    if vectors < chunks {
        return Ok(false);
    }
    retire(tx, SpaceStatus::Active).await?;
    let switched = tx
        .txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE embedding_spaces SET status = 'active', activated_at = now()
              WHERE id = $1 AND tenant_id = $2 AND status = 'building'",
            [space.id.into(), tenant(tx)],
        ))
        .await?;
    Ok(switched.rows_affected() == 1)
}

/// How many of each side's best a search fuses.
const CANDIDATES: u32 = 40;
/// Reciprocal Rank Fusion's constant: a hit's score is Σ 1 / (K + rank) over the sides it is on.
const RRF_K: u32 = 60;

/// How wide a search by meaning walks its index's graph (pgvector's `hnsw.ef_search`).
const EF_SEARCH: u32 = 100;

#[derive(FromQueryResult)]
struct HitRow {
    source_kind: String,
    source_id: Uuid,
    project_id: Uuid,
    project_name: String,
    title: String,
    line_start: Option<i32>,
    line_end: Option<i32>,
    snippet: String,
    content: String,
    word_rank: Option<i64>,
    meaning_rank: Option<i64>,
    score: f64,
    run_id: Option<Uuid>,
    note_id: Option<Uuid>,
}

/// The team's best chunks for `query`: its words (the stemmed full-text search), and when
/// `meaning` is given (the query's vector in the active space) the nearest vectors, fused by
/// Reciprocal Rank Fusion. Vector candidates come from the space's own index with iterative scans
/// on, so a project or kind filter never starves the result.
pub async fn search(
    tx: &TenantTxn,
    query: &SearchQuery,
    meaning: Option<(&SpaceRow, &[f32])>,
) -> Result<Vec<SearchHit>, DomainError> {
    let rows = ranked(tx, query, &Words::of(&query.text), None, meaning).await?;
    Ok(rows.into_iter().map(to_hit).collect())
}

/// A full-text query: chunks holding every word rank first, then chunks holding some of them
/// (a question's words are rarely all in the text that answers it).
struct Words {
    /// Every word (the user's words as `websearch_to_tsquery` reads them).
    all: String,
    /// Any of them.
    any: String,
}

impl Words {
    fn of(text: &str) -> Self {
        // Words with operators ("a phrase", -excluded, or) mean what the user wrote.
        let operators = text.contains('"')
            || text
                .split_whitespace()
                .any(|w| w.starts_with('-') || w.eq_ignore_ascii_case("or"));
        let any = if operators {
            text.to_owned()
        } else {
            text.split(|c: char| !c.is_alphanumeric() && c != '_')
                .filter(|word| !word.is_empty())
                .take(30)
                .collect::<Vec<_>>()
                .join(" or ")
        };
        Self {
            all: text.to_owned(),
            any,
        }
    }

    /// Alternatives only.
    fn any_of(words: &[&str]) -> Self {
        let any = words.join(" or ");
        Self {
            all: any.clone(),
            any,
        }
    }
}

/// The knowledge to send with a question about the note `note` (its own text excluded): the
/// best chunks of its project for any of the question's words and for its meaning, numbered, at
/// most [`MAX_SOURCES`] and [`CONTEXT_CHARS`] characters in all.
pub async fn retrieve(
    tx: &TenantTxn,
    project: ProjectId,
    note: Uuid,
    question: &str,
    meaning: Option<(&SpaceRow, &[f32])>,
) -> Result<Vec<CitedSource>, DomainError> {
    // A question's words are alternatives, not all required: "why did the refund take two
    // days" should find a text that speaks of refunds only.
    let words: Vec<&str> = question
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| word.chars().count() > 2)
        .take(30)
        .collect();
    let query = SearchQuery {
        text: question.to_owned(),
        project_id: Some(project),
        ..SearchQuery::default()
    };
    let rows = ranked(tx, &query, &Words::any_of(&words), Some(note), meaning).await?;
    let mut sources = Vec::new();
    let mut chars = 0;
    for row in rows {
        let length = row.content.chars().count();
        if chars + length > CONTEXT_CHARS {
            continue;
        }
        chars += length;
        let text = row.content.clone();
        let hit = to_hit(row);
        sources.push(CitedSource {
            n: u32::try_from(sources.len() + 1).unwrap_or(u32::MAX),
            kind: hit.kind,
            title: hit.title,
            lines: hit.lines,
            link: hit.link,
            text,
        });
        if sources.len() == MAX_SOURCES {
            break;
        }
    }
    Ok(sources)
}

/// The fused ranking of `words` and `meaning` (as `query.by` asks); `without` leaves one source
/// out.
async fn ranked(
    tx: &TenantTxn,
    query: &SearchQuery,
    words: &Words,
    without: Option<Uuid>,
    meaning: Option<(&SpaceRow, &[f32])>,
) -> Result<Vec<HitRow>, DomainError> {
    let txn = tx.txn();
    // A plan for these values: the connection caches the statement, and a generic plan cannot
    // drop the filters left empty (`$3 IS NULL OR …`). (The slow searches by words measured over
    // 100,000 chunks were row-level security keeping the full-text index unused, see migration
    // 25; this setting's own effect was not measured apart.)
    txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
        .await?;
    let kinds: Vec<String> = query.kinds.iter().map(|k| k.as_str().to_owned()).collect();
    // $1 tenant, $2 every word, $3 project, $4 kinds, $5 language, $6 path prefix, $7 vector,
    // $8 a source left out, $9 any word.
    let filters = "($3::uuid IS NULL OR c.project_id = $3)
               AND (cardinality($4::text[]) = 0 OR c.source_kind = ANY($4))
               AND ($5::text IS NULL OR c.language = $5)
               AND ($6::text IS NULL OR starts_with(c.path, $6))
               AND ($8::uuid IS NULL OR c.source_id <> $8)";
    let meaning = meaning.filter(|_| query.by != SearchBy::Words);
    let semantic = match meaning {
        Some((space, vector)) if vector.len() == space.dimensions() => {
            // Per-transaction: iterative index scans, so filtered candidates fill up; and a
            // wider search of the graph than pgvector's default 40, for recall (measured over
            // 100,000 vectors of 1,536 dimensions: recall@10 0.71 at 40; see docs/benchmarks.md).
            txn.execute_unprepared(&format!(
                "SET LOCAL hnsw.iterative_scan = relaxed_order; SET LOCAL hnsw.ef_search = {EF_SEARCH}"
            ))
            .await?;
            let cast = space.sql_type();
            // The space's id is written into the statement (a UUID, not input): its partial index
            // is used only when the planner sees the value.
            format!(
                "semantic_raw AS MATERIALIZED (
                     SELECT v.chunk_id, v.embedding::{cast} <=> $7::{cast} AS distance
                       FROM chunk_vectors v
                      WHERE v.space_id = '{space}' AND v.tenant_id = $1
                        AND ($3::uuid IS NULL OR v.project_id = $3)
                        AND (cardinality($4::text[]) = 0 OR v.source_kind = ANY($4))
                      ORDER BY distance
                      LIMIT {CANDIDATES}),
                 semantic AS (
                     SELECT s.chunk_id AS id, row_number() OVER (ORDER BY s.distance + 0) AS rank
                       FROM semantic_raw s
                       JOIN knowledge_chunks c ON c.id = s.chunk_id
                      WHERE {filters})",
                space = space.id,
            )
        }
        _ => "semantic AS (SELECT NULL::uuid AS id, NULL::bigint AS rank WHERE false)".to_owned(),
    };
    let vector = match meaning {
        Some((_, vector)) => Some(vector_literal(vector)?),
        None => None,
    };
    // The words' candidates come from a function that can use the full-text index (see
    // migration 25: under row-level security the planner reads every chunk of the team).
    let lexical = if query.by == SearchBy::Meaning {
        "lexical AS (SELECT NULL::uuid AS id, NULL::bigint AS rank WHERE false)".to_owned()
    } else {
        format!(
            "lexical AS (
                 SELECT w.chunk_id AS id, w.rank
                   FROM q, cairn_knowledge_by_words(q.query, q.any_query, {CANDIDATES},
                                                    $3, $4, $5, $6, $8) w)"
        )
    };
    let statement = format!(
        "WITH q AS (SELECT websearch_to_tsquery('english', $2) AS query,
                           websearch_to_tsquery('english', $9) AS any_query),
         {lexical},
         {semantic},
         fused AS (
             SELECT coalesce(l.id, s.id) AS id, l.rank AS word_rank, s.rank AS meaning_rank,
                    coalesce(1.0 / ({RRF_K} + l.rank), 0.0) + coalesce(1.0 / ({RRF_K} + s.rank), 0.0)
                        AS score
               FROM lexical l FULL OUTER JOIN semantic s ON s.id = l.id
              ORDER BY score DESC
              LIMIT {limit})
         SELECT c.source_kind, c.source_id, c.project_id, p.name AS project_name, c.title,
                c.line_start, c.line_end, f.word_rank, f.meaning_rank, f.score::float8 AS score,
                CASE WHEN f.word_rank IS NOT NULL
                     THEN ts_headline('english', c.content, q.any_query,
                              'StartSel={start}, StopSel={end}, MaxWords=40, MinWords=15, MaxFragments=2')
                     ELSE left(c.content, 300) END AS snippet,
                c.content,
                w.run_id, r.note_id
           FROM fused f
           JOIN knowledge_chunks c ON c.id = f.id
           JOIN projects p ON p.id = c.project_id
           CROSS JOIN q
           LEFT JOIN workflow_insights w ON c.source_kind = 'insight' AND w.id = c.source_id
           LEFT JOIN workflow_runs r ON r.id = w.run_id
          ORDER BY f.score DESC, c.id",
        limit = api::knowledge::MAX_HITS,
        start = MARK_START,
        end = MARK_END,
    );
    let rows = HitRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        statement,
        [
            tenant(tx),
            words.all.clone().into(),
            query.project_id.map(ProjectId::into_uuid).into(),
            sql::texts(kinds),
            query.language.clone().into(),
            query.path_prefix.clone().into(),
            vector.into(),
            without.into(),
            words.any.clone().into(),
        ],
    ))
    .all(txn)
    .await?;
    Ok(rows)
}

fn to_hit(row: HitRow) -> SearchHit {
    let kind = SourceKind::parse(&row.source_kind).unwrap_or(SourceKind::Manual);
    let project = ProjectId::from_uuid(row.project_id);
    let link = match kind {
        SourceKind::File | SourceKind::Manual | SourceKind::Report => format!(
            "/projects/{project}/memory/{}",
            MemoryEntryId::from_uuid(row.source_id)
        ),
        SourceKind::Note => format!("/projects/{project}/notes/{}", row.source_id),
        SourceKind::Insight => match (row.note_id, row.run_id) {
            (Some(note), Some(run)) => format!("/projects/{project}/notes/{note}/runs/{run}"),
            _ => format!("/projects/{project}"),
        },
    };
    let lines = match (row.line_start, row.line_end) {
        (Some(start), Some(end)) => Some((sql::unsigned(start), sql::unsigned(end))),
        _ => None,
    };
    let link = match lines {
        Some((start, end)) => format!("{link}#L{start}-L{end}"),
        None => link,
    };
    // A note's or entry's text starts with its title on a line of its own, which the hit shows
    // already (a text merely starting with the title's words keeps them).
    let snippet = match row.snippet.strip_prefix(&row.title) {
        Some(rest) if rest.is_empty() || rest.starts_with('\n') => rest.trim_start(),
        _ => row.snippet.as_str(),
    }
    .to_owned();
    SearchHit {
        kind,
        project_id: project,
        project_name: row.project_name,
        title: row.title,
        lines,
        snippet,
        link,
        matched: match (row.word_rank.is_some(), row.meaning_rank.is_some()) {
            (true, true) => Matched::Both,
            (false, true) => Matched::Meaning,
            _ => Matched::Words,
        },
        score: row.score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_written_as_pgvector_reads_them_and_never_with_nan() {
        assert_eq!(vector_literal(&[0.5, -1.0, 0.0]).unwrap(), "[0.5,-1,0]");
        assert!(vector_literal(&[f32::NAN]).is_err());
        assert!(vector_literal(&[f32::INFINITY]).is_err());
    }
}
