//! Notes of a project: Markdown text with many images each.

use crate::audit::AuditAction;
use crate::entities::{note_images, project_notes};
use crate::images::{self, ImageOwner, find_note};
use crate::storage::Orphans;
use crate::{DomainError, TenantTxn, audit, markdown, projects};
use api::ids::{NoteId, ProjectId, UserId};
use api::notes::{Note, ValidNote};
use api::tenants::Permission;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

/// Notes on one page of a project's list.
pub const PAGE_SIZE: u64 = 50;

/// A page of a project's notes, newest first, each with its images: two queries however many notes.
/// The flag says whether an older page follows.
pub async fn list(
    tx: &TenantTxn,
    project_id: ProjectId,
    page: u32,
) -> Result<(Vec<Note>, bool), DomainError> {
    let ctx = tx.ctx();
    let txn = tx.txn();
    projects::find(tx, project_id).await?;
    let mut rows = project_notes::Entity::find()
        .filter(project_notes::Column::TenantId.eq(ctx.tenant_id().into_uuid()))
        .filter(project_notes::Column::ProjectId.eq(project_id.into_uuid()))
        .order_by_desc(project_notes::Column::CreatedAt)
        .order_by_desc(project_notes::Column::Id)
        .offset(u64::from(page) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
        .all(txn)
        .await?;
    let has_more = rows.len() as u64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut images = images::images_by_owner(txn, ImageOwner::Note, &ids).await?;
    let notes = rows
        .into_iter()
        .map(|row| {
            let note_images = images.remove(&row.id).unwrap_or_default();
            to_dto(row, note_images)
        })
        .collect();
    Ok((notes, has_more))
}

/// One note with its images.
pub async fn get(tx: &TenantTxn, id: NoteId) -> Result<Note, DomainError> {
    let row = find_note(tx, id).await?;
    let images = images::images_of(tx.txn(), ImageOwner::Note, row.id).await?;
    Ok(to_dto(row, images))
}

/// Creates a note in a project.
pub async fn create(
    tx: &TenantTxn,
    project_id: ProjectId,
    note: ValidNote,
) -> Result<Note, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    let ctx = tx.ctx();
    let txn = tx.txn();
    projects::find(tx, project_id).await?;
    let row = project_notes::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(ctx.tenant_id().into_uuid()),
        project_id: Set(project_id.into_uuid()),
        title: Set(note.title),
        body: Set(note.body),
        created_by: Set(ctx.user_id().map(UserId::into_uuid)),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    audit::record(
        txn,
        ctx,
        AuditAction::NoteCreate,
        row.id,
        serde_json::json!({"title": row.title}),
    )
    .await?;
    // Search sees the change once the team's indexing has run.
    crate::knowledge::queue_indexing(tx).await?;
    Ok(to_dto(row, Vec::new()))
}

/// Replaces a note's title and body.
pub async fn update(tx: &TenantTxn, id: NoteId, note: ValidNote) -> Result<Note, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    let ctx = tx.ctx();
    let txn = tx.txn();
    let mut row: project_notes::ActiveModel = find_note(tx, id).await?.into();
    row.title = Set(note.title);
    row.body = Set(note.body);
    row.updated_at = Set(chrono::Utc::now().fixed_offset());
    let row = row.update(txn).await?;
    let images = images::images_of(txn, ImageOwner::Note, row.id).await?;
    audit::record(
        txn,
        ctx,
        AuditAction::NoteUpdate,
        row.id,
        serde_json::json!({"title": row.title}),
    )
    .await?;
    // Search sees the change once the team's indexing has run.
    crate::knowledge::queue_indexing(tx).await?;
    Ok(to_dto(row, images))
}

/// Deletes a note: its image rows go with it (cascade); their stored objects go once the caller
/// committed.
pub async fn delete(tx: &TenantTxn, id: NoteId) -> Result<Orphans, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    let ctx = tx.ctx();
    let txn = tx.txn();
    let row = find_note(tx, id).await?;
    let keys = images::keys_where(txn, note_images::Column::NoteId.eq(row.id).into()).await?;
    project_notes::Entity::delete_by_id(row.id)
        .exec(txn)
        .await?;
    audit::record(
        txn,
        ctx,
        AuditAction::NoteDelete,
        row.id,
        serde_json::json!({"title": row.title, "images": keys.len()}),
    )
    .await?;
    // Search sees the change once the team's indexing has run.
    crate::knowledge::queue_indexing(tx).await?;
    Ok(Orphans::new(keys))
}

fn to_dto(row: project_notes::Model, images: Vec<api::notes::NoteImage>) -> Note {
    Note {
        id: NoteId::from_uuid(row.id),
        project_id: ProjectId::from_uuid(row.project_id),
        body_html: markdown::render(&row.body),
        title: row.title,
        body: row.body,
        images,
        created_at: row.created_at.to_rfc3339(),
        updated_at: row.updated_at.to_rfc3339(),
    }
}
