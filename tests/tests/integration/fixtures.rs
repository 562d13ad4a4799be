//! Rows for tests to work on, inserted as the schema owner (which bypasses row-level security).

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};
use uuid::Uuid;

/// One tenant with a user (its owner), a project, a note with an image, a memory entry, a sync and an
/// insight with an embedding.
#[derive(Debug, Clone, Copy)]
pub struct Seeded {
    pub tenant: Uuid,
    pub user: Uuid,
    pub project: Uuid,
    pub note: Uuid,
    pub image: Uuid,
    pub entry: Uuid,
    pub sync: Uuid,
    pub insight: Uuid,
}

/// Runs a statement that may be refused; the database's answer is the test's to judge.
pub async fn try_exec(
    db: &impl ConnectionTrait,
    sql: &str,
    values: Vec<Value>,
) -> Result<u64, sea_orm::DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .map(|result| result.rows_affected())
}

pub async fn exec(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> u64 {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .rows_affected()
}

pub async fn count(db: &impl ConnectionTrait, sql: &str, values: Vec<Value>) -> i64 {
    db.query_one_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .expect("a row")
    .try_get_by_index::<i64>(0)
    .expect("a count")
}

/// A unit vector of 1536 dimensions pointing along `axis`, as pgvector text.
pub fn axis_vector(axis: usize) -> String {
    let mut v = vec!["0"; 1536];
    v[axis] = "1";
    format!("[{}]", v.join(","))
}

pub async fn seed_tenant(owner: &DatabaseConnection, name: &str) -> Seeded {
    let s = Seeded {
        tenant: Uuid::new_v4(),
        user: Uuid::new_v4(),
        project: Uuid::new_v4(),
        note: Uuid::new_v4(),
        image: Uuid::new_v4(),
        entry: Uuid::new_v4(),
        sync: Uuid::new_v4(),
        insight: Uuid::new_v4(),
    };
    exec(
        owner,
        "INSERT INTO tenants (id, name) VALUES ($1, $2)",
        vec![s.tenant.into(), name.into()],
    )
    .await;
    exec(
        owner,
        "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'x')",
        vec![
            s.user.into(),
            format!("{}@{name}.test", s.user.simple()).into(),
        ],
    )
    .await;
    exec(
        owner,
        "INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, 'owner')",
        vec![s.tenant.into(), s.user.into()],
    )
    .await;
    exec(
        owner,
        "INSERT INTO projects (id, tenant_id, name, github_owner, github_repo, github_branch)
         VALUES ($1, $2, $3, 'octo', 'repo', 'main')",
        vec![
            s.project.into(),
            s.tenant.into(),
            format!("{name} project").into(),
        ],
    )
    .await;
    exec(
        owner,
        "INSERT INTO project_notes (id, tenant_id, project_id, title, body)
         VALUES ($1, $2, $3, 'First note', 'Body')",
        vec![s.note.into(), s.tenant.into(), s.project.into()],
    )
    .await;
    exec(
        owner,
        "INSERT INTO note_images (id, tenant_id, note_id, image_key, content_type, byte_size, width, height)
         VALUES ($1, $2, $3, $4, 'image/png', 100, 10, 10)",
        vec![
            s.image.into(),
            s.tenant.into(),
            s.note.into(),
            format!("tenants/{}/notes/{}/{}.png", s.tenant, s.note, s.image).into(),
        ],
    )
    .await;
    // A sealed secret of the project (bytes that would open under no key: only the row matters).
    exec(
        owner,
        "INSERT INTO project_secrets (tenant_id, project_id, kind, key_id, sealed)
         VALUES ($1, $2, 'github_token', '1', '\\x00'::bytea)",
        vec![s.tenant.into(), s.project.into()],
    )
    .await;
    // A job of the tenant: its "queued" event is the tenant's `job_events` row; a finished step of
    // it, its `job_steps` row.
    let job = Uuid::new_v4();
    exec(
        owner,
        "INSERT INTO jobs (id, kind, for_tenant, max_attempts) VALUES ($1, 'test.seeded', $2, 1)",
        vec![job.into(), s.tenant.into()],
    )
    .await;
    // An API token of the owner's.
    exec(
        owner,
        "INSERT INTO api_tokens (id, tenant_id, user_id, name, token_hash, scope, expires_at)
         VALUES ($1, $2, $3, 'CI', $4, 'read', now() + interval '30 days')",
        vec![
            Uuid::new_v4().into(),
            s.tenant.into(),
            s.user.into(),
            format!("hash-{}", Uuid::new_v4()).into(),
        ],
    )
    .await;
    exec(
        owner,
        "INSERT INTO job_steps (job_id, step_key, tenant_id, output, attempt)
         VALUES ($1, 'outline', $2, '\"An outline\"', 1)",
        vec![job.into(), s.tenant.into()],
    )
    .await;
    exec(
        owner,
        "INSERT INTO project_syncs (id, tenant_id, project_id, branch, status)
         VALUES ($1, $2, $3, 'main', 'completed')",
        vec![s.sync.into(), s.tenant.into(), s.project.into()],
    )
    .await;
    exec(
        owner,
        "INSERT INTO memory_entries (id, tenant_id, project_id, kind, title, content, source_path, blob_sha, sync_id)
         VALUES ($1, $2, $3, 'file', 'README.md', '', 'README.md', 'abc123', $4)",
        vec![s.entry.into(), s.tenant.into(), s.project.into(), s.sync.into()],
    )
    .await;
    exec(
        owner,
        "INSERT INTO ai_spend (id, tenant_id, provider, status, amount_usd)
         VALUES ($1, $2, 'openai', 'charged', 0.01)",
        vec![Uuid::new_v4().into(), s.tenant.into()],
    )
    .await;
    exec(
        owner,
        "INSERT INTO memory_blobs (tenant_id, sha, content, byte_size)
         VALUES ($1, 'abc123', 'How to deploy the service', 25)",
        vec![s.tenant.into()],
    )
    .await;
    exec(
        owner,
        "INSERT INTO workflow_insights (id, tenant_id, project_id, content, embedding, embedding_model)
         VALUES ($1, $2, $3, 'Use smaller images', $4::vector, 'test-embedding')",
        vec![s.insight.into(), s.tenant.into(), s.project.into(), axis_vector(0).into()],
    )
    .await;
    // The note as search holds it: its source, a chunk, a space and the chunk's vector.
    let (chunk, space) = (Uuid::new_v4(), Uuid::new_v4());
    exec(
        owner,
        "INSERT INTO knowledge_sources (tenant_id, source_kind, source_id, project_id, source_hash)
         VALUES ($1, 'note', $2, $3, 'seeded')",
        vec![s.tenant.into(), s.note.into(), s.project.into()],
    )
    .await;
    exec(
        owner,
        "INSERT INTO knowledge_chunks (id, tenant_id, project_id, source_kind, source_id, seq, title,
                                       content, content_hash)
         VALUES ($1, $2, $3, 'note', $4, 0, 'Seeded note', 'Seeded text', 'seeded')",
        vec![chunk.into(), s.tenant.into(), s.project.into(), s.note.into()],
    )
    .await;
    exec(
        owner,
        "INSERT INTO embedding_spaces (id, tenant_id, provider, model, dimensions, status)
         VALUES ($1, $2, 'openai', 'text-embedding-3-small', 1536, 'active')",
        vec![space.into(), s.tenant.into()],
    )
    .await;
    exec(
        owner,
        "INSERT INTO chunk_vectors (tenant_id, space_id, chunk_id, project_id, source_kind,
                                    content_hash, embedding)
         VALUES ($1, $2, $3, $4, 'note', 'seeded', $5::vector)",
        vec![
            s.tenant.into(),
            space.into(),
            chunk.into(),
            s.project.into(),
            axis_vector(1).into(),
        ],
    )
    .await;
    exec(
        owner,
        "INSERT INTO code_analysis_runs (id, tenant_id, project_id, status) VALUES ($1, $2, $3, 'completed')",
        vec![Uuid::new_v4().into(), s.tenant.into(), s.project.into()],
    )
    .await;
    exec(
        owner,
        "INSERT INTO invitations (id, tenant_id, email, role, token_hash, invited_by, expires_at)
         VALUES ($1, $2, $3, 'member', $4, $5, now() + interval '7 days')",
        vec![
            Uuid::new_v4().into(),
            s.tenant.into(),
            format!("invitee@{name}.test").into(),
            Uuid::new_v4().simple().to_string().into(),
            s.user.into(),
        ],
    )
    .await;
    exec(
        owner,
        "INSERT INTO audit_log (id, tenant_id, actor_user_id, action, target_table, target_id)
         VALUES ($1, $2, $3, 'create', 'projects', $4)",
        vec![
            Uuid::new_v4().into(),
            s.tenant.into(),
            s.user.into(),
            s.project.into(),
        ],
    )
    .await;
    s
}
