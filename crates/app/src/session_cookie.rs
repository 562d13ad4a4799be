//! The session cookie and the request facts server functions need: who is signed in, from where.

use crate::state::AppState;
use api::ApiError;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, header};
use domain::accounts::{Client, NewSession, SignedIn};
use domain::{Credential, TenantTxn, accounts};
use leptos::prelude::use_context;
use leptos_axum::{ResponseOptions, extract};
use std::net::SocketAddr;

/// Name of the session cookie over plain http.
pub const SESSION_COOKIE: &str = "cairn_session";
/// Name of the session cookie over https. The `__Host-` prefix makes browsers refuse it unless it
/// is `Secure`, has `Path=/` and no `Domain`: a sibling subdomain cannot plant or overwrite it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-cairn_session";

/// The application state. Missing only when a server function runs outside a request (a page's
/// resource started while the route list was being generated, say): an error, never a panic.
pub fn state() -> Result<AppState, ApiError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("a server function ran without the application state");
        ApiError::Internal
    })
}

async fn headers() -> Result<HeaderMap, ApiError> {
    extract::<HeaderMap>().await.map_err(|_| ApiError::Internal)
}

/// The API token of a request sent with `Authorization: Bearer …`, if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|token| !token.is_empty())
}

/// How the request proves who sends it: its bearer token if it has one (its cookie is then
/// ignored: a bearer request never carries the cookie's authority), else its session cookie.
fn credential_from(state: &AppState, headers: &HeaderMap) -> Option<Credential> {
    match bearer_token(headers) {
        Some(token) => Some(Credential::ApiToken(token)),
        None => token_from(state, headers).map(Credential::Session),
    }
}

/// The session token in a request's cookies, if any. Over https only the `__Host-` cookie counts.
/// A request with an `Authorization` header has none: its bearer token speaks for it alone.
pub fn token_from(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if headers.contains_key(header::AUTHORIZATION) {
        return None;
    }
    let name = cookie_name(is_secure(state, headers));
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.to_owned())
}

fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// Whether the browser reached Cairn over https: always when configured so, else as a trusted
/// proxy says.
pub fn is_secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.secure_cookies
        || (state.trust_proxy_headers
            && headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https")))
}

/// The signed-in session, if the request carries a valid one.
pub async fn optional_session() -> Result<Option<(AppState, SignedIn)>, ApiError> {
    let state = state()?;
    let Some(token) = token_from(&state, &headers().await?) else {
        return Ok(None);
    };
    match accounts::verify_session(&state.ctx.db, &token).await {
        Ok(signed_in) => Ok(Some((state, signed_in))),
        Err(domain::DomainError::Unauthorized) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// The signed-in session, or `Unauthorized`.
pub async fn require_session() -> Result<(AppState, SignedIn), ApiError> {
    optional_session().await?.ok_or(ApiError::Unauthorized)
}

/// The caller's transaction in their team: a session's active team, or an API token's. The
/// credential is verified inside it.
pub async fn require_tenant() -> Result<TenantTxn, ApiError> {
    let state = state()?;
    Caller::from_headers(&state, &headers().await?)?
        .enter(&state)
        .await
}

/// Who sends a request: its credential (a bearer token, else the session cookie), not yet
/// checked. Server functions (through [`require_tenant`]) and HTTP routes (as an axum extractor)
/// learn who calls through it alone; [`Caller::enter`] checks the credential inside the
/// transaction it opens, and the context it yields carries the caller's `Principal` and role, which
/// every use case checks with `TenantCtx::require`.
#[derive(Debug, Clone)]
pub struct Caller(Credential);

impl Caller {
    /// The request's caller; `Unauthorized` without a credential.
    pub fn from_headers(state: &AppState, headers: &HeaderMap) -> Result<Self, ApiError> {
        credential_from(state, headers)
            .map(Self)
            .ok_or(ApiError::Unauthorized)
    }

    /// The caller's transaction in their team (see [`require_tenant`]).
    pub async fn enter(&self, state: &AppState) -> Result<TenantTxn, ApiError> {
        Ok(state.ctx.db.enter_with(&self.0).await?)
    }

    /// The credential, for work that opens its own transactions (an upload).
    pub fn credential(&self) -> &Credential {
        &self.0
    }
}

impl axum::extract::FromRequestParts<AppState> for Caller {
    type Rejection = crate::error::ErrorResponse;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Self::from_headers(state, &parts.headers).map_err(crate::error::ErrorResponse)
    }
}

/// The raw session token of this request, if any.
pub async fn token() -> Result<Option<String>, ApiError> {
    Ok(token_from(&state()?, &headers().await?))
}

/// Where the request comes from: the peer address, or, behind trusted proxies, the address the
/// outermost trusted proxy saw (see [`forwarded_client`]).
pub async fn client(state: &AppState) -> Result<Client, ApiError> {
    let headers = headers().await?;
    let forwarded = state
        .trust_proxy_headers
        .then(|| {
            let header = headers.get("x-forwarded-for")?.to_str().ok()?;
            forwarded_client(header, state.trusted_proxies)
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

/// The client in `X-Forwarded-For` behind `trusted_proxies` proxies. Each proxy appends the address
/// it received the request from, so the entries on the left are whatever the client claimed and
/// only the right ones are facts: the client is the entry `trusted_proxies` from the right (the
/// leftmost when there are fewer).
pub fn forwarded_client(header: &str, trusted_proxies: usize) -> Option<String> {
    let entries: Vec<&str> = header
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    let from_right = trusted_proxies.max(1);
    let index = entries.len().saturating_sub(from_right);
    entries.get(index).map(|entry| (*entry).to_owned())
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
/// SameSite=Lax (not sent on cross-site posts), Secure and `__Host-` prefixed over https.
async fn write(state: &AppState, value: &str, max_age: i64) {
    let secure = match headers().await {
        Ok(headers) => is_secure(state, &headers),
        Err(_) => state.secure_cookies,
    };
    let name = cookie_name(secure);
    let attribute = if secure { "; Secure" } else { "" };
    append(format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{attribute}"
    ));
}

fn append(cookie: String) {
    if let Ok(value) = HeaderValue::from_str(&cookie)
        && let Some(response) = use_context::<ResponseOptions>()
    {
        response.append_header(header::SET_COOKIE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::forwarded_client;

    #[test]
    fn the_client_is_counted_from_the_right_past_the_trusted_proxies() {
        // The client claimed 6.6.6.6; the one proxy saw 203.0.113.7.
        assert_eq!(
            forwarded_client("6.6.6.6, 203.0.113.7", 1).as_deref(),
            Some("203.0.113.7")
        );
        // Two proxies: the outer one saw the client, the inner one saw the outer proxy.
        assert_eq!(
            forwarded_client("6.6.6.6, 203.0.113.7, 10.0.0.2", 2).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            forwarded_client("203.0.113.7", 3).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(forwarded_client(" , ", 1), None);
    }
}
