//! Where image bytes live: an `object_store` (the local filesystem by default, S3 in production),
//! under keys the server generates. The database row is the source of truth; an object is written
//! before its row and deleted after its row, so a crash can only leave an orphan object, which the
//! sweeper removes, never a row pointing at nothing.

use crate::DomainError;
use api::notes::ImageLimits;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;

/// The image store and the limits uploads are held to.
#[derive(Debug, Clone)]
pub struct ImageStore {
    store: Arc<dyn ObjectStore>,
    part_size: usize,
    limits: ImageLimits,
}

impl ImageStore {
    /// Part size for stores that take any part size (the local filesystem): small parts keep the
    /// memory an upload holds small.
    pub const LOCAL_PART_SIZE: usize = 256 * 1024;
    /// S3 refuses multipart parts under 5 MiB (except the last).
    pub const S3_PART_SIZE: usize = 5 * 1024 * 1024;

    /// Wraps an object store. `part_size` bounds how much of one upload is held in memory.
    pub fn new(store: Arc<dyn ObjectStore>, part_size: usize, limits: ImageLimits) -> Self {
        Self {
            store,
            part_size,
            limits,
        }
    }

    /// A store on the local filesystem under `dir` (created if missing). Deleting the last object of
    /// a directory removes the directory too, so a deleted note leaves no empty folders behind.
    pub fn local(dir: &std::path::Path, limits: ImageLimits) -> Result<Self, DomainError> {
        std::fs::create_dir_all(dir)
            .map_err(|error| DomainError::upstream(crate::Upstream::Storage, error))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)?
            .with_automatic_cleanup(true);
        Ok(Self::new(Arc::new(store), Self::LOCAL_PART_SIZE, limits))
    }

    /// The limits uploads are checked against.
    pub fn limits(&self) -> ImageLimits {
        self.limits
    }

    /// The object store itself (the sweeper lists it; tests arrange and inspect objects with it).
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub(crate) fn part_size(&self) -> usize {
        self.part_size
    }

    /// Deletes objects whose rows were deleted by a committed transaction. A failure is logged, not
    /// returned: the rows are gone, the user's action succeeded, and the sweeper removes the
    /// leftovers later. An object that is already gone is fine.
    pub(crate) async fn delete_after_commit(&self, keys: Vec<String>) {
        for key in keys {
            match self.store.delete(&ObjectPath::from(key.as_str())).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => {
                    tracing::warn!(%key, %error, "deleting an image object; the sweeper will retry")
                }
            }
        }
    }
}

/// Stored objects whose rows a transaction deleted. Their deletion waits for the commit: an object
/// deleted before a transaction that then rolls back would leave a row without its bytes. Should a
/// process die between the commit and the deletion, the storage sweep removes them.
#[derive(Debug, Default)]
#[must_use = "the objects are deleted only by `delete_from`, after the commit"]
pub struct Orphans(Vec<String>);

impl Orphans {
    pub(crate) fn new(keys: Vec<String>) -> Self {
        Self(keys)
    }

    /// How many objects.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Deletes the objects; call it once the transaction that deleted their rows committed.
    pub async fn delete_from(self, store: &ImageStore) {
        store.delete_after_commit(self.0).await;
    }
}
