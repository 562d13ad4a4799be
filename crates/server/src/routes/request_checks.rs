//! Checks every request passes before any handler runs, and what every response carries.
//!
//! - **Only from Cairn's own pages.** A state-changing request (anything but GET, HEAD, OPTIONS)
//!   whose `Origin` names another site, or, without `Origin`, whose `Sec-Fetch-Site` says
//!   `cross-site` or `same-site`, is refused with 403 before it is read. Same-origin requests and
//!   those from the configured public URL pass; so do clients that send neither header (curl, the
//!   CLI), which no browser does on a cross-site request. Signed webhooks (`/api/v1/webhooks/...`)
//!   are exempt: their signature is their proof; so are requests with an API token
//!   (`Authorization: Bearer`), which never use the cookie.
//! - **Server functions take JSON only.** `POST /api/v1/<name>` with any other `Content-Type` is
//!   refused with 415: a form or `text/plain` post, which a page of any site can make without asking,
//!   never reaches a server function.
//! - **Secrets stay out of logs and referrers.** Paths holding a link's token are logged without it,
//!   and pages are sent with `Referrer-Policy: same-origin`.

use crate::error::ErrorResponse;
use api::ApiError;
use app::state::AppState;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;

/// Paths under which a request's signature, not its origin, is checked.
const WEBHOOKS: &str = "/api/v1/webhooks/";

/// Paths whose last segment is a link's secret token.
const TOKEN_PATHS: &[&str] = &["/invite/", "/reset-password/", "/verify-email/"];

/// How many requests one API token may make per minute on this instance: a script gone wrong, or
/// a leaked token, cannot take the instance for itself. Counted per token (by its hash, never the
/// token) in one-minute windows, in this process: instances behind a load balancer each allow as
/// many.
#[derive(Debug, Clone)]
pub struct TokenLimit {
    per_minute: u32,
    windows: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, u32)>>,
    >,
}

impl TokenLimit {
    /// `per_minute` requests per token and minute.
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            windows: std::sync::Arc::default(),
        }
    }

    /// Counts a request of `token`; the seconds to wait when its minute is used up.
    fn take(&self, token: &str) -> Result<(), u64> {
        use sha2::Digest;
        let key = format!("{:x}", sha2::Sha256::digest(token.as_bytes()));
        let now = std::time::Instant::now();
        let minute = std::time::Duration::from_secs(60);
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < minute);
        }
        let (start, count) = windows.entry(key).or_insert((now, 0));
        if now.duration_since(*start) >= minute {
            *start = now;
            *count = 0;
        }
        if *count >= self.per_minute {
            return Err((minute - now.duration_since(*start)).as_secs().max(1));
        }
        *count += 1;
        Ok(())
    }
}

/// The most a webhook delivery may carry: GitHub caps deliveries at 25 MB.
pub const MAX_WEBHOOK_BYTES: usize = 25 * 1024 * 1024;

/// The most a server function's request body may hold (`server.max_request_bytes`).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Refuses cross-site state-changing requests, server-function calls that are not JSON or are
/// larger than [`BodyLimit`] (413, before more than that is read), and API tokens past their rate.
pub async fn guard(
    State(state): State<AppState>,
    axum::Extension(token_limit): axum::Extension<TokenLimit>,
    axum::Extension(BodyLimit(max_body)): axum::Extension<BodyLimit>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = app::session_cookie::bearer_token(request.headers())
        && let Err(retry_after_secs) = token_limit.take(&token)
    {
        return ErrorResponse(ApiError::RateLimited { retry_after_secs }).into_response();
    }
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let path = request.uri().path();
    // A bearer token is its own proof (a page of another site cannot send one), and a request
    // that carries one never uses the cookie.
    let bearer = app::session_cookie::bearer_token(request.headers()).is_some();
    if changes_state && !path.starts_with(WEBHOOKS) {
        if let Err(error) = same_origin(&state, request.headers())
            .or_else(|error| if bearer { Ok(()) } else { Err(error) })
        {
            tracing::info!(path = %loggable_path(path), "cross-site request refused");
            return ErrorResponse(error).into_response();
        }
        if is_server_function(path) && !is_json(request.headers()) {
            let error = ApiError::invalid("content_type", "must be application/json");
            return (StatusCode::UNSUPPORTED_MEDIA_TYPE, Json(error)).into_response();
        }
    }
    let too_large = |max: usize| {
        let error = ApiError::invalid(
            "body",
            format!("is larger than the {max} bytes a request may carry"),
        );
        (StatusCode::PAYLOAD_TOO_LARGE, Json(error)).into_response()
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A webhook delivery declaring more than GitHub ever sends is refused before a byte of it is
    // read (the route's own limit would only stop it once 25 MiB had arrived).
    if path.starts_with(WEBHOOKS)
        && declared.is_some_and(|length| length > MAX_WEBHOOK_BYTES as u64)
    {
        return too_large(MAX_WEBHOOK_BYTES);
    }
    // A server function's arguments are small JSON: the body is read here, up to the limit, and
    // refused as soon as it is past it (a declared length at once), never held beyond it.
    let request = if is_server_function(request.uri().path()) {
        if declared.is_some_and(|length| length > max_body as u64) {
            return too_large(max_body);
        }
        let (parts, body) = request.into_parts();
        match axum::body::to_bytes(body, max_body).await {
            Ok(bytes) => Request::from_parts(parts, axum::body::Body::from(bytes)),
            Err(_) => return too_large(max_body),
        }
    } else {
        request
    };
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn cross_site() -> ApiError {
    ApiError::Forbidden {
        reason: "requests from other sites are refused".into(),
    }
}

/// Whether the request comes from Cairn's own pages (or from no browser at all).
fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| cross_site())?;
        if origin.eq_ignore_ascii_case(&state.ctx.public_url) {
            return Ok(());
        }
        // `null` (a sandboxed frame, a redirect across sites) has no authority and never matches.
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .ok_or_else(cross_site)?;
        return match own_host(state, headers) {
            Some(host) if authority.eq_ignore_ascii_case(host) => Ok(()),
            _ => Err(cross_site()),
        };
    }
    match headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None | Some("same-origin") | Some("none") => Ok(()),
        Some(_) => Err(cross_site()),
    }
}

/// The host (and port) the browser addressed: the proxy's `X-Forwarded-Host` when trusted, else
/// `Host`.
fn own_host<'h>(state: &AppState, headers: &'h HeaderMap) -> Option<&'h str> {
    let forwarded = state
        .trust_proxy_headers
        .then(|| headers.get("x-forwarded-host")?.to_str().ok())
        .flatten()
        .and_then(|v| v.split(',').next())
        .map(str::trim);
    forwarded.or_else(|| headers.get(header::HOST)?.to_str().ok())
}

/// `/api/v1/<name>`: one segment, where Leptos serves the server functions. Uploads
/// (`/api/v1/notes/{id}/images`) and webhooks have more.
fn is_server_function(path: &str) -> bool {
    path.strip_prefix("/api/v1/")
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// `path` with a link's token replaced, for logs.
pub fn loggable_path(path: &str) -> Cow<'_, str> {
    for prefix in TOKEN_PATHS {
        if let Some(rest) = path.strip_prefix(prefix)
            && !rest.is_empty()
        {
            return Cow::Owned(format!("{prefix}…"));
        }
    }
    Cow::Borrowed(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_functions_are_one_segment_under_the_api() {
        assert!(is_server_function("/api/v1/log_in"));
        assert!(!is_server_function("/api/v1/notes/0193/images"));
        assert!(!is_server_function("/api/v1/"));
        assert!(!is_server_function("/invite/abc"));
    }

    #[test]
    fn tokens_never_reach_the_log() {
        assert_eq!(loggable_path("/invite/s3cr3t"), "/invite/…");
        assert_eq!(loggable_path("/reset-password/s3cr3t"), "/reset-password/…");
        assert_eq!(loggable_path("/projects/1"), "/projects/1");
    }

    #[test]
    fn json_with_a_charset_is_json() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("Application/JSON; charset=utf-8"),
        );
        assert!(is_json(&headers));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!is_json(&headers));
    }
}
