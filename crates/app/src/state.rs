//! What server functions and server-rendered pages reach through the Leptos context.

use axum::extract::FromRef;
use domain::accounts::PasswordHasher;
use domain::{Db, ImageStore};
use leptos::config::LeptosOptions;
use mail::Mailer;

/// Shared by every request. Built once, by the server's `Application::build`.
#[derive(Clone)]
pub struct AppState {
    /// Where the browser bundle is and how it is named.
    pub leptos_options: LeptosOptions,
    /// The application role's pool (row-level security applies).
    pub db: Db,
    /// Where image bytes are stored, and the upload limits.
    pub images: ImageStore,
    /// Password hashing, bounded by its memory budget.
    pub passwords: PasswordHasher,
    /// The keys that seal GitHub tokens and webhook secrets.
    pub secrets: domain::secrets::SecretKeys,
    /// GitHub's API root (`github.api_url`), for the branch picker.
    pub github_api_url: String,
    /// AI: the model catalog, timeouts, the instance's providers.
    pub ai: crate::ai::AiConfig,
    /// Outgoing e-mail (sends nothing when no SMTP server is configured).
    pub mailer: Mailer,
    /// The address people reach Cairn at (`https://cairn.example.com`, no trailing slash): links in
    /// e-mails start with it, and requests from its origin pass the same-origin check.
    pub public_url: String,
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

impl AppState {
    /// An absolute link to `path` (which starts with `/`), for e-mails and for copying.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
