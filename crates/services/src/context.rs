//! What every application service reaches: the database, storage, secrets, mail, the AI routers
//! and GitHub. Built once, by the server's `Application::build`; no web framework in it, so a job,
//! the CLI and a request share it alike.

use crate::ai::AiConfig;
use domain::accounts::PasswordHasher;
use domain::{Db, ImageStore};
use mail::Mailer;
use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;

/// Shared by every request, job and command.
#[derive(Clone)]
pub struct AppContext {
    /// The application role's pool (row-level security applies).
    pub db: Db,
    /// Where image bytes are stored, and the upload limits.
    pub images: ImageStore,
    /// Password hashing, bounded by its memory budget.
    pub passwords: PasswordHasher,
    /// The keys that seal GitHub tokens and webhook secrets.
    pub secrets: domain::secrets::SecretKeys,
    /// GitHub: where its API is and how syncs use it; makes clients.
    pub github: GitHubSettings,
    /// AI: the model catalog, timeouts, the instance's providers.
    pub ai: AiConfig,
    /// Outgoing e-mail (sends nothing when no SMTP server is configured).
    pub mailer: Mailer,
    /// The address people reach Cairn at (`https://cairn.example.com`, no trailing slash): links in
    /// e-mails start with it.
    pub public_url: String,
}

impl AppContext {
    /// An absolute link to `path` (which starts with `/`), for e-mails and for copying.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }
}

/// GitHub, for Project Sync.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GitHubSettings {
    /// The API root: GitHub's, or a GitHub Enterprise Server's (`https://github.example.com/api/v3`).
    pub api_url: String,
    /// A sync waits for a rate limit that resets within this many seconds, and fails (saying
    /// until when) for a longer one.
    pub max_rate_limit_wait_secs: u64,
    /// Files larger than this are skipped (counted as `too_large`).
    pub max_file_bytes: u64,
    /// A sync whose branch holds more files to import (under the scan path, after skips) fails,
    /// saying so, and changes nothing.
    pub max_files: usize,
    /// A sync that would store more new bytes than this (distinct new contents: a file copied to a
    /// thousand paths counts once) fails, saying so, and changes nothing.
    pub max_sync_bytes: u64,
    /// Blobs fetched at once.
    pub fetch_concurrency: usize,
    /// From this many files to fetch, a sync downloads the branch's archive (one request, streamed)
    /// instead of one request per blob.
    pub archive_threshold: usize,
    /// The first pause before retrying a 5xx answer or a dropped connection (doubling).
    pub retry_pause_ms: u64,
}

impl Default for GitHubSettings {
    fn default() -> Self {
        Self {
            api_url: github::PUBLIC_API.into(),
            max_rate_limit_wait_secs: 900,
            max_file_bytes: 1024 * 1024,
            max_files: 100_000,
            max_sync_bytes: 1024 * 1024 * 1024,
            fetch_concurrency: 8,
            archive_threshold: 200,
            retry_pause_ms: 500,
        }
    }
}

impl GitHubSettings {
    /// A client of the configured API, with `token` if there is one (public repositories need
    /// none), pausing as configured before retrying a failed request.
    pub fn client(
        &self,
        token: Option<&SecretString>,
    ) -> Result<github::GitHub, github::GitHubError> {
        Ok(github::GitHub::new(&self.api_url, token)?
            .with_retry_pause(Duration::from_millis(self.retry_pause_ms)))
    }
}
