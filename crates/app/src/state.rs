//! What server functions and server-rendered pages reach through the Leptos context.

use axum::extract::FromRef;
use domain::{Db, ImageStore};
use leptos::config::LeptosOptions;

/// Shared by every request. Built once, by the server's `Application::build`.
#[derive(Clone)]
pub struct AppState {
    /// Where the browser bundle is and how it is named.
    pub leptos_options: LeptosOptions,
    /// The application role's pool (row-level security applies).
    pub db: Db,
    /// Where image bytes are stored, and the upload limits.
    pub images: ImageStore,
    /// Mark the session cookie `Secure` even without `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
    /// Believe `X-Forwarded-For` / `X-Forwarded-Proto` (only behind a proxy that sets them).
    pub trust_proxy_headers: bool,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
