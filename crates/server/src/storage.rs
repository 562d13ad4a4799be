//! Builds the image store from the settings.

use crate::config::{Settings, StorageBackend};
use anyhow::Context;
use api::notes::ImageLimits;
use domain::ImageStore;

/// The configured image store.
pub fn image_store(settings: &Settings) -> anyhow::Result<ImageStore> {
    let storage = &settings.storage;
    anyhow::ensure!(
        storage.max_image_bytes > 0 && storage.max_images_per_note > 0,
        "storage.max_image_bytes and storage.max_images_per_note must be above 0"
    );
    // Widths and heights are stored as 32-bit signed integers.
    let side = 1..=i32::MAX.unsigned_abs();
    anyhow::ensure!(
        side.contains(&storage.max_image_width)
            && side.contains(&storage.max_image_height)
            && storage.max_image_pixels > 0,
        "storage.max_image_width and storage.max_image_height must be from 1 to {}, and \
         storage.max_image_pixels above 0",
        i32::MAX
    );
    let limits = ImageLimits {
        max_bytes: storage.max_image_bytes,
        max_per_note: storage.max_images_per_note,
        max_width: storage.max_image_width,
        max_height: storage.max_image_height,
        max_pixels: storage.max_image_pixels,
    };
    match storage.backend {
        StorageBackend::Local => {
            let dir = storage
                .local_dir
                .clone()
                .unwrap_or_else(|| settings.data_dir.join("objects"));
            let dir = std::path::absolute(&dir)
                .with_context(|| format!("resolving {}", dir.display()))?;
            tracing::info!(dir = %dir.display(), "images are stored on the local filesystem");
            ImageStore::local(&dir, limits)
                .with_context(|| format!("opening the image store at {}", dir.display()))
        }
        StorageBackend::S3 => s3_store(settings, limits),
    }
}

#[cfg(feature = "s3")]
fn s3_store(settings: &Settings, limits: ImageLimits) -> anyhow::Result<ImageStore> {
    use secrecy::ExposeSecret;
    let s3 = &settings.storage.s3;
    anyhow::ensure!(
        !s3.bucket.is_empty(),
        "storage.s3.bucket is required for backend = \"s3\""
    );
    let mut builder = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(&s3.bucket)
        .with_allow_http(s3.allow_http);
    if let Some(region) = &s3.region {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = &s3.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(key) = &s3.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &s3.secret_access_key {
        builder = builder.with_secret_access_key(secret.expose_secret());
    }
    let store = builder.build().context("configuring the S3 image store")?;
    tracing::info!(bucket = %s3.bucket, "images are stored in S3");
    Ok(ImageStore::new(
        std::sync::Arc::new(store),
        ImageStore::S3_PART_SIZE,
        limits,
    ))
}

#[cfg(not(feature = "s3"))]
fn s3_store(_settings: &Settings, _limits: ImageLimits) -> anyhow::Result<ImageStore> {
    anyhow::bail!(
        "storage.backend = \"s3\" needs a cairn built with the `s3` feature \
         (cargo build --release -p server --features s3); this one stores images locally only"
    )
}
