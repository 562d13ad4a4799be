//! `POST /api/v1/webhooks/github/{project_id}` (and the shared `POST /api/v1/webhooks/github` of
//! hooks made before each project had its own address): GitHub's push webhook. At a project's
//! address its secret checks the signature over the raw body before any of it is parsed; at the
//! shared one the payload names the repository first. The signature decides everything: a
//! delivery no project's secret verifies is 401, whatever else is wrong with it. A verified push
//! to a project's branch starts (or joins) a sync: 202 with the syncs; anything else verified
//! (another branch, a `ping`) is 200 and ignored. Exempt from the same-origin check, as GitHub is
//! another site; its signature stands in for a session.

use crate::error::ErrorResponse;
use api::ApiError;
use app::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::webhooks::{self, Delivery, ProjectDelivery};

/// Receives a delivery.
pub async fn github(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Counted per sending address before anything of it is read.
    if let Err(error) = webhooks::admit(&state.ctx.db, &sender(&state, &headers, peer)).await {
        return ErrorResponse(error.into()).into_response();
    }
    let header = |name: &str| header_text(&headers, name);
    let signature = header("x-hub-signature-256");
    if signature.is_empty() {
        return ErrorResponse(ApiError::Unauthorized).into_response();
    }
    let Some((owner, repo, git_ref)) = webhooks::read_payload(&body) else {
        // Verified or not, an unreadable body is refused without saying more.
        return ErrorResponse(ApiError::invalid(
            "body",
            "must be a GitHub webhook payload in JSON",
        ))
        .into_response();
    };
    let event = header("x-github-event");
    let delivery_id = header("x-github-delivery");
    let delivery = Delivery {
        event: &event,
        owner: &owner,
        repo: &repo,
        git_ref: git_ref.as_deref(),
        body: &body,
        signature: &signature,
        delivery_id: Some(delivery_id.as_str()).filter(|id| !id.is_empty()),
    };
    answer(webhooks::receive(&state.ctx.db, &state.ctx.secrets, delivery).await)
}

/// Receives a delivery at a project's own address. The headers, the address and the project's
/// secret are checked before the body is read (a malformed signature, or an address that is no
/// project's, is refused on the head alone); the signature is checked over the raw body before any
/// of it is parsed.
pub async fn github_for_project(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    axum::extract::Path(project): axum::extract::Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if let Err(error) = webhooks::admit(&state.ctx.db, &sender(&state, &headers, peer)).await {
        return ErrorResponse(error.into()).into_response();
    }
    let header = |name: &str| header_text(&headers, name);
    let signature = header("x-hub-signature-256");
    let (true, Ok(project)) = (
        webhooks::signature_well_formed(&signature),
        api::ids::ProjectId::parse(&project),
    ) else {
        return ErrorResponse(ApiError::Unauthorized).into_response();
    };
    let target = match webhooks::project_target(&state.ctx.db, &state.ctx.secrets, project).await {
        Ok(target) => target,
        Err(error) => return ErrorResponse(error.into()).into_response(),
    };
    let Ok(body) =
        axum::body::to_bytes(body, crate::routes::request_checks::MAX_WEBHOOK_BYTES).await
    else {
        let error = ApiError::invalid(
            "body",
            format!(
                "is larger than the {} bytes a delivery may carry",
                crate::routes::request_checks::MAX_WEBHOOK_BYTES
            ),
        );
        return (StatusCode::PAYLOAD_TOO_LARGE, Json(error)).into_response();
    };
    let event = header("x-github-event");
    let delivery_id = header("x-github-delivery");
    let delivery = ProjectDelivery {
        event: &event,
        body: &body,
        signature: &signature,
        delivery_id: Some(delivery_id.as_str()).filter(|id| !id.is_empty()),
    };
    answer(webhooks::receive_for_project(&state.ctx.db, target, delivery).await)
}

/// A header's text; empty when absent or not text.
fn header_text(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The sending address, counted for the per-address limit: behind a trusted proxy, the client it
/// names.
fn sender(state: &AppState, headers: &HeaderMap, peer: std::net::SocketAddr) -> String {
    state
        .trust_proxy_headers
        .then(|| {
            let header = headers.get("x-forwarded-for")?.to_str().ok()?;
            app::session_cookie::forwarded_client(header, state.trusted_proxies)
        })
        .flatten()
        .unwrap_or_else(|| peer.ip().to_string())
}

fn answer(received: Result<webhooks::Received, domain::DomainError>) -> Response {
    match received {
        Ok(received) if received.syncs.is_empty() => (
            StatusCode::OK,
            Json(serde_json::json!({"syncs": [], "ignored": received.ignored, "replayed": received.replayed})),
        )
            .into_response(),
        Ok(received) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"syncs": received.syncs, "ignored": received.ignored})),
        )
            .into_response(),
        Err(error) => ErrorResponse(error.into()).into_response(),
    }
}
