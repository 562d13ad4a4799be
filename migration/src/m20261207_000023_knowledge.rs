//! Knowledge: what a team has (file entries, manual entries, notes, workflow reports and insights)
//! cut into chunks that full-text and vector search rank together, and the embedding spaces their
//! vectors live in.
//!
//! - `knowledge_sources` records, per source, the hash of the text it was chunked from: a source
//!   whose text changed is chunked again, one that is gone loses its chunks.
//! - `knowledge_chunks`: a source's pieces (path and lines for files), each with the hash of its
//!   text and a full-text vector, so search works before (and without) any embedding model.
//! - `embedding_spaces`: (provider, model, dimensions, status). A team has at most one `active`
//!   space (what search uses) and at most one `building` (being backfilled); a model change never
//!   wipes: the new space builds while the old one serves, and is switched to when complete.
//! - `chunk_vectors`: a chunk's vector in a space, in an untyped `vector` column (`embedding`,
//!   which the migration guard protects by name). Each space gets its own partial HNSW index on
//!   the cast to its dimensions (`halfvec` above 2,000), made by `cairn_index_embedding_space`
//!   when the space is created; those indexes are the application's to make and drop, so the
//!   schema snapshot leaves out indexes named `chunk_vectors_space_…`.
//!
//! The tables are new: nothing existing changes. The older `embedding` columns of
//! `memory_entries` and `workflow_insights` stay as they are (protected, unused).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(SQL).await?;
        for table in [
            "knowledge_sources",
            "knowledge_chunks",
            "embedding_spaces",
            "chunk_vectors",
        ] {
            db.execute_unprepared(&crate::m20261122_000001_initial_schema::tenant_policy_sql(
                table,
            ))
            .await?;
        }
        Ok(())
    }
}

const SQL: &str = r#"
CREATE TABLE knowledge_sources (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    source_kind  text NOT NULL CHECK (source_kind IN ('file', 'manual', 'note', 'insight', 'report')),
    source_id    uuid NOT NULL,
    project_id   uuid NOT NULL,
    -- What the source's text was when it was chunked (a file's blob SHA; else an md5).
    source_hash  text NOT NULL,
    chunked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_kind, source_id),
    FOREIGN KEY (project_id, tenant_id) REFERENCES projects (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX knowledge_sources_tenant_idx ON knowledge_sources (tenant_id);

CREATE TABLE knowledge_chunks (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    project_id    uuid NOT NULL,
    source_kind   text NOT NULL,
    source_id     uuid NOT NULL,
    seq           integer NOT NULL CHECK (seq >= 0),
    -- What a hit shows: a file's path, a note's or insight's title.
    title         text NOT NULL,
    path          text,
    language      text,
    line_start    integer CHECK (line_start >= 1),
    line_end      integer CHECK (line_end >= line_start),
    content       text NOT NULL CHECK (length(content) > 0),
    content_hash  text NOT NULL,
    search_vector tsvector GENERATED ALWAYS AS (
                      setweight(to_tsvector('english', title), 'A') ||
                      setweight(to_tsvector('english', content), 'B')) STORED,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, tenant_id),
    UNIQUE (source_kind, source_id, seq) DEFERRABLE INITIALLY DEFERRED,
    FOREIGN KEY (source_kind, source_id) REFERENCES knowledge_sources (source_kind, source_id)
        ON DELETE CASCADE,
    FOREIGN KEY (project_id, tenant_id) REFERENCES projects (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX knowledge_chunks_search_idx ON knowledge_chunks USING gin (search_vector);
CREATE INDEX knowledge_chunks_hash_idx ON knowledge_chunks (tenant_id, content_hash);
CREATE INDEX knowledge_chunks_project_idx ON knowledge_chunks (project_id, source_kind);

CREATE TABLE embedding_spaces (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    provider      text NOT NULL CHECK (length(provider) BETWEEN 1 AND 100),
    model         text NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
    dimensions    integer NOT NULL CHECK (dimensions BETWEEN 1 AND 4000),
    status        text NOT NULL DEFAULT 'building'
                  CHECK (status IN ('building', 'active', 'retired')),
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    activated_at  timestamptz,
    retired_at    timestamptz,
    UNIQUE (id, tenant_id)
);
-- One space answers a team's searches, and one at most is being built beside it.
CREATE UNIQUE INDEX embedding_spaces_one_active ON embedding_spaces (tenant_id)
    WHERE status = 'active';
CREATE UNIQUE INDEX embedding_spaces_one_building ON embedding_spaces (tenant_id)
    WHERE status = 'building';

CREATE TABLE chunk_vectors (
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    space_id      uuid NOT NULL,
    chunk_id      uuid NOT NULL,
    -- Copied from the chunk, so a search filters in the index scan itself.
    project_id    uuid NOT NULL,
    source_kind   text NOT NULL,
    content_hash  text NOT NULL,
    embedding     vector NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (space_id, chunk_id),
    FOREIGN KEY (space_id, tenant_id) REFERENCES embedding_spaces (id, tenant_id) ON DELETE CASCADE,
    FOREIGN KEY (chunk_id, tenant_id) REFERENCES knowledge_chunks (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX chunk_vectors_hash_idx ON chunk_vectors (space_id, content_hash);
CREATE INDEX chunk_vectors_chunk_idx ON chunk_vectors (chunk_id);

-- A space's own HNSW index, on the cast of its vectors to its dimensions (an untyped column can
-- hold several models' vectors; each index holds one). Made as the schema owner: the application
-- role owns no table. Idempotent; the space must be the caller's team's.
CREATE FUNCTION cairn_index_embedding_space(space uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    dims integer;
    name text := 'chunk_vectors_space_' || replace(space::text, '-', '');
BEGIN
    SELECT dimensions INTO dims FROM embedding_spaces
     WHERE id = space AND tenant_id = cairn_current_tenant();
    IF dims IS NULL THEN
        RAISE EXCEPTION 'no such embedding space' USING ERRCODE = 'no_data_found';
    END IF;
    IF dims <= 2000 THEN
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON chunk_vectors USING hnsw '
                       '((embedding::vector(%s)) vector_cosine_ops) WHERE space_id = %L',
                       name, dims, space);
    ELSE
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON chunk_vectors USING hnsw '
                       '((embedding::halfvec(%s)) halfvec_cosine_ops) WHERE space_id = %L',
                       name, dims, space);
    END IF;
END $$;
REVOKE ALL ON FUNCTION cairn_index_embedding_space(uuid) FROM PUBLIC;

-- Removes a retired space: its index, its vectors, its row. The caller's team's only.
CREATE FUNCTION cairn_drop_embedding_space(space uuid) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    removed bigint;
BEGIN
    PERFORM 1 FROM embedding_spaces
      WHERE id = space AND tenant_id = cairn_current_tenant() AND status = 'retired';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such retired embedding space' USING ERRCODE = 'no_data_found';
    END IF;
    EXECUTE format('DROP INDEX IF EXISTS %I', 'chunk_vectors_space_' || replace(space::text, '-', ''));
    DELETE FROM chunk_vectors WHERE space_id = space;
    GET DIAGNOSTICS removed = ROW_COUNT;
    DELETE FROM embedding_spaces WHERE id = space;
    RETURN removed;
END $$;
REVOKE ALL ON FUNCTION cairn_drop_embedding_space(uuid) FROM PUBLIC;
"#;
