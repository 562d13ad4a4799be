//! Image bytes over HTTP: the streaming upload and the authenticated, tenant-checked download.
//! Everything else about images (order, captions, removal) is a server function.

use crate::error::ErrorResponse;
use api::ApiError;
use api::ids::{NoteId, NoteImageId};
use app::session_cookie::Caller;
use app::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::images;
use futures_util::StreamExt;
use std::time::Duration;

/// Images never change (a new upload is a new id), so the browser may keep them for a year; `private`
/// keeps shared caches from storing what only a tenant's members may see.
const CACHE_CONTROL: &str = "private, max-age=31536000, immutable";

/// `POST /api/v1/notes/{note_id}/images`: the body is the file itself, streamed to storage. Answers
/// 201 with the new `NoteImage`, or the `ApiError` (422 naming `file` for bad content or size).
pub async fn upload(
    State(state): State<AppState>,
    Path(note_id): Path<String>,
    caller: Result<Caller, ErrorResponse>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut stream = body.into_data_stream();
    let limits = state.ctx.images.limits();
    let result = async {
        let note_id = NoteId::parse(&note_id).map_err(|_| ApiError::NotFound)?;
        let caller = caller.map_err(|refused| refused.0)?;
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limits.max_bytes) {
            return Err(limits.too_large());
        }
        images::add(
            &state.ctx.db,
            &state.ctx.images,
            caller.credential(),
            note_id,
            &mut stream,
        )
        .await
        .map_err(ApiError::from)
    }
    .await;
    match result {
        Ok(image) => (StatusCode::CREATED, Json(image)).into_response(),
        Err(error) => {
            // Read (and drop) the rest of a refused body, within bounds, so the client is not cut
            // off mid-send and sees the answer instead of a reset connection.
            let budget = limits.max_bytes.saturating_mul(2).saturating_add(1 << 20);
            let drain = async {
                let mut drained = 0u64;
                while let Some(Ok(chunk)) = stream.next().await {
                    drained += chunk.len() as u64;
                    if drained > budget {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
            ErrorResponse(error).into_response()
        }
    }
}

/// `GET /api/v1/images/{image_id}`: the image, for members of its tenant only (another tenant's id
/// is 404, like a missing one). `If-None-Match` with the image's ETag answers 304 without touching
/// storage.
pub async fn download(
    State(state): State<AppState>,
    Path(image_id): Path<String>,
    caller: Result<Caller, ErrorResponse>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let image_id = NoteImageId::parse(&image_id).map_err(|_| ApiError::NotFound)?;
        let tx = caller.map_err(|refused| refused.0)?.enter(&state).await?;
        let image = images::stored(&tx, image_id).await?;
        tx.end_read();
        let etag = image.etag();
        let fresh = headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|tag| tag.trim() == etag || tag.trim() == "*");
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let bytes = images::open(&state.ctx.images, &image).await?;
            let mut response = Body::from_stream(bytes).into_response();
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&image.content_type) {
                headers.insert(header::CONTENT_TYPE, value);
            }
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(image.byte_size));
            response
        };
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, value);
        }
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        );
        // The bytes were checked to be an image; make sure no browser treats them as anything else.
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; sandbox"),
        );
        Ok::<_, ApiError>(response)
    }
    .await;
    result.unwrap_or_else(|error| ErrorResponse(error).into_response())
}
