//! Images on notes: streamed uploads checked by their bytes and pixel size, order, captions,
//! removal, serving, and the sweeper that reconciles stored objects with rows.

use crate::entities::{note_images, project_notes};
use crate::storage::{ImageStore, Orphans};
use crate::{Db, DomainError, TenantCtx, TenantTxn};
use api::ApiError;
use api::ids::{NoteId, NoteImageId, TenantId, UserId};
use api::notes::{ImageCaption, ImageLimits, NoteImage};
use api::tenants::Permission;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, WriteMultipart};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// The image formats Cairn accepts, recognised by their first bytes: never by a file name or the
/// Content-Type a client claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// GIF (87a or 89a).
    Gif,
    /// WebP.
    Webp,
}

impl ImageFormat {
    /// Bytes needed to tell the formats apart.
    pub const SNIFF_LEN: usize = 12;

    /// The format whose signature `head` starts with.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    /// The MIME type served with it.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
        }
    }

    /// The extension of its object key.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Gif => "gif",
            Self::Webp => "webp",
        }
    }
}

/// What an upload's first bytes say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    /// Format.
    pub format: ImageFormat,
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
}

/// Longest prefix read to find an image's size: a JPEG may carry EXIF and colour profiles before its
/// frame header. The prefix is the only part of an upload held in memory at once, beyond one part.
pub const MAX_HEADER_BYTES: usize = 1024 * 1024;

fn not_an_image() -> DomainError {
    ApiError::invalid("file", "is not a PNG, JPEG, GIF or WebP image").into()
}

/// Reads the format and size from the start of a file. `Ok(None)`: more bytes are needed. `complete`
/// says `head` is the whole file. A size over `limits` is refused here, from the header alone: a
/// file of a few bytes can claim billions of pixels, and every browser showing it would try to
/// hold them.
pub fn read_header(
    head: &[u8],
    complete: bool,
    limits: &ImageLimits,
) -> Result<Option<ImageHeader>, DomainError> {
    if head.len() < ImageFormat::SNIFF_LEN && !complete {
        return Ok(None);
    }
    let format = ImageFormat::sniff(head).ok_or_else(not_an_image)?;
    match imagesize::blob_size(head) {
        Ok(size) if size.width > 0 && size.height > 0 => {
            let (wide, high) = (size.width as u64, size.height as u64);
            let too_many_pixels = || DomainError::from(limits.too_many_pixels(wide, high));
            if wide > u64::from(limits.max_width)
                || high > u64::from(limits.max_height)
                || wide.saturating_mul(high) > limits.max_pixels
            {
                return Err(too_many_pixels());
            }
            let (Ok(width), Ok(height)) = (i32::try_from(size.width), i32::try_from(size.height))
            else {
                return Err(too_many_pixels());
            };
            Ok(Some(ImageHeader {
                format,
                width,
                height,
            }))
        }
        _ if !complete && head.len() < MAX_HEADER_BYTES => Ok(None),
        _ => Err(ApiError::invalid(
            "file",
            format!(
                "looks like {} but its size cannot be read: the file is damaged",
                format.extension().to_uppercase()
            ),
        )
        .into()),
    }
}

/// Adds an image to a note from a streamed body and puts it last in the note's order.
///
/// Nothing is half-stored: the body's first bytes must be a PNG, JPEG, GIF or WebP with a readable
/// size within the limits before anything is written; the object streams to storage in parts (never
/// the whole file in memory) and is aborted if the body grows past the limit or breaks off; the row
/// is inserted after the object is complete, under a lock on the note that serialises the per-note
/// limit, and the object is deleted again if the row cannot be written.
///
/// The credential is checked when the upload starts and again before the row is written: no
/// transaction is held while the body streams in, and an upload that outlives its credential or its
/// author's membership adds nothing. The body is borrowed so that the caller can drain what is left
/// of it after a refusal.
pub async fn add<S, E>(
    db: &Db,
    store: &ImageStore,
    credential: &crate::Credential,
    note_id: NoteId,
    body: &mut S,
) -> Result<NoteImage, DomainError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let limits = store.limits();
    // Refuse before reading a byte when the note is missing (or another tenant's) or full.
    let tx = db.enter_with(credential).await?;
    let ctx = *tx.ctx();
    let ctx = &ctx;
    // Nothing reaches storage for a token that may only read.
    ctx.require(api::tenants::Permission::EditContent)?;
    let note = find_note(&tx, note_id).await?;
    let (count, _) = count_and_next_position(tx.txn(), note.id).await?;
    tx.end_read();
    if count >= i64::from(limits.max_per_note) {
        return Err(limits.too_many().into());
    }

    let interrupted = |error: E| -> DomainError {
        tracing::info!(%error, "upload body broke off");
        ApiError::invalid("file", "the upload was interrupted; nothing was saved").into()
    };
    let mut received: u64 = 0;
    let mut head = Vec::new();
    let mut complete = false;
    let header = loop {
        match body.next().await {
            Some(chunk) => {
                let chunk = chunk.map_err(interrupted)?;
                received += chunk.len() as u64;
                if received > limits.max_bytes {
                    return Err(limits.too_large().into());
                }
                head.extend_from_slice(&chunk);
            }
            None if received == 0 => {
                return Err(ApiError::invalid("file", "is empty").into());
            }
            None => complete = true,
        }
        if let Some(header) = read_header(&head, complete, &limits)? {
            break header;
        }
    };

    let image_id = Uuid::now_v7();
    let key = format!(
        "tenants/{}/notes/{}/{image_id}.{}",
        ctx.tenant_id(),
        note.id,
        header.format.extension()
    );
    let location = ObjectPath::from(key.as_str());
    let mut writer = WriteMultipart::new_with_chunk_size(
        store.inner().put_multipart(&location).await?,
        store.part_size(),
    );
    writer.put(Bytes::from(head));
    let streamed: Result<(), DomainError> = async {
        while !complete {
            match body.next().await {
                Some(chunk) => {
                    let chunk = chunk.map_err(interrupted)?;
                    received += chunk.len() as u64;
                    if received > limits.max_bytes {
                        return Err(limits.too_large().into());
                    }
                    // At most two parts in flight: memory stays bounded whatever the file size.
                    writer.wait_for_capacity(2).await?;
                    writer.put(chunk);
                }
                None => complete = true,
            }
        }
        Ok(())
    }
    .await;
    if let Err(error) = streamed {
        if let Err(abort) = writer.abort().await {
            tracing::warn!(%key, error = %abort, "aborting a refused upload");
        }
        return Err(error);
    }
    writer.finish().await?;

    let byte_size = i64::try_from(received).map_err(|_| DomainError::from(limits.too_large()))?;
    let row = NewImageRow {
        note_id: note.id,
        image_id,
        key: &key,
        header,
        byte_size,
    };
    let inserted = insert_row(db, store, credential, ctx, row).await;
    if inserted.is_err() {
        store.delete_after_commit(vec![key]).await;
    }
    inserted.map(to_dto)
}

struct NewImageRow<'a> {
    note_id: Uuid,
    image_id: Uuid,
    key: &'a str,
    header: ImageHeader,
    byte_size: i64,
}

async fn insert_row(
    db: &Db,
    store: &ImageStore,
    credential: &crate::Credential,
    started_as: &TenantCtx,
    new: NewImageRow<'_>,
) -> Result<note_images::Model, DomainError> {
    let NewImageRow {
        note_id,
        image_id,
        key,
        header,
        byte_size,
    } = new;
    // The credential again, as it is now: revoked or expired is `Unauthorized`, a membership removed
    // is `NotFound`, and so is a session switched to another tenant while the body streamed in (the
    // note and the object's key belong to the tenant the upload started in).
    let tx = db.enter_with(credential).await?;
    let ctx = tx.ctx();
    if ctx.tenant_id() != started_as.tenant_id() {
        return Err(DomainError::NotFound);
    }
    // The lock serialises concurrent uploads to one note, so the limit and positions hold.
    tx.find_for_update::<project_notes::Entity>(note_id).await?;
    let (count, next_position) = count_and_next_position(tx.txn(), note_id).await?;
    let limits = store.limits();
    if count >= i64::from(limits.max_per_note) {
        return Err(limits.too_many().into());
    }
    let row = note_images::ActiveModel {
        id: Set(image_id),
        tenant_id: Set(ctx.tenant_id().into_uuid()),
        note_id: Set(Some(note_id)),
        memory_entry_id: Set(None),
        image_key: Set(key.to_owned()),
        content_type: Set(header.format.content_type().to_owned()),
        byte_size: Set(byte_size),
        width: Set(header.width),
        height: Set(header.height),
        description: Set(String::new()),
        sort_order: Set(next_position),
        created_by: Set(ctx.user_id().map(UserId::into_uuid)),
        ..Default::default()
    }
    .insert(tx.txn())
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Removes one image's row; its stored object goes once the caller committed.
pub async fn remove(tx: &TenantTxn, image_id: NoteImageId) -> Result<Orphans, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    let row = find_image(tx, image_id).await?;
    note_images::Entity::delete_by_id(row.id)
        .exec(tx.txn())
        .await?;
    Ok(Orphans::new(vec![row.image_key]))
}

/// Puts a note's images in the given order, in one transaction. The list must name each of the
/// note's images exactly once.
pub async fn reorder(
    tx: &TenantTxn,
    note_id: NoteId,
    order: &[NoteImageId],
) -> Result<Vec<NoteImage>, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    let txn = tx.txn();
    let note = tx
        .find_for_update::<project_notes::Entity>(note_id.into_uuid())
        .await?;
    let current: HashSet<Uuid> = note_images::Entity::find()
        .select_only()
        .column(note_images::Column::Id)
        .filter(note_images::Column::NoteId.eq(note.id))
        .into_tuple::<Uuid>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let wanted: HashSet<Uuid> = order.iter().map(|id| id.into_uuid()).collect();
    if wanted.len() != order.len() || wanted != current {
        return Err(ApiError::invalid(
            "image_ids",
            "must list each of the note's images exactly once",
        )
        .into());
    }
    let ids: Vec<Uuid> = order.iter().map(|id| id.into_uuid()).collect();
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE note_images AS i SET sort_order = o.position - 1
           FROM unnest($1::uuid[]) WITH ORDINALITY AS o(id, position)
          WHERE i.id = o.id AND i.note_id = $2",
        [crate::sql::uuids(&ids), note.id.into()],
    ))
    .await?;
    images_of(txn, ImageOwner::Note, note.id).await
}

/// Sets (or clears) an image's caption.
pub async fn describe(
    tx: &TenantTxn,
    image_id: NoteImageId,
    caption: ImageCaption,
) -> Result<NoteImage, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    let mut row: note_images::ActiveModel = find_image(tx, image_id).await?.into();
    row.description = Set(caption.into());
    // Search sees the change once the team's indexing has run.
    crate::knowledge::queue_indexing(tx).await?;
    Ok(to_dto(row.update(tx.txn()).await?))
}

/// An image's stored object and what to serve it as.
#[derive(Debug, Clone)]
pub struct StoredImage {
    /// Id.
    pub id: NoteImageId,
    /// Object key.
    pub key: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub byte_size: i64,
}

impl StoredImage {
    /// A strong validator: an image's bytes never change (a new upload is a new image), so its id
    /// is enough.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.id)
    }
}

/// The image `image_id` of the context's tenant, for serving.
pub async fn stored(tx: &TenantTxn, image_id: NoteImageId) -> Result<StoredImage, DomainError> {
    let row = find_image(tx, image_id).await?;
    Ok(StoredImage {
        id: NoteImageId::from_uuid(row.id),
        key: row.image_key,
        content_type: row.content_type,
        byte_size: row.byte_size,
    })
}

/// The bytes of a stored image, as a stream. A row whose object is missing is logged as such and
/// answered `NotFound`: it is a fault to report, not a reason to fail the page.
pub async fn open(
    store: &ImageStore,
    image: &StoredImage,
) -> Result<impl Stream<Item = Result<Bytes, object_store::Error>> + use<>, DomainError> {
    match store
        .inner()
        .get(&ObjectPath::from(image.key.as_str()))
        .await
    {
        Ok(object) => Ok(object.into_stream()),
        Err(object_store::Error::NotFound { .. }) => {
            tracing::warn!(image_id = %image.id, key = %image.key, "image row without a stored object");
            Err(DomainError::NotFound)
        }
        Err(other) => Err(other.into()),
    }
}

/// What one sweep found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Objects listed.
    pub objects: usize,
    /// Objects without a row, older than the grace period, deleted.
    pub orphans_removed: usize,
    /// Rows whose object is missing (logged with their ids; the rows are left for a person to look at).
    pub missing_objects: usize,
}

/// Reconciles stored objects with image rows. Objects with no row that are older than `grace` are
/// deleted (younger ones may belong to an upload whose row is about to be written); rows with no
/// object are reported.
pub async fn sweep(
    db: &Db,
    store: &ImageStore,
    grace: std::time::Duration,
) -> Result<SweepReport, DomainError> {
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(grace).unwrap_or_else(|_| chrono::Duration::zero());
    // Objects by tenant, from their keys: tenants/{tenant}/...
    let mut objects: HashMap<Uuid, Vec<(String, bool)>> = HashMap::new();
    let mut report = SweepReport::default();
    let mut listing = store.inner().list(Some(&ObjectPath::from("tenants")));
    while let Some(meta) = listing.next().await {
        let meta = meta?;
        report.objects += 1;
        let key = meta.location.to_string();
        let Some(tenant) = key.split('/').nth(1).and_then(|t| Uuid::parse_str(t).ok()) else {
            tracing::warn!(%key, "object outside the key scheme; left alone");
            continue;
        };
        objects
            .entry(tenant)
            .or_default()
            .push((key, meta.last_modified < cutoff));
    }
    let mut tenants: HashSet<Uuid> = objects.keys().copied().collect();
    let with_rows = db
        .connection()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT cairn_image_tenants() AS tenant_id",
        ))
        .await?;
    for row in with_rows {
        tenants.insert(row.try_get("", "tenant_id")?);
    }
    for tenant in tenants {
        let txn = db
            .begin_with(Some(TenantId::from_uuid(tenant)), None)
            .await?;
        let rows: Vec<(Uuid, String)> = note_images::Entity::find()
            .select_only()
            .column(note_images::Column::Id)
            .column(note_images::Column::ImageKey)
            .into_tuple()
            .all(&txn)
            .await?;
        txn.commit().await?;
        let stored = objects.remove(&tenant).unwrap_or_default();
        let stored_keys: HashSet<&str> = stored.iter().map(|(key, _)| key.as_str()).collect();
        let row_keys: HashSet<&str> = rows.iter().map(|(_, key)| key.as_str()).collect();
        for (id, key) in &rows {
            if !stored_keys.contains(key.as_str()) {
                report.missing_objects += 1;
                tracing::warn!(image_id = %id, %key, "image row without a stored object");
            }
        }
        let orphans: Vec<String> = stored
            .iter()
            .filter(|(key, old_enough)| *old_enough && !row_keys.contains(key.as_str()))
            .map(|(key, _)| key.clone())
            .collect();
        report.orphans_removed += orphans.len();
        store.delete_after_commit(orphans).await;
    }
    Ok(report)
}

/// What images hang from: a note, or a memory entry.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ImageOwner {
    /// `note_images.note_id`.
    Note,
    /// `note_images.memory_entry_id`.
    MemoryEntry,
}

impl ImageOwner {
    fn column(self) -> note_images::Column {
        match self {
            Self::Note => note_images::Column::NoteId,
            Self::MemoryEntry => note_images::Column::MemoryEntryId,
        }
    }

    fn of(self, row: &note_images::Model) -> Option<Uuid> {
        match self {
            Self::Note => row.note_id,
            Self::MemoryEntry => row.memory_entry_id,
        }
    }
}

/// The images of the given notes or memory entries, each one's in order: one query however many.
pub(crate) async fn images_by_owner(
    txn: &DatabaseTransaction,
    owner: ImageOwner,
    owner_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<NoteImage>>, DomainError> {
    let rows = note_images::Entity::find()
        .filter(owner.column().is_in(owner_ids.iter().copied()))
        .order_by_asc(note_images::Column::SortOrder)
        .order_by_asc(note_images::Column::CreatedAt)
        .all(txn)
        .await?;
    let mut by_owner: HashMap<Uuid, Vec<NoteImage>> = HashMap::new();
    for row in rows {
        if let Some(id) = owner.of(&row) {
            by_owner.entry(id).or_default().push(to_dto(row));
        }
    }
    Ok(by_owner)
}

/// The images of one note or memory entry, in order.
pub(crate) async fn images_of(
    txn: &DatabaseTransaction,
    owner: ImageOwner,
    owner_id: Uuid,
) -> Result<Vec<NoteImage>, DomainError> {
    Ok(images_by_owner(txn, owner, &[owner_id])
        .await?
        .remove(&owner_id)
        .unwrap_or_default())
}

/// The object keys of every image under the given notes or memory entries' project, for deleting
/// them after the rows go.
pub(crate) async fn keys_where(
    txn: &DatabaseTransaction,
    condition: sea_orm::Condition,
) -> Result<Vec<String>, DomainError> {
    Ok(note_images::Entity::find()
        .select_only()
        .column(note_images::Column::ImageKey)
        .filter(condition)
        .into_tuple::<String>()
        .all(txn)
        .await?)
}

/// Images belonging to any note or memory entry of a project.
pub(crate) fn in_project(project_id: Uuid) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(Expr::cust_with_values(
            "note_images.note_id IN (SELECT id FROM project_notes WHERE project_id = $1)",
            [project_id],
        ))
        .add(Expr::cust_with_values(
            "note_images.memory_entry_id IN (SELECT id FROM memory_entries WHERE project_id = $1)",
            [project_id],
        ))
}

async fn count_and_next_position(
    txn: &DatabaseTransaction,
    note_id: Uuid,
) -> Result<(i64, i32), DomainError> {
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS images, coalesce(max(sort_order) + 1, 0) AS next_position
               FROM note_images WHERE note_id = $1",
            [note_id.into()],
        ))
        .await?
        .ok_or(DomainError::NotFound)?;
    Ok((
        row.try_get("", "images")?,
        row.try_get("", "next_position")?,
    ))
}

pub(crate) async fn find_note(
    tx: &TenantTxn,
    id: NoteId,
) -> Result<project_notes::Model, DomainError> {
    tx.find::<project_notes::Entity>(id.into_uuid()).await
}

async fn find_image(tx: &TenantTxn, id: NoteImageId) -> Result<note_images::Model, DomainError> {
    tx.find::<note_images::Entity>(id.into_uuid()).await
}

pub(crate) fn to_dto(row: note_images::Model) -> NoteImage {
    NoteImage {
        id: NoteImageId::from_uuid(row.id),
        content_type: row.content_type,
        byte_size: row.byte_size,
        width: row.width,
        height: row.height,
        description: row.description,
        sort_order: row.sort_order,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        bytes
    }

    #[test]
    fn formats_are_told_by_their_bytes() {
        assert_eq!(ImageFormat::sniff(&png(1, 1)), Some(ImageFormat::Png));
        assert_eq!(
            ImageFormat::sniff(b"GIF89a\x01\0\x01\0"),
            Some(ImageFormat::Gif)
        );
        assert_eq!(
            ImageFormat::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::Webp)
        );
        assert_eq!(
            ImageFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(ImageFormat::sniff(b"<!DOCTYPE html><script>"), None);
        assert_eq!(
            ImageFormat::sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\">"),
            None
        );
        assert_eq!(ImageFormat::sniff(b"RIFF\0\0\0\0WAVEfmt "), None);
    }

    #[test]
    fn the_size_comes_from_the_header_and_short_prefixes_ask_for_more() {
        let limits = ImageLimits::default();
        let image = png(640, 480);
        assert_eq!(read_header(&image[..8], false, &limits).unwrap(), None);
        let header = read_header(&image, false, &limits).unwrap().unwrap();
        assert_eq!(
            (header.format, header.width, header.height),
            (ImageFormat::Png, 640, 480)
        );
        assert!(read_header(b"<html><body>hello</body></html>", false, &limits).is_err());
        assert!(
            read_header(&image[..10], true, &limits).is_err(),
            "a truncated PNG is refused"
        );
    }

    #[test]
    fn sizes_over_the_limits_are_refused_from_the_header() {
        let limits = ImageLimits::default();
        let refused = |width, height| match read_header(&png(width, height), false, &limits) {
            Err(DomainError::Invalid { reason, .. }) => Some(reason),
            _ => None,
        };
        assert_eq!(
            refused(u32::MAX, u32::MAX).as_deref(),
            Some(
                "is 4294967295 × 4294967295 pixels; images may be at most 16384 pixels a side and \
                 50 megapixels"
            ),
            "past i32 is the size error, not \"not an image\""
        );
        assert!(refused(16_385, 1).is_some());
        assert!(refused(1, 16_385).is_some());
        assert!(refused(10_000, 5_001).is_some(), "over 50 megapixels");
        assert_eq!(refused(16_384, 3_051), None, "just under 50 megapixels");
        assert_eq!(refused(10_000, 5_000), None, "exactly 50 megapixels");
    }
}
