//! The Memory Hub: a project's memory entries, filtered, searched, written by hand, retired and
//! restored.

use crate::audit::AuditAction;
use crate::entities::memory_entries::{
    self, MemoryKind as KindColumn, MemoryStatus as StatusColumn,
};
use crate::images::{self, ImageOwner};
use crate::{DomainError, TenantTxn, audit, blobs, projects};
use api::ids::{MemoryEntryId, ProjectId, UserId};
use api::memory::{
    FileTree, MemoryEntry, MemoryKind, MemoryPage, MemoryQuery, MemoryStatus, TreeEntry,
    ValidMemoryEntry,
};
use api::tenants::Permission;
use sea_orm::prelude::DateTimeWithTimeZone;
use sea_orm::sea_query::{Expr, Order};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use uuid::Uuid;

/// Characters of a file's (or any other non-manual entry's) text a list carries; one more when
/// there are more, so a client can tell. `get` has the whole text.
pub const LIST_CHARS: usize = 4000;

/// The listed columns: everything but the embedding, which is large and not shown.
type EntryRow = (
    Uuid,
    Uuid,
    KindColumn,
    StatusColumn,
    String,
    Option<String>,
    DateTimeWithTimeZone,
    Option<String>,
    Option<i64>,
    String,
);

/// One page of a project's entries with their images: two queries however many entries.
/// Searching orders by relevance (title weighs more than content), otherwise the most recently
/// changed come first.
pub async fn list(
    tx: &TenantTxn,
    project_id: ProjectId,
    query: &MemoryQuery,
) -> Result<MemoryPage, DomainError> {
    let ctx = tx.ctx();
    let txn = tx.txn();
    query.validate()?;
    projects::find(tx, project_id).await?;
    let mut select = memory_entries::Entity::find()
        .select_only()
        .columns([
            memory_entries::Column::Id,
            memory_entries::Column::ProjectId,
            memory_entries::Column::Kind,
            memory_entries::Column::Status,
            memory_entries::Column::Title,
            memory_entries::Column::SourcePath,
            memory_entries::Column::UpdatedAt,
            memory_entries::Column::Language,
            memory_entries::Column::ByteSize,
        ])
        // A file's text is its blob's; the list carries its start only (a page of 50 one-MiB files
        // would be 50 MiB), the entry's own page all of it. Manual entries are edited in the list,
        // whole.
        .column_as(
            Expr::cust(format!(
                "CASE WHEN memory_entries.kind = 'manual' THEN {content}
                      ELSE left({content}, {LIST_CHARS} + 1) END",
                content = blobs::ENTRY_CONTENT_SQL
            )),
            "content",
        )
        .filter(memory_entries::Column::TenantId.eq(ctx.tenant_id().into_uuid()))
        .filter(memory_entries::Column::ProjectId.eq(project_id.into_uuid()));
    if let Some(status) = query.status {
        select = select.filter(memory_entries::Column::Status.eq(StatusColumn::from(status)));
    }
    if let Some(kind) = query.kind {
        select = select.filter(memory_entries::Column::Kind.eq(KindColumn::from(kind)));
    }
    let text = query.text.trim();
    if !text.is_empty() {
        select = select
            .filter(Expr::cust_with_values(
                format!(
                    "(memory_entries.search_vector @@ websearch_to_tsquery('english', $1) OR {})",
                    blobs::blob_matches_sql(1)
                ),
                [text],
            ))
            .order_by(
                Expr::cust_with_values(
                    format!(
                        "ts_rank({}, websearch_to_tsquery('english', $1))",
                        blobs::ENTRY_SEARCH_VECTOR_SQL
                    ),
                    [text],
                ),
                Order::Desc,
            );
    }
    let mut rows: Vec<EntryRow> = select
        .order_by_desc(memory_entries::Column::UpdatedAt)
        .order_by_desc(memory_entries::Column::Id)
        .offset(u64::from(query.page) * MemoryQuery::PAGE_SIZE)
        .limit(MemoryQuery::PAGE_SIZE + 1)
        .into_tuple()
        .all(txn)
        .await?;
    let has_more = rows.len() as u64 > MemoryQuery::PAGE_SIZE;
    rows.truncate(MemoryQuery::PAGE_SIZE as usize);
    let ids: Vec<Uuid> = rows.iter().map(|row| row.0).collect();
    let mut images = images::images_by_owner(txn, ImageOwner::MemoryEntry, &ids).await?;
    let entries = rows
        .into_iter()
        .map(
            |(
                id,
                project_id,
                kind,
                status,
                title,
                source_path,
                updated_at,
                language,
                size,
                content,
            )| {
                MemoryEntry {
                    id: MemoryEntryId::from_uuid(id),
                    project_id: ProjectId::from_uuid(project_id),
                    kind: kind.into(),
                    status: status.into(),
                    title,
                    content,
                    source_path,
                    language,
                    images: images.remove(&id).unwrap_or_default(),
                    updated_at: updated_at.to_rfc3339(),
                    byte_size: size.and_then(|size| u64::try_from(size).ok()),
                }
            },
        )
        .collect();
    Ok(MemoryPage { entries, has_more })
}

/// The project's active files by path (the first [`FileTree::MAX_FILES`]).
pub async fn file_tree(tx: &TenantTxn, project_id: ProjectId) -> Result<FileTree, DomainError> {
    projects::find(tx, project_id).await?;
    let mut rows: Vec<(Uuid, Option<String>, Option<i64>)> = memory_entries::Entity::find()
        .select_only()
        .columns([
            memory_entries::Column::Id,
            memory_entries::Column::SourcePath,
            memory_entries::Column::ByteSize,
        ])
        .filter(memory_entries::Column::TenantId.eq(tx.ctx().tenant_id().into_uuid()))
        .filter(memory_entries::Column::ProjectId.eq(project_id.into_uuid()))
        .filter(memory_entries::Column::Kind.eq(KindColumn::File))
        .filter(memory_entries::Column::Status.eq(StatusColumn::Active))
        .filter(memory_entries::Column::SourcePath.is_not_null())
        .order_by_asc(memory_entries::Column::SourcePath)
        .limit(FileTree::MAX_FILES + 1)
        .into_tuple()
        .all(tx.txn())
        .await?;
    let more = rows.len() as u64 > FileTree::MAX_FILES;
    rows.truncate(FileTree::MAX_FILES as usize);
    Ok(FileTree {
        files: rows
            .into_iter()
            .filter_map(|(id, path, size)| {
                Some(TreeEntry {
                    id: MemoryEntryId::from_uuid(id),
                    path: path?,
                    byte_size: size.and_then(|size| u64::try_from(size).ok()),
                })
            })
            .collect(),
        more,
    })
}

/// One entry with its images; another tenant's is `NotFound`.
pub async fn get(tx: &TenantTxn, id: MemoryEntryId) -> Result<MemoryEntry, DomainError> {
    let row = with_blob_text(tx, find(tx, id).await?).await?;
    let images = images::images_of(tx.txn(), ImageOwner::MemoryEntry, row.id).await?;
    Ok(to_dto(row, images))
}

/// Where a file entry came from: its project's repository (`owner/name`) and the commit its sync read
/// (`None` for manual entries, and for files of a sync that recorded no commit).
pub async fn synced_from(
    tx: &TenantTxn,
    id: MemoryEntryId,
) -> Result<Option<(String, String)>, DomainError> {
    let row = tx
        .txn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            // The repository the sync read; the project's for syncs made before it was kept.
            "SELECT COALESCE(s.repository, p.github_owner || '/' || p.github_repo) AS repo,
                    s.head_sha AS commit
               FROM memory_entries m
               JOIN project_syncs s ON s.id = m.sync_id
               JOIN projects p ON p.id = m.project_id
              WHERE m.id = $1 AND s.head_sha IS NOT NULL
                AND COALESCE(s.repository, p.github_owner || '/' || p.github_repo) IS NOT NULL",
            [id.into_uuid().into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => Some((row.try_get("", "repo")?, row.try_get("", "commit")?)),
        None => None,
    })
}

/// `row` with its text: a file's is its blob's.
async fn with_blob_text(
    tx: &TenantTxn,
    mut row: memory_entries::Model,
) -> Result<memory_entries::Model, DomainError> {
    if row.content.is_empty()
        && let Some(sha) = &row.blob_sha
        && let Some(text) = blobs::text_of(tx, sha).await?
    {
        row.content = text;
    }
    Ok(row)
}

/// Writes a manual entry.
pub async fn create(
    tx: &TenantTxn,
    project_id: ProjectId,
    entry: ValidMemoryEntry,
) -> Result<MemoryEntry, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    let ctx = tx.ctx();
    let txn = tx.txn();
    projects::find(tx, project_id).await?;
    let row = memory_entries::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(ctx.tenant_id().into_uuid()),
        project_id: Set(project_id.into_uuid()),
        kind: Set(KindColumn::Manual),
        title: Set(entry.title),
        content: Set(entry.content),
        status: Set(StatusColumn::Active),
        created_by: Set(ctx.user_id().map(UserId::into_uuid)),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    audit::record(
        txn,
        ctx,
        AuditAction::MemoryCreate,
        row.id,
        serde_json::json!({"title": row.title}),
    )
    .await?;
    // Search sees the change once the team's indexing has run.
    crate::knowledge::queue_indexing(tx).await?;
    Ok(to_dto(row, Vec::new()))
}

/// Edits a manual entry. Entries imported from the repository (or produced by analysis and
/// workflows) are refused: the next sync would silently overwrite the edit.
pub async fn update(
    tx: &TenantTxn,
    id: MemoryEntryId,
    entry: ValidMemoryEntry,
) -> Result<MemoryEntry, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    let ctx = tx.ctx();
    let txn = tx.txn();
    let row = find(tx, id).await?;
    if row.kind != KindColumn::Manual {
        return Err(DomainError::Conflict(
            "only manual entries can be edited; this one comes from the repository or a workflow"
                .into(),
        ));
    }
    let mut active: memory_entries::ActiveModel = row.into();
    active.title = Set(entry.title);
    active.content = Set(entry.content);
    // The old embedding described the old text.
    active.embedding = Set(None);
    active.embedding_model = Set(None);
    active.updated_at = Set(chrono::Utc::now().fixed_offset());
    let row = active.update(txn).await?;
    audit::record(
        txn,
        ctx,
        AuditAction::MemoryUpdate,
        row.id,
        serde_json::json!({"title": row.title}),
    )
    .await?;
    let images = images::images_of(txn, ImageOwner::MemoryEntry, row.id).await?;
    // Search sees the change once the team's indexing has run.
    crate::knowledge::queue_indexing(tx).await?;
    Ok(to_dto(row, images))
}

/// Marks an entry superseded (`Superseded`) or restores it (`Active`). Restoring a file entry
/// while another active entry holds the same path is a conflict: a path has one current version.
pub async fn set_status(
    tx: &TenantTxn,
    id: MemoryEntryId,
    status: MemoryStatus,
) -> Result<MemoryEntry, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    let ctx = tx.ctx();
    let txn = tx.txn();
    let row = find(tx, id).await?;
    // A path has one active entry. Restoring an earlier version of a file (one a sync replaced
    // or removed) supersedes the version active now, in the same transaction; the next sync that
    // finds the branch moved brings the branch's version back.
    if status == MemoryStatus::Active
        && row.status == StatusColumn::Superseded
        && let Some(path) = &row.source_path
    {
        let current = memory_entries::Entity::find()
            .filter(memory_entries::Column::ProjectId.eq(row.project_id))
            .filter(memory_entries::Column::SourcePath.eq(path.as_str()))
            .filter(memory_entries::Column::Status.eq(StatusColumn::Active))
            .all(txn)
            .await?;
        for current in current {
            let (current_id, title) = (current.id, current.title.clone());
            let mut replaced: memory_entries::ActiveModel = current.into();
            replaced.status = Set(StatusColumn::Superseded);
            replaced.updated_at = Set(chrono::Utc::now().fixed_offset());
            replaced.update(txn).await?;
            audit::record(
                txn,
                ctx,
                AuditAction::MemorySupersede,
                current_id,
                serde_json::json!({"title": title, "restored": row.id}),
            )
            .await?;
        }
    }
    let mut active: memory_entries::ActiveModel = row.into();
    active.status = Set(status.into());
    active.updated_at = Set(chrono::Utc::now().fixed_offset());
    let row = with_blob_text(tx, active.update(txn).await?).await?;
    let action = match status {
        MemoryStatus::Active => AuditAction::MemoryRestore,
        MemoryStatus::Superseded => AuditAction::MemorySupersede,
    };
    audit::record(
        txn,
        ctx,
        action,
        row.id,
        serde_json::json!({"title": row.title}),
    )
    .await?;
    let images = images::images_of(txn, ImageOwner::MemoryEntry, row.id).await?;
    // Search sees the change once the team's indexing has run.
    crate::knowledge::queue_indexing(tx).await?;
    Ok(to_dto(row, images))
}

async fn find(tx: &TenantTxn, id: MemoryEntryId) -> Result<memory_entries::Model, DomainError> {
    tx.find::<memory_entries::Entity>(id.into_uuid()).await
}

fn to_dto(row: memory_entries::Model, images: Vec<api::notes::NoteImage>) -> MemoryEntry {
    MemoryEntry {
        id: MemoryEntryId::from_uuid(row.id),
        project_id: ProjectId::from_uuid(row.project_id),
        kind: row.kind.into(),
        status: row.status.into(),
        title: row.title,
        content: row.content,
        source_path: row.source_path,
        language: row.language,
        images,
        updated_at: row.updated_at.to_rfc3339(),
        byte_size: row.byte_size.and_then(|size| u64::try_from(size).ok()),
    }
}

impl From<KindColumn> for MemoryKind {
    fn from(kind: KindColumn) -> Self {
        match kind {
            KindColumn::File => Self::File,
            KindColumn::Manual => Self::Manual,
            KindColumn::Insight => Self::Insight,
            KindColumn::Pattern => Self::Pattern,
            KindColumn::WorkflowReport => Self::WorkflowReport,
        }
    }
}

impl From<MemoryKind> for KindColumn {
    fn from(kind: MemoryKind) -> Self {
        match kind {
            MemoryKind::File => Self::File,
            MemoryKind::Manual => Self::Manual,
            MemoryKind::Insight => Self::Insight,
            MemoryKind::Pattern => Self::Pattern,
            MemoryKind::WorkflowReport => Self::WorkflowReport,
        }
    }
}

impl From<StatusColumn> for MemoryStatus {
    fn from(status: StatusColumn) -> Self {
        match status {
            StatusColumn::Active => Self::Active,
            StatusColumn::Superseded => Self::Superseded,
        }
    }
}

impl From<MemoryStatus> for StatusColumn {
    fn from(status: MemoryStatus) -> Self {
        match status {
            MemoryStatus::Active => Self::Active,
            MemoryStatus::Superseded => Self::Superseded,
        }
    }
}
