//! The session cookie and the request facts server functions need: who is signed in, from where.

use crate::state::AppState;
use api::ApiError;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, header};
use domain::accounts::{Client, NewSession, SignedIn};
use domain::{TenantTxn, accounts};
use leptos::prelude::expect_context;
use leptos_axum::{ResponseOptions, extract};
use std::net::SocketAddr;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "cairn_session";

/// The application state.
pub fn state() -> AppState {
    expect_context::<AppState>()
}

async fn headers() -> Result<HeaderMap, ApiError> {
    extract::<HeaderMap>().await.map_err(|_| ApiError::Internal)
}

/// The session token in a request's cookies, if any.
pub fn token_from(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// The signed-in session, if the request carries a valid one.
pub async fn optional_session() -> Result<Option<(AppState, SignedIn)>, ApiError> {
    let state = state();
    let Some(token) = token_from(&headers().await?) else {
        return Ok(None);
    };
    match accounts::verify_session(&state.db, &token).await {
        Ok(signed_in) => Ok(Some((state, signed_in))),
        Err(domain::DomainError::Unauthorized) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// The signed-in session, or `Unauthorized`.
pub async fn require_session() -> Result<(AppState, SignedIn), ApiError> {
    optional_session().await?.ok_or(ApiError::Unauthorized)
}

/// The signed-in user's transaction in their active tenant: the session is verified inside it.
pub async fn require_tenant() -> Result<TenantTxn, ApiError> {
    let token = token_from(&headers().await?).ok_or(ApiError::Unauthorized)?;
    Ok(state().db.enter_session(&token).await?)
}

/// The raw session token of this request, if any.
pub async fn token() -> Result<Option<String>, ApiError> {
    Ok(token_from(&headers().await?))
}

/// Where the request comes from: the peer address, or the proxy's `X-Forwarded-For` when trusted.
pub async fn client(state: &AppState) -> Result<Client, ApiError> {
    let headers = headers().await?;
    let forwarded = state
        .trust_proxy_headers
        .then(|| {
            headers
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .split(',')
                .next()
                .map(str::trim)
                .map(str::to_owned)
        })
        .flatten();
    let peer = extract::<ConnectInfo<SocketAddr>>()
        .await
        .ok()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    Ok(Client {
        address: forwarded.or(peer).unwrap_or_else(|| "unknown".into()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    })
}

async fn secure(state: &AppState) -> bool {
    if state.secure_cookies {
        return true;
    }
    state.trust_proxy_headers
        && headers()
            .await
            .ok()
            .and_then(|h| h.get("x-forwarded-proto").map(|v| v.as_bytes() == b"https"))
            .unwrap_or(false)
}

/// Sets the session cookie.
pub async fn set(state: &AppState, session: &NewSession) {
    let max_age = (session.expires_at - chrono::Utc::now())
        .num_seconds()
        .max(0);
    write(state, &session.token, max_age).await;
}

/// Removes the session cookie from the browser.
pub async fn clear(state: &AppState) {
    write(state, "", 0).await;
}

/// The cookie's attributes, the same for setting and clearing: HttpOnly (no script reads it),
/// SameSite=Lax (not sent on cross-site posts), Secure over https.
async fn write(state: &AppState, value: &str, max_age: i64) {
    let secure = if secure(state).await { "; Secure" } else { "" };
    append(format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ));
}

fn append(cookie: String) {
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        expect_context::<ResponseOptions>().append_header(header::SET_COOKIE, value);
    }
}
