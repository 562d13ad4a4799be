//! A local GitHub: the REST endpoints a sync uses, answered from real git repositories that tests
//! build with the git CLI (true commit, tree and blob SHAs), in GitHub's JSON shapes and with its
//! headers (rate limits, ETag and 304, Link pagination). Faults can be queued: each applies to the
//! next request.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::path::{Path as FsPath, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

/// A fault the next request gets instead of its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// A server error with GitHub's error body.
    ServerError(u16),
    /// 429 with `retry-after`.
    TooManyRequests {
        /// Seconds.
        retry_after: u64,
    },
    /// 403 secondary rate limit with `retry-after`.
    SecondaryLimit {
        /// Seconds.
        retry_after: u64,
    },
    /// 403 primary limit: nothing remains until the reset.
    PrimaryLimit {
        /// Seconds until the reset.
        reset_in: u64,
    },
    /// 401 Bad credentials.
    Unauthorized,
    /// The answer starts, then the connection is cut.
    DropConnection,
}

/// An hourly allowance: `used` of `limit` until `reset` (Unix seconds).
#[derive(Debug, Clone, Copy)]
struct Allowance {
    limit: i64,
    used: i64,
    reset: i64,
}

#[derive(Default)]
struct Shared {
    repos: Mutex<HashMap<String, PathBuf>>,
    faults: Mutex<VecDeque<Fault>>,
    log: Mutex<Vec<String>>,
    truncate_trees: AtomicBool,
    /// Archives stop after their first bytes, the connection cut.
    cut_archives: AtomicBool,
    /// Milliseconds each blob answer takes (a slow GitHub, to watch a sync's progress).
    blob_delay_ms: std::sync::atomic::AtomicU64,
    remaining: AtomicI64,
    /// Which token a request must carry, if any.
    token: Mutex<Option<String>>,
    /// Where archive redirects point instead of this server (`http://host:port`).
    archive_host: Mutex<Option<String>>,
    /// GitHub's hourly allowance for requests without a token, when one is set.
    unauthenticated: Mutex<Option<Allowance>>,
}

/// The running server.
pub struct GitHubDouble {
    server: crate::LocalServer,
    shared: Arc<Shared>,
}

impl GitHubDouble {
    /// Starts it on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        Self::start_on(0).await
    }

    /// Starts it on `port` of 127.0.0.1 (0: a free one).
    pub async fn start_on(port: u16) -> Self {
        let shared = Arc::new(Shared {
            remaining: AtomicI64::new(5000),
            ..Shared::default()
        });
        let router = Router::new()
            .route("/repos/{owner}/{repo}", get(repository))
            .route("/repos/{owner}/{repo}/branches", get(branches))
            .route("/repos/{owner}/{repo}/branches/{*branch}", get(branch))
            .route("/repos/{owner}/{repo}/git/trees/{sha}", get(tree))
            .route("/repos/{owner}/{repo}/git/blobs/{sha}", get(blob))
            .route("/repos/{owner}/{repo}/tarball/{*git_ref}", get(tarball))
            .route(
                "/_codeload/{owner}/{repo}/legacy.tar.gz/{sha}",
                get(codeload),
            )
            .fallback(|| async { github_error(StatusCode::NOT_FOUND, "Not Found") })
            .layer(axum::middleware::from_fn_with_state(
                shared.clone(),
                faults_and_headers,
            ))
            .with_state(shared.clone());
        Self {
            server: crate::LocalServer::start(router, port, "the GitHub double").await,
            shared,
        }
    }

    /// The API root to configure (`github.api_url`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.server.address)
    }

    /// Serves the git repository at `git_dir` as `owner/name`.
    pub fn serve(&self, owner_and_name: &str, git_dir: &FsPath) {
        lock(&self.shared.repos).insert(owner_and_name.to_owned(), git_dir.to_owned());
    }

    /// Requires `Authorization: Bearer <token>` from now on (401 otherwise).
    pub fn require_token(&self, token: &str) {
        *lock(&self.shared.token) = Some(token.to_owned());
    }

    /// Redirects archive requests to `base` (`http://host:port`) instead of this server.
    pub fn redirect_archives_to(&self, base: &str) {
        *lock(&self.shared.archive_host) = Some(base.to_owned());
    }

    /// Queues a fault for the next request.
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).push_back(fault);
    }

    /// Recursive trees answer truncated (half the entries, `truncated: true`) from now on.
    pub fn truncate_trees(&self, truncate: bool) {
        self.shared.truncate_trees.store(truncate, Ordering::SeqCst);
    }

    /// Archives are cut after their first bytes from now on.
    pub fn cut_archives(&self, cut: bool) {
        self.shared.cut_archives.store(cut, Ordering::SeqCst);
    }

    /// Each blob answer takes `delay` from now on.
    pub fn slow_blobs(&self, delay: std::time::Duration) {
        self.shared.blob_delay_ms.store(
            u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// From now on requests without a token get `limit` an hour, as GitHub gives 60 per client
    /// address: past it, its 403 "API rate limit exceeded" until the window resets, an hour from
    /// now (calling this again starts a new window).
    pub fn limit_unauthenticated(&self, limit: i64) {
        *lock(&self.shared.unauthenticated) = Some(Allowance {
            limit,
            used: 0,
            reset: chrono::Utc::now().timestamp() + 3600,
        });
    }

    /// Every request so far, as `"<status> <path and query>"`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.log).clone()
    }

    /// Forgets the requests so far.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// GitHub's error body.
fn github_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": status.as_u16().to_string(),
        })),
    )
        .into_response()
}

async fn faults_and_headers(
    State(shared): State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let fault = lock(&shared.faults).pop_front();
    let authorized = match lock(&shared.token).as_deref() {
        None => true,
        Some(token) => {
            request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                == Some(&format!("Bearer {token}"))
        }
    };
    let now = chrono::Utc::now().timestamp();
    // Without a token, GitHub's small hourly allowance, when the test set one.
    let tokenless = !request.headers().contains_key("authorization");
    let allowance = if tokenless {
        *lock(&shared.unauthenticated)
    } else {
        None
    };
    let fault = match allowance {
        Some(a) if fault.is_none() && a.used >= a.limit => Some(Fault::PrimaryLimit {
            reset_in: u64::try_from(a.reset - now).unwrap_or(0),
        }),
        _ => fault,
    };
    let mut response = match fault {
        Some(Fault::ServerError(status)) => github_error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            "Server Error",
        ),
        Some(Fault::TooManyRequests { retry_after }) => {
            let mut r = github_error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after));
            r
        }
        Some(Fault::SecondaryLimit { retry_after }) => {
            let mut r = github_error(
                StatusCode::FORBIDDEN,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            );
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after));
            r
        }
        Some(Fault::PrimaryLimit { reset_in }) => {
            let mut r = github_error(StatusCode::FORBIDDEN, "API rate limit exceeded for user.");
            let headers = r.headers_mut();
            headers.insert("x-ratelimit-remaining", HeaderValue::from(0));
            headers.insert(
                "x-ratelimit-reset",
                HeaderValue::from(now + i64::try_from(reset_in).unwrap_or(0)),
            );
            r
        }
        Some(Fault::Unauthorized) => github_error(StatusCode::UNAUTHORIZED, "Bad credentials"),
        Some(Fault::DropConnection) => {
            let broken = futures_util::stream::iter(vec![
                Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{\"sha\": \"")),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "cut",
                )),
            ]);
            Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "application/json; charset=utf-8")
                .header("content-length", "4096")
                .body(Body::from_stream(broken))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        None if !authorized => github_error(StatusCode::UNAUTHORIZED, "Bad credentials"),
        None => next.run(request).await,
    };
    let status = response.status();
    lock(&shared.log).push(format!("{} {path}", status.as_u16()));
    let headers = response.headers_mut();
    // A 304 costs no point, as on GitHub.
    let remaining = if status == StatusCode::NOT_MODIFIED {
        shared.remaining.load(Ordering::SeqCst)
    } else {
        shared.remaining.fetch_sub(1, Ordering::SeqCst) - 1
    };
    if let Some(mut a) = allowance {
        // A 304 costs no point, as on GitHub; neither does the refusal itself.
        if status != StatusCode::NOT_MODIFIED && a.used < a.limit {
            a.used += 1;
            if let Some(kept) = lock(&shared.unauthenticated).as_mut() {
                kept.used = a.used;
            }
        }
        headers.insert("x-ratelimit-limit", HeaderValue::from(a.limit));
        headers.insert(
            "x-ratelimit-remaining",
            HeaderValue::from((a.limit - a.used).max(0)),
        );
        headers.insert("x-ratelimit-reset", HeaderValue::from(a.reset));
    } else {
        headers.insert("x-ratelimit-limit", HeaderValue::from(5000));
        if !headers.contains_key("x-ratelimit-remaining") {
            headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining.max(0)));
            headers.insert("x-ratelimit-reset", HeaderValue::from(now + 3600));
        }
    }
    headers.insert("x-ratelimit-resource", HeaderValue::from_static("core"));
    headers.insert(
        "x-github-api-version-selected",
        HeaderValue::from_static("2022-11-28"),
    );
    response
}

/// Runs git in `dir`; `None` when it fails (an unknown ref, an empty repository).
fn git(dir: &FsPath, args: &[&str]) -> Option<Vec<u8>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    output.status.success().then_some(output.stdout)
}

fn git_text(dir: &FsPath, args: &[&str]) -> Option<String> {
    git(dir, args).map(|out| String::from_utf8_lossy(&out).trim().to_owned())
}

fn repo_dir(shared: &Shared, owner: &str, repo: &str) -> Option<PathBuf> {
    lock(&shared.repos).get(&format!("{owner}/{repo}")).cloned()
}

async fn repository(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
) -> Response {
    let Some(dir) = repo_dir(&shared, &owner, &repo) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let default_branch =
        git_text(&dir, &["symbolic-ref", "--short", "HEAD"]).unwrap_or_else(|| "main".into());
    axum::Json(json!({
        "id": 1,
        "name": repo,
        "full_name": format!("{owner}/{repo}"),
        "private": false,
        "default_branch": default_branch,
        "size": 0,
    }))
    .into_response()
}

#[derive(serde::Deserialize)]
struct PageQuery {
    per_page: Option<usize>,
    page: Option<usize>,
}

async fn branches(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> Response {
    let Some(dir) = repo_dir(&shared, &owner, &repo) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let listing = git_text(
        &dir,
        &[
            "for-each-ref",
            "--format=%(refname:short) %(objectname)",
            "refs/heads",
        ],
    )
    .unwrap_or_default();
    let all: Vec<Value> = listing
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(name, sha)| json!({"name": name, "commit": {"sha": sha, "url": ""}, "protected": false}))
        .collect();
    let per_page = query.per_page.unwrap_or(30).clamp(1, 100);
    let page = query.page.unwrap_or(1).max(1);
    let slice: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    let mut response = axum::Json(slice).into_response();
    if page * per_page < all.len() {
        let link = format!(
            "<http://localhost/repos/{owner}/{repo}/branches?per_page={per_page}&page={}>; rel=\"next\"",
            page + 1
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert("link", value);
        }
    }
    response
}

async fn branch(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, branch)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(dir) = repo_dir(&shared, &owner, &repo) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some(commit) = git_text(
        &dir,
        &["rev-parse", "--verify", &format!("refs/heads/{branch}")],
    ) else {
        return github_error(StatusCode::NOT_FOUND, "Branch not found");
    };
    let tree = git_text(&dir, &["rev-parse", &format!("{commit}^{{tree}}")]).unwrap_or_default();
    let etag = format!("W/\"{commit}\"");
    if headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tag| tag == etag)
    {
        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
    }
    let mut response = axum::Json(json!({
        "name": branch,
        "commit": {
            "sha": commit,
            "commit": {"tree": {"sha": tree, "url": ""}, "message": ""},
            "url": "",
        },
        "protected": false,
    }))
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert("etag", value);
    }
    response
}

#[derive(serde::Deserialize)]
struct TreeQuery {
    recursive: Option<String>,
}

async fn tree(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
    Query(query): Query<TreeQuery>,
) -> Response {
    let Some(dir) = repo_dir(&shared, &owner, &repo) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    if git_text(&dir, &["rev-parse", "--verify", "HEAD"]).is_none() {
        return github_error(StatusCode::CONFLICT, "Git Repository is empty.");
    }
    let recursive = query.recursive.is_some();
    // NUL-terminated records: paths exactly as committed (GitHub does not quote them either).
    let mut args = vec!["ls-tree", "-l", "-z"];
    if recursive {
        args.extend(["-r", "-t"]);
    }
    args.push(&sha);
    let Some(listing) = git(&dir, &args) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    // "<mode> <type> <sha> <size>\t<path>\0"
    let mut entries: Vec<Value> = listing
        .split(|&b| b == 0)
        .filter(|record| !record.is_empty())
        .filter_map(|record| {
            let record = String::from_utf8_lossy(record);
            let (meta, path) = record.split_once('\t')?;
            let mut fields = meta.split_whitespace();
            let (mode, kind, sha, size) = (
                fields.next()?,
                fields.next()?,
                fields.next()?,
                fields.next()?,
            );
            let mut entry =
                json!({"path": path, "mode": mode, "type": kind, "sha": sha, "url": ""});
            if let Ok(size) = size.parse::<u64>() {
                entry["size"] = json!(size);
            }
            Some(entry)
        })
        .collect();
    let truncated = recursive && shared.truncate_trees.load(Ordering::SeqCst);
    if truncated {
        entries.truncate(entries.len() / 2);
    }
    axum::Json(json!({"sha": sha, "url": "", "tree": entries, "truncated": truncated}))
        .into_response()
}

async fn blob(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
) -> Response {
    let Some(dir) = repo_dir(&shared, &owner, &repo) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let delay = shared.blob_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let Some(bytes) = git(&dir, &["cat-file", "blob", &sha]) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    // GitHub wraps at 60 columns.
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    axum::Json(json!({
        "sha": sha,
        "node_id": "",
        "size": bytes.len(),
        "url": "",
        "content": format!("{}\n", wrapped.join("\n")),
        "encoding": "base64",
    }))
    .into_response()
}

async fn tarball(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, git_ref)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(dir) = repo_dir(&shared, &owner, &repo) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let Some(sha) = git_text(
        &dir,
        &["rev-parse", "--verify", &format!("{git_ref}^{{commit}}")],
    ) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    // Like GitHub: a redirect to the archive host (here, this server under another path).
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let base = lock(&shared.archive_host)
        .clone()
        .unwrap_or_else(|| format!("http://{host}"));
    (
        StatusCode::FOUND,
        [(
            "location",
            format!("{base}/_codeload/{owner}/{repo}/legacy.tar.gz/{sha}"),
        )],
    )
        .into_response()
}

/// The archive itself, streamed from `git archive` as it is made.
async fn codeload(
    State(shared): State<Arc<Shared>>,
    Path((owner, repo, sha)): Path<(String, String, String)>,
) -> Response {
    use tokio::io::AsyncReadExt;
    let Some(dir) = repo_dir(&shared, &owner, &repo) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let prefix = format!("{owner}-{repo}-{}/", sha.get(..7).unwrap_or(&sha));
    let child = tokio::process::Command::new("git")
        .arg("-C")
        .arg(&dir)
        .args([
            "archive",
            "--format=tar.gz",
            &format!("--prefix={prefix}"),
            &sha,
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let Ok(mut child) = child else {
        return github_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error");
    };
    let Some(mut stdout) = child.stdout.take() else {
        return github_error(StatusCode::INTERNAL_SERVER_ERROR, "Server Error");
    };
    if shared.cut_archives.load(Ordering::SeqCst) {
        let mut first = vec![0u8; 512];
        let n = stdout.read(&mut first).await.unwrap_or(0);
        first.truncate(n);
        let broken = futures_util::stream::iter(vec![
            Ok::<_, std::io::Error>(bytes::Bytes::from(first)),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "cut",
            )),
        ]);
        return Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/x-gzip")
            .body(Body::from_stream(broken))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    // The child stays with the stream: dropping it (the client went away) kills `git archive`.
    let chunks = futures_util::stream::unfold(Some((stdout, child)), |state| async move {
        let (mut out, child) = state?;
        let mut buffer = vec![0u8; 64 * 1024];
        match out.read(&mut buffer).await {
            Ok(0) => None,
            Ok(n) => {
                buffer.truncate(n);
                Some((
                    Ok::<_, std::io::Error>(bytes::Bytes::from(buffer)),
                    Some((out, child)),
                ))
            }
            Err(error) => Some((Err(error), None)),
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/x-gzip")
        .body(Body::from_stream(chunks))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A git repository a test builds commit by commit.
pub struct GitRepo {
    dir: tempfile::TempDir,
}

impl GitRepo {
    /// An empty repository whose default branch is `main`.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a directory for the repository");
        let repo = Self { dir };
        repo.run(&["init", "-q", "-b", "main"]);
        repo
    }

    /// A repository whose `main` holds one commit of everything under `tree`, byte for byte: every
    /// file, dotfiles and files a `.gitignore` there names included (`tree` itself is not touched;
    /// the repository is bare, in a directory of its own).
    pub fn of_tree(tree: &FsPath) -> Self {
        let dir = tempfile::tempdir().expect("a directory for the repository");
        let repo = Self { dir };
        repo.run(&["init", "-q", "--bare", "-b", "main"]);
        let work_tree = format!("--work-tree={}", tree.display());
        repo.run(&[
            &work_tree,
            "-c",
            "core.autocrlf=false",
            "add",
            "-A",
            "-f",
            ".",
        ]);
        repo.run(&[&work_tree, "commit", "-q", "-m", "the published tree"]);
        repo
    }

    /// Its directory.
    pub fn path(&self) -> &FsPath {
        self.dir.path()
    }

    /// Runs git; panics with its error if it fails.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.git().args(args).output().expect("running git");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Writes a file (creating folders).
    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) {
        let full = self.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("folders");
        }
        std::fs::write(full, contents).expect("writing a file");
    }

    /// Commits everything; the new head.
    pub fn commit(&self, message: &str) -> String {
        self.run(&["add", "-A"]);
        self.run(&["commit", "-q", "--allow-empty", "-m", message]);
        self.run(&["rev-parse", "HEAD"])
    }

    /// Stores `contents` once, lists that one blob under every path in `paths` (through the index:
    /// nothing is written to the work tree, however many paths), and commits; the new head. Later
    /// commits of this repository must come from here too ([`GitRepo::commit`] stages the work
    /// tree, where these paths are absent).
    pub fn commit_copies(&self, contents: &[u8], paths: &[String], message: &str) -> String {
        let sha = self.run_with_input(&["hash-object", "-w", "--stdin"], contents);
        let index: String = paths
            .iter()
            .map(|path| format!("100644 blob {sha}\t{path}\n"))
            .collect();
        self.run_with_input(&["update-index", "--add", "--index-info"], index.as_bytes());
        self.run(&["commit", "-q", "-m", message]);
        self.run(&["rev-parse", "HEAD"])
    }

    /// git in this repository, as a test user who signs nothing.
    fn git(&self) -> Command {
        let mut git = Command::new("git");
        git.arg("-C")
            .arg(self.path())
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(["-c", "commit.gpgsign=false"]);
        git
    }

    /// Runs git with `input` on its standard input; panics with its error if it fails.
    fn run_with_input(&self, args: &[&str], input: &[u8]) -> String {
        use std::io::Write;
        let mut child = self
            .git()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running git");
        let mut stdin = child.stdin.take().expect("git's input");
        let input = input.to_vec();
        let writing = std::thread::spawn(move || stdin.write_all(&input));
        let output = child.wait_with_output().expect("running git");
        writing
            .join()
            .expect("writing to git")
            .expect("writing to git");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// A blob's SHA as git computes it.
    pub fn blob_sha(&self, path: &str) -> String {
        self.run(&["rev-parse", &format!("HEAD:{path}")])
    }
}

impl Default for GitRepo {
    fn default() -> Self {
        Self::new()
    }
}
