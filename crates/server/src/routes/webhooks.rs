//! `POST /api/v1/webhooks/github`: GitHub's push webhook. The signature decides everything: a
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
use domain::webhooks::{self, Delivery};
use serde::Deserialize;

/// The part of a delivery's payload Cairn reads.
#[derive(Deserialize)]
struct Payload {
    repository: Repository,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
}

#[derive(Deserialize)]
struct Repository {
    name: String,
    owner: Owner,
}

#[derive(Deserialize)]
struct Owner {
    // Push payloads name the owner `name`; other events `login`.
    login: Option<String>,
    name: Option<String>,
}

/// Receives a delivery.
pub async fn github(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Counted per sending address before anything of it is read.
    let forwarded = state
        .trust_proxy_headers
        .then(|| {
            let header = headers.get("x-forwarded-for")?.to_str().ok()?;
            app::session_cookie::forwarded_client(header, state.trusted_proxies)
        })
        .flatten();
    let address = forwarded.unwrap_or_else(|| peer.ip().to_string());
    if let Err(error) = webhooks::admit(&state.db, &address).await {
        return ErrorResponse(error.into()).into_response();
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let signature = header("x-hub-signature-256");
    if signature.is_empty() {
        return ErrorResponse(ApiError::Unauthorized).into_response();
    }
    let Ok(payload) = serde_json::from_slice::<Payload>(&body) else {
        // Verified or not, an unreadable body is refused without saying more.
        return ErrorResponse(ApiError::invalid(
            "body",
            "must be a GitHub webhook payload in JSON",
        ))
        .into_response();
    };
    let owner = payload
        .repository
        .owner
        .login
        .or(payload.repository.owner.name)
        .unwrap_or_default();
    let event = header("x-github-event");
    let delivery_id = header("x-github-delivery");
    let delivery = Delivery {
        event: &event,
        owner: &owner,
        repo: &payload.repository.name,
        git_ref: payload.git_ref.as_deref(),
        body: &body,
        signature: &signature,
        delivery_id: Some(delivery_id.as_str()).filter(|id| !id.is_empty()),
    };
    match webhooks::receive(&state.db, &state.secrets, delivery).await {
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
