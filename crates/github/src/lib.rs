#![doc = include_str!("../README.md")]

pub mod archive;
use api::github::{BranchName, GithubRepo};
use base64::Engine;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// GitHub's public API root: the default of `github.api_url`.
pub const PUBLIC_API: &str = "https://api.github.com";

/// The page of `path` in `repo` at `commit` on the GitHub whose API is at `api_url`: GitHub's own
/// site for its public API, the server itself for an Enterprise Server's `/api/v3`.
pub fn file_url(api_url: &str, repo: &str, commit: &str, path: &str) -> String {
    let api = api_url.trim_end_matches('/');
    let site = if api == PUBLIC_API {
        "https://github.com"
    } else {
        api.strip_suffix("/api/v3").unwrap_or(api)
    };
    format!("{site}/{repo}/blob/{commit}/{}", path_encode(path))
}

/// What went wrong talking to GitHub, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitHubError {
    /// 401: the token is missing where one is needed, wrong, or expired.
    #[error("GitHub refused the token (401): set a valid token for this project")]
    Unauthorized,
    /// 403 that is not a rate limit: the token lacks access.
    #[error("the GitHub token lacks access to {0} (403)")]
    Forbidden(String),
    /// 404: the repository (or branch) does not exist, or the token cannot see it.
    #[error("{0} not found on GitHub (or the token cannot see it)")]
    NotFound(String),
    /// A primary or secondary rate limit; trying again makes sense from `until`.
    #[error("GitHub's rate limit is reached until {until}")]
    RateLimited {
        /// When GitHub lets requests through again.
        until: DateTime<Utc>,
    },
    /// 5xx answers or dropped connections, also after the retries.
    #[error("GitHub is unavailable: {0}")]
    Unavailable(String),
    /// An answer that is not what GitHub's API documents.
    #[error("unexpected answer from GitHub: {0}")]
    Unexpected(String),
}

/// A repository as a sync needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// The branch GitHub shows by default.
    pub default_branch: String,
    /// Whether a token is needed to read it.
    pub private: bool,
}

/// A branch in the picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchSummary {
    /// Its name.
    pub name: String,
    /// Its head commit.
    pub head_sha: String,
}

/// One page of branches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchPage {
    /// The branches on it.
    pub branches: Vec<BranchSummary>,
    /// Whether GitHub links a next page.
    pub has_next: bool,
}

/// A branch's head, asked for conditionally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// 304: the ETag still matches, nothing was pushed (no rate-limit point spent).
    Unchanged,
    /// The head as it is now.
    Current {
        /// The head commit.
        commit_sha: String,
        /// Its root tree.
        tree_sha: String,
        /// To send as `If-None-Match` next time.
        etag: Option<String>,
    },
}

/// A file in a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeFile {
    /// Path from the repository root.
    pub path: String,
    /// Its blob's SHA: equal SHAs, equal contents.
    pub blob_sha: String,
    /// Size in bytes.
    pub size: u64,
    /// Git file mode (`100644`, `100755`, `120000` for a symlink).
    pub mode: String,
}

/// The last rate-limit headers GitHub sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per window.
    pub limit: u64,
    /// Left in this window.
    pub remaining: u64,
    /// When the window resets.
    pub reset: DateTime<Utc>,
}

/// Attempts per request for 5xx answers and dropped connections.
const ATTEMPTS: u32 = 3;

/// A GitHub client for one job or request: it counts its requests and remembers the last rate
/// limit it was told.
pub struct GitHub {
    octo: Octocrab,
    /// `scheme://host[:port]` of the API: a redirect there keeps the token.
    api_origin: String,
    requests: AtomicU64,
    rate_limit: Mutex<Option<RateLimit>>,
    retry_pause: Duration,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub")
            .field("requests", &self.requests_used())
            .finish_non_exhaustive()
    }
}

/// A response read whole.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    message: String,
}

impl GitHub {
    /// A client of the API at `api_url` (GitHub's, or a GitHub Enterprise Server's `/api/v3`),
    /// with `token` if there is one: public repositories need none.
    pub fn new(api_url: &str, token: Option<&SecretString>) -> Result<Self, GitHubError> {
        let mut builder = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| GitHubError::Unexpected(format!("github.api_url {api_url:?}: {e}")))?
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(60)));
        if let Some(token) = token {
            builder = builder.personal_token(token.expose_secret().to_owned());
        }
        let octo = builder
            .build()
            .map_err(|e| GitHubError::Unexpected(format!("building the client: {e}")))?;
        Ok(Self {
            octo,
            api_origin: origin(api_url),
            requests: AtomicU64::new(0),
            rate_limit: Mutex::new(None),
            retry_pause: Duration::from_millis(500),
        })
    }

    /// Waits `pause` (doubling) between attempts after a 5xx or a dropped connection.
    pub fn with_retry_pause(self, pause: Duration) -> Self {
        Self {
            retry_pause: pause,
            ..self
        }
    }

    /// Requests sent so far (retries included; a 304 counts here, though not against the limit).
    pub fn requests_used(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The rate limit as GitHub last reported it.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        *self.rate_limit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The repository's default branch and visibility.
    pub async fn repository(&self, repo: &GithubRepo) -> Result<Repository, GitHubError> {
        #[derive(Deserialize)]
        struct Raw {
            default_branch: String,
            #[serde(default)]
            private: bool,
        }
        let reply = self
            .get(&format!("/repos/{}/{}", repo.owner(), repo.name()), None)
            .await?;
        let raw: Raw = self.expect_ok(reply, || format!("repository {repo}"))?;
        Ok(Repository {
            default_branch: raw.default_branch,
            private: raw.private,
        })
    }

    /// Page `page` (from 1) of the repository's branches, 100 per page.
    pub async fn branches(&self, repo: &GithubRepo, page: u32) -> Result<BranchPage, GitHubError> {
        #[derive(Deserialize)]
        struct Raw {
            name: String,
            commit: RawCommitRef,
        }
        let reply = self
            .get(
                &format!(
                    "/repos/{}/{}/branches?per_page=100&page={}",
                    repo.owner(),
                    repo.name(),
                    page.max(1)
                ),
                None,
            )
            .await?;
        let has_next = reply
            .headers
            .get_all(http::header::LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|link| link.split(',').any(|part| part.contains("rel=\"next\"")));
        let raw: Vec<Raw> = self.expect_ok(reply, || format!("repository {repo}"))?;
        Ok(BranchPage {
            branches: raw
                .into_iter()
                .map(|b| BranchSummary {
                    name: b.name,
                    head_sha: b.commit.sha,
                })
                .collect(),
            has_next,
        })
    }

    /// The branch's head commit and tree; with the ETag of an earlier answer, `Unchanged` when
    /// nothing was pushed since.
    pub async fn head(
        &self,
        repo: &GithubRepo,
        branch: &BranchName,
        etag: Option<&str>,
    ) -> Result<Head, GitHubError> {
        #[derive(Deserialize)]
        struct Raw {
            commit: RawCommit,
        }
        #[derive(Deserialize)]
        struct RawCommit {
            sha: String,
            commit: RawCommitBody,
        }
        #[derive(Deserialize)]
        struct RawCommitBody {
            tree: RawCommitRef,
        }
        let reply = self
            .get(
                &format!(
                    "/repos/{}/{}/branches/{}",
                    repo.owner(),
                    repo.name(),
                    path_encode(branch.as_str())
                ),
                etag,
            )
            .await?;
        if reply.status == StatusCode::NOT_MODIFIED {
            return Ok(Head::Unchanged);
        }
        let etag = reply
            .headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let raw: Raw = self.expect_ok(reply, || format!("branch {} of {repo}", branch.as_str()))?;
        Ok(Head::Current {
            commit_sha: raw.commit.sha,
            tree_sha: raw.commit.commit.tree.sha,
            etag,
        })
    }

    /// Every file of the tree `tree_sha`, with blob SHAs. GitHub truncates big recursive trees;
    /// then the sub-trees are walked one by one.
    pub async fn files(
        &self,
        repo: &GithubRepo,
        tree_sha: &str,
    ) -> Result<Vec<TreeFile>, GitHubError> {
        let tree = self.tree(repo, tree_sha, true).await?;
        if !tree.truncated {
            return Ok(collect_files(tree.tree, ""));
        }
        tracing::info!(%repo, "the recursive tree was truncated; walking sub-trees");
        let mut files = Vec::new();
        let mut pending = vec![(String::new(), tree_sha.to_owned())];
        while let Some((prefix, sha)) = pending.pop() {
            let tree = self.tree(repo, &sha, false).await?;
            for entry in tree.tree {
                let path = join(&prefix, &entry.path);
                match entry.kind.as_str() {
                    "tree" => pending.push((path, entry.sha)),
                    "blob" => files.push(TreeFile {
                        path,
                        blob_sha: entry.sha,
                        size: entry.size.unwrap_or(0),
                        mode: entry.mode,
                    }),
                    _ => {}
                }
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    async fn tree(
        &self,
        repo: &GithubRepo,
        sha: &str,
        recursive: bool,
    ) -> Result<RawTree, GitHubError> {
        let query = if recursive { "?recursive=1" } else { "" };
        let reply = self
            .get(
                &format!(
                    "/repos/{}/{}/git/trees/{}{query}",
                    repo.owner(),
                    repo.name(),
                    path_encode(sha)
                ),
                None,
            )
            .await?;
        self.expect_ok(reply, || format!("tree {sha} of {repo}"))
    }

    /// A blob's bytes.
    pub async fn blob(&self, repo: &GithubRepo, sha: &str) -> Result<Vec<u8>, GitHubError> {
        #[derive(Deserialize)]
        struct Raw {
            content: String,
            encoding: String,
        }
        let reply = self
            .get(
                &format!(
                    "/repos/{}/{}/git/blobs/{}",
                    repo.owner(),
                    repo.name(),
                    path_encode(sha)
                ),
                None,
            )
            .await?;
        let raw: Raw = self.expect_ok(reply, || format!("blob {sha} of {repo}"))?;
        match raw.encoding.as_str() {
            "base64" => {
                // GitHub wraps the base64 at 60 columns.
                let compact: String = raw.content.split_whitespace().collect();
                base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .map_err(|e| GitHubError::Unexpected(format!("blob {sha}: {e}")))
            }
            "utf-8" => Ok(raw.content.into_bytes()),
            other => Err(GitHubError::Unexpected(format!(
                "blob {sha} in encoding {other:?}"
            ))),
        }
    }

    /// Sends a GET, retrying 5xx answers and dropped connections; rate limits and other errors
    /// are returned to the method, which knows what was asked for.
    async fn get(&self, path: &str, etag: Option<&str>) -> Result<Reply, GitHubError> {
        let mut pause = self.retry_pause;
        let mut last_failure = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            let mut headers = HeaderMap::new();
            headers.insert(
                http::header::ACCEPT,
                HeaderValue::from_static("application/vnd.github+json"),
            );
            headers.insert(
                "x-github-api-version",
                HeaderValue::from_static("2022-11-28"),
            );
            if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
                headers.insert(http::header::IF_NONE_MATCH, etag);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let sent = self.octo._get_with_headers(path, Some(headers)).await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    last_failure = format!("the connection failed ({error})");
                    tracing::info!(path, attempt, %error, "GitHub request failed");
                    continue;
                }
            };
            let (parts, body) = response.into_parts();
            let body = match body.collect().await {
                Ok(body) => body.to_bytes().to_vec(),
                Err(error) => {
                    last_failure = format!("the answer broke off ({error})");
                    tracing::info!(path, attempt, %error, "GitHub answer broke off");
                    continue;
                }
            };
            self.note_rate_limit(&parts.headers);
            if parts.status.is_server_error() {
                last_failure = format!("it answered {}", parts.status);
                tracing::info!(path, attempt, status = %parts.status, "GitHub server error");
                continue;
            }
            let reply = Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            };
            if let Some(until) = rate_limited_until(&reply) {
                return Err(GitHubError::RateLimited { until });
            }
            return Ok(reply);
        }
        Err(GitHubError::Unavailable(format!(
            "{last_failure}, {ATTEMPTS} times"
        )))
    }

    fn note_rate_limit(&self, headers: &HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
        };
        if let (Some(limit), Some(remaining), Some(reset)) = (
            number("x-ratelimit-limit"),
            number("x-ratelimit-remaining"),
            number("x-ratelimit-reset"),
        ) && let Some(reset) = DateTime::from_timestamp(i64::try_from(reset).unwrap_or(0), 0)
        {
            *self.rate_limit.lock().unwrap_or_else(|e| e.into_inner()) = Some(RateLimit {
                limit,
                remaining,
                reset,
            });
        }
    }

    /// The body as `T` for a 200; otherwise the error the status means, about `what`.
    fn expect_ok<T: serde::de::DeserializeOwned>(
        &self,
        reply: Reply,
        what: impl Fn() -> String,
    ) -> Result<T, GitHubError> {
        if reply.status == StatusCode::OK {
            serde_json::from_slice(&reply.body)
                .map_err(|e| GitHubError::Unexpected(format!("{}: {e}", what())))
        } else {
            Err(error_of(&reply, what()))
        }
    }

    /// The archive of the repository at `commit_sha`: one request (and its redirect) for every
    /// file. GitHub answers with a redirect to its archive host; the redirect is followed here,
    /// keeping the token when it stays on the API's host (a GitHub Enterprise Server) and leaving
    /// it off elsewhere (GitHub's own archive links carry a token of their own).
    pub async fn tarball(
        &self,
        repo: &GithubRepo,
        commit_sha: &str,
    ) -> Result<Tarball, GitHubError> {
        let path = format!(
            "/repos/{}/{}/tarball/{}",
            repo.owner(),
            repo.name(),
            path_encode(commit_sha)
        );
        let mut target = path.clone();
        for _ in 0..3 {
            let mut headers = HeaderMap::new();
            headers.insert(
                "x-github-api-version",
                HeaderValue::from_static("2022-11-28"),
            );
            // The token is added by the client itself, and only for the API's own host and port
            // (GitHub's archive host gets none: its links carry a token of their own).
            self.requests.fetch_add(1, Ordering::Relaxed);
            let response = self
                .octo
                ._get_with_headers(target.as_str(), Some(headers))
                .await
                .map_err(|e| GitHubError::Unavailable(format!("the connection failed ({e})")))?;
            self.note_rate_limit(response.headers());
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| GitHubError::Unexpected("a redirect without Location".into()))?;
                target = self.redirect_target(location)?;
                continue;
            }
            if status == StatusCode::OK {
                return Ok(Tarball {
                    body: response.into_body(),
                });
            }
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            let reply = Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            };
            if let Some(until) = rate_limited_until(&reply) {
                return Err(GitHubError::RateLimited { until });
            }
            if reply.status.is_server_error() {
                return Err(GitHubError::Unavailable(format!(
                    "it answered {}",
                    reply.status
                )));
            }
            return Err(error_of(&reply, format!("the archive of {repo}")));
        }
        Err(GitHubError::Unexpected(
            "too many redirects for the archive".into(),
        ))
    }
}

impl GitHub {
    /// Where a redirect of the archive may lead. Anywhere, but the token goes only where the
    /// API is: the client adds it for the API's exact host and port (a parsed comparison, so
    /// `api.github.com.elsewhere.example` or another port is another host and gets none), and a
    /// redirect to the API's host under another scheme (https to http) is refused, since the
    /// client would send the token there in the clear.
    fn redirect_target(&self, location: &str) -> Result<String, GitHubError> {
        if location.starts_with('/') && !location.starts_with("//") {
            return Ok(location.to_owned());
        }
        let refused =
            |why: &str| GitHubError::Unexpected(format!("refused the archive's redirect: {why}"));
        let target = url::Url::parse(location).map_err(|_| refused("not an address"))?;
        let api = url::Url::parse(&self.api_origin).map_err(|_| refused("the API's address"))?;
        // The client matches the API's host and port as written, whatever the scheme: the API's
        // host under another scheme is refused on any port.
        let same_host = target
            .host_str()
            .zip(api.host_str())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b));
        if same_host && target.scheme() != api.scheme() {
            return Err(refused("it changes the API's scheme"));
        }
        if !matches!(target.scheme(), "https" | "http") {
            return Err(refused("not http or https"));
        }
        Ok(location.to_owned())
    }
}

/// The error a non-200 answer about `what` means.
fn error_of(reply: &Reply, what: String) -> GitHubError {
    match reply.status {
        StatusCode::UNAUTHORIZED => GitHubError::Unauthorized,
        StatusCode::FORBIDDEN => GitHubError::Forbidden(what),
        StatusCode::NOT_FOUND => GitHubError::NotFound(what),
        // An empty repository has no trees, blobs or archive.
        StatusCode::CONFLICT => GitHubError::NotFound(format!("{what} (empty)")),
        status => {
            let message = serde_json::from_slice::<Message>(&reply.body)
                .map(|m| m.message)
                .unwrap_or_default();
            GitHubError::Unexpected(format!("{what}: {status} {message}"))
        }
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> String {
    url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/")
}

/// A repository archive (gzip'd tar) as it arrives: read chunk by chunk, never held whole.
pub struct Tarball {
    body: http_body_util::combinators::BoxBody<bytes::Bytes, octocrab::Error>,
}

impl Tarball {
    /// The next chunk of the archive; `None` at its end. A connection cut mid-archive is an
    /// `Unavailable` error.
    pub async fn next_chunk(&mut self) -> Option<Result<bytes::Bytes, GitHubError>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        return Some(Ok(data));
                    }
                }
                Err(error) => {
                    return Some(Err(GitHubError::Unavailable(format!(
                        "the archive broke off ({error})"
                    ))));
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct RawCommitRef {
    sha: String,
}

#[derive(Deserialize)]
struct RawTree {
    tree: Vec<RawTreeEntry>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct RawTreeEntry {
    path: String,
    mode: String,
    #[serde(rename = "type")]
    kind: String,
    sha: String,
    size: Option<u64>,
}

fn collect_files(entries: Vec<RawTreeEntry>, prefix: &str) -> Vec<TreeFile> {
    entries
        .into_iter()
        .filter(|e| e.kind == "blob")
        .map(|e| TreeFile {
            path: join(prefix, &e.path),
            blob_sha: e.sha,
            size: e.size.unwrap_or(0),
            mode: e.mode,
        })
        .collect()
}

fn join(prefix: &str, path: &str) -> String {
    if prefix.is_empty() {
        path.to_owned()
    } else {
        format!("{prefix}/{path}")
    }
}

/// When a rate-limited answer (429, or 403 saying so) lets requests through again: `retry-after`
/// if sent, else the window's reset when nothing remains, else a minute (GitHub's advice for
/// secondary limits without either).
fn rate_limited_until(reply: &Reply) -> Option<DateTime<Utc>> {
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    let retry_after = header("retry-after");
    let remaining = header("x-ratelimit-remaining");
    let limited = match reply.status {
        StatusCode::TOO_MANY_REQUESTS => true,
        StatusCode::FORBIDDEN => {
            retry_after.is_some()
                || remaining == Some(0)
                || serde_json::from_slice::<Message>(&reply.body)
                    .is_ok_and(|m| m.message.to_lowercase().contains("rate limit"))
        }
        _ => false,
    };
    if !limited {
        return None;
    }
    let now = Utc::now();
    Some(
        match (retry_after, remaining, header("x-ratelimit-reset")) {
            (Some(secs), _, _) => now + chrono::Duration::seconds(secs.max(0)),
            (None, Some(0), Some(reset)) => DateTime::from_timestamp(reset, 0).unwrap_or(now),
            _ => now + chrono::Duration::seconds(60),
        },
    )
}

/// Percent-encodes what may not stand in a URL path (a branch may hold `#`, `%`, spaces...);
/// `/` stays, as GitHub expects it in branch names.
fn path_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_page_is_on_githubs_site_or_the_enterprise_servers() {
        assert_eq!(
            file_url(PUBLIC_API, "acme/widgets", "3cd4bef", "src/a b.rs"),
            "https://github.com/acme/widgets/blob/3cd4bef/src/a%20b.rs"
        );
        assert_eq!(
            file_url(
                "https://git.example.com/api/v3/",
                "acme/w",
                "3cd4bef",
                "README.md"
            ),
            "https://git.example.com/acme/w/blob/3cd4bef/README.md"
        );
    }

    #[test]
    fn branch_names_are_encoded_for_the_path_but_keep_their_slashes() {
        assert_eq!(path_encode("feature/x y#1"), "feature/x%20y%231");
        assert_eq!(path_encode("main"), "main");
    }

    fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    #[tokio::test]
    async fn an_archive_redirect_never_takes_the_token_off_the_apis_scheme() {
        let github = GitHub::new("https://api.github.com", None).unwrap();
        assert_eq!(
            github.redirect_target("/repos/a/b/tarball/x").unwrap(),
            "/repos/a/b/tarball/x"
        );
        // Another host (a lookalike is another host): followed; the client adds no token there.
        for elsewhere in [
            "https://codeload.github.com/a/b/legacy.tar.gz/x",
            "https://api.github.com.elsewhere.example/a",
            "https://api.github.com:8443/a",
        ] {
            assert!(github.redirect_target(elsewhere).is_ok(), "{elsewhere}");
        }
        // The API's own host in the clear, or no web address at all: refused.
        for refused in [
            "http://api.github.com/a",
            "http://API.github.com:443/a",
            "ftp://api.github.com/a",
            "not a url",
        ] {
            assert!(github.redirect_target(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn rate_limits_are_told_apart_from_lacking_access() {
        let now = Utc::now();
        let secondary = reply(
            403,
            &[("retry-after", "30")],
            r#"{"message":"You have exceeded a secondary rate limit."}"#,
        );
        let until = rate_limited_until(&secondary).unwrap();
        assert!((until - now).num_seconds() >= 29);
        let reset = (now.timestamp() + 600).to_string();
        let primary = reply(
            403,
            &[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", &reset),
            ],
            r#"{"message":"API rate limit exceeded"}"#,
        );
        assert_eq!(
            rate_limited_until(&primary).unwrap().timestamp(),
            now.timestamp() + 600
        );
        let too_many = reply(429, &[], "{}");
        assert!(rate_limited_until(&too_many).is_some());
        let forbidden = reply(
            403,
            &[("x-ratelimit-remaining", "4000")],
            r#"{"message":"Resource not accessible by personal access token"}"#,
        );
        assert_eq!(rate_limited_until(&forbidden), None);
    }
}
