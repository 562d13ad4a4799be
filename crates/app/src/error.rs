//! The one place errors become HTTP responses.

use api::ApiError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An `ApiError` on its way to the client: its status code and its JSON, nothing else.
pub struct ErrorResponse(pub ApiError);

impl IntoResponse for ErrorResponse {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        with_retry_after((status, Json(&self.0)).into_response(), &self.0)
    }
}

/// Adds `Retry-After` to an error response whose `ApiError` says when to come back (also for the
/// server functions' errors, whose bodies the framework writes).
pub fn with_retry_after(mut response: Response, error: &ApiError) -> Response {
    if let Some(secs) = error.retry_after_secs() {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, secs.into());
    }
    response
}

impl From<ApiError> for ErrorResponse {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}
