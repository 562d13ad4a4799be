//! How responses travel: the bundle's files compressed once at build time and kept by browsers for
//! a year (their names change with their content), pages and answers compressed as they are sent,
//! and pages revalidated by an `ETag` instead of being kept.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::path::Path;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::services::ServeDir;

/// Answers smaller than this are sent as they are: compressing them saves less than its headers.
const COMPRESS_ABOVE_BYTES: u16 = 1024;

/// The most a page may weigh for its `ETag` (pages are rendered whole before they are sent).
const MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;

/// Compresses what the server makes as it sends it (Brotli or gzip, as the browser accepts):
/// pages and answers above a kilobyte. Never event streams (each event must leave when it
/// happens), images (compressed already), or what is already compressed (the bundle's files).
pub fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new().compress_when(
        SizeAbove::new(COMPRESS_ABOVE_BYTES)
            .and(NotForContentType::GRPC)
            .and(NotForContentType::IMAGES)
            .and(NotForContentType::SSE),
    )
}

/// The bundle's directory: each file sent Brotli- or gzip-compressed from its twin made at build
/// time when the browser accepts it, and kept for a year when its name carries its content's hash.
pub fn bundle_files(pkg_dir: &Path) -> axum::Router {
    axum::Router::new()
        .fallback_service(
            ServeDir::new(pkg_dir)
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(axum::middleware::from_fn(bundle_cache_control))
}

async fn bundle_cache_control(request: Request, next: Next) -> Response {
    let content_named = is_content_named(request.uri().path());
    let mut response = next.run(request).await;
    let status = response.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        let policy = if content_named {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(policy));
        // The same name is sent as Brotli, gzip or as it is, by what the browser accepts.
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// A name as `scripts/finish-bundle.mjs` makes them: `<stem>-<16 hex digits>` then `.` or `_bg.`.
fn is_content_named(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    name.char_indices().any(|(at, c)| {
        let hash = name.get(at + 1..at + 17).unwrap_or_default();
        let rest = name.get(at + 17..).unwrap_or_default();
        c == '-'
            && hash.len() == 16
            && hash
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            && (rest.starts_with('.') || rest.starts_with("_bg."))
    })
}

/// Pages are private and change with every action: the browser keeps none (`no-cache`) but may
/// ask again with the `ETag` it got, and an unchanged page is answered 304 without its body.
pub async fn revalidate_pages(request: Request, next: Next) -> Response {
    let asked = request.method() == Method::GET || request.method() == Method::HEAD;
    let known = request.headers().get(IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    let is_page = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if !asked || !is_page || response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PAGE_BYTES).await else {
        return crate::error::ErrorResponse(api::ApiError::Internal).into_response();
    };
    let tag = page_tag(&bytes);
    let tag = HeaderValue::from_str(&tag).expect("hex digits are a header value");
    parts
        .headers
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let unchanged = known
        .as_ref()
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.split(',').any(|known| {
                known.trim() == "*" || known.trim() == tag.to_str().unwrap_or_default()
            })
        });
    parts.headers.insert(ETAG, tag);
    if unchanged {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(CONTENT_TYPE);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// A page's `ETag`: a hash of its text without the values of its `nonce` attributes, which the
/// renderer makes anew for every response (Cairn sends no Content-Security-Policy that uses them).
/// Weak: the same page is sent in several encodings.
fn page_tag(page: &[u8]) -> String {
    const NONCE: &[u8] = b" nonce=\"";
    let mut hash = Sha256::new();
    let mut rest = page;
    while let Some(at) = rest.windows(NONCE.len()).position(|w| w == NONCE) {
        let value = &rest[at + NONCE.len()..];
        let end = value.iter().position(|&b| b == b'"').unwrap_or(value.len());
        hash.update(&rest[..at + NONCE.len()]);
        rest = &value[end..];
    }
    hash.update(rest);
    format!("W/\"{:.32x}\"", hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::{is_content_named, page_tag};

    #[test]
    fn a_page_tag_ignores_nonces_and_nothing_else() {
        let page =
            |nonce: &str, text: &str| format!("<p>{text}</p><script nonce=\"{nonce}\">x</script>");
        assert_eq!(
            page_tag(page("a1", "hi").as_bytes()),
            page_tag(page("b2", "hi").as_bytes())
        );
        assert_ne!(
            page_tag(page("a1", "hi").as_bytes()),
            page_tag(page("a1", "ho").as_bytes())
        );
        assert_ne!(page_tag(b"<p>nonce</p>"), page_tag(b"<p>none</p>"));
        assert!(page_tag(b"").starts_with("W/\""));
    }

    #[test]
    fn only_names_carrying_a_content_hash_are_kept_for_a_year() {
        assert!(is_content_named("/cairn-0123456789abcdef.css"));
        assert!(is_content_named("/accounts-0123456789abcdef_bg.wasm"));
        assert!(is_content_named("/accounts-0123456789abcdef.js.br"));
        assert!(!is_content_named("/manifest.json"));
        assert!(!is_content_named("/cairn.css"));
        assert!(!is_content_named("/cairn-0123456789ABCDEF.css"));
        assert!(!is_content_named("/cairn-0123456789abcde.css"));
        assert!(!is_content_named("/cairn-0123456789abcdef0.css"));
    }
}
