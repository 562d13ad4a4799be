//! What server functions and server-rendered pages reach through the Leptos context.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use services::AppContext;

/// Shared by every request. Built once, by the server's `Application::build`.
#[derive(Clone)]
pub struct AppState {
    /// Where the browser bundle is and how it is named.
    pub leptos_options: LeptosOptions,
    /// The bundle's files as the build named them, and its bundles' islands.
    pub assets: std::sync::Arc<crate::assets::Assets>,
    /// What the application services reach: the database, storage, secrets, mail, AI, GitHub.
    pub ctx: AppContext,
    /// Mark the session cookie `Secure` (and name it `__Host-…`) even without
    /// `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
    /// Believe `X-Forwarded-For` / `X-Forwarded-Proto` / `X-Forwarded-Host` (only behind a proxy
    /// that sets them).
    pub trust_proxy_headers: bool,
    /// How many proxies in front of Cairn append to `X-Forwarded-For`: the client is the address
    /// that many entries from the right.
    pub trusted_proxies: usize,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
