//! Test harness: a throwaway Postgres + pgvector cluster shared by the test process, a migrated
//! template database, a fresh database per test cloned from it, and the real application built by
//! `Application::build` on top.
//!
//! Statics hold plain data only (URLs, names): every `#[tokio::test]` has its own runtime, and pools
//! must not outlive the runtime that opened them.

use anyhow::Context;
use migration::grant_app_role;
use migration::{Migrator, guard};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use server::config::{EmbeddedSettings, Settings};
use server::database::connect;
use server::embedded_db::{APP_ROLE, Credentials, EmbeddedPostgres};
use server::{AppState, Application};
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::sync::{OnceCell, oneshot};
use uuid::Uuid;

pub mod chromium;
pub mod crash;
pub mod github_double;
pub mod images;
pub mod llm_double;
pub mod log_capture;
pub mod mailbox;
pub mod served;

static CLUSTER: OnceCell<Credentials> = OnceCell::const_new();
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// Root for everything the tests put on disk. `scripts/test.sh` sets `CAIRN_TEST_DATA_DIR` to a
/// fresh directory it removes afterwards; it must be reachable by the `postgres` user (not /root).
pub fn test_data_root() -> PathBuf {
    std::env::var_os("CAIRN_TEST_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("cairn-test"))
}

/// Embedded settings for throwaway clusters: a free port, no fsync.
pub fn ephemeral_embedded() -> EmbeddedSettings {
    EmbeddedSettings {
        port: 0,
        postgres_bin_dir: None,
        ephemeral: true,
        shared_buffers_mb: None,
    }
}

async fn cluster() -> &'static Credentials {
    CLUSTER
        .get_or_init(|| async {
            let root = test_data_root();
            std::fs::create_dir_all(&root).expect("creating the test data directory");
            let embedded = EmbeddedPostgres::new(&root.join("shared"), &ephemeral_embedded())
                .expect("finding Postgres (run scripts/setup.sh)");
            let (credentials, _) = embedded.start().await.expect("starting the test cluster");
            credentials
        })
        .await
}

/// Runs `sql` on a short-lived connection to `url`.
async fn execute_as(url: &str, sql: &str) {
    let db = connect(url, 1)
        .await
        .unwrap_or_else(|e| panic!("connecting to run {sql}: {e}"));
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    db.close().await.expect("closing");
}

async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let credentials = cluster().await;
            let name = format!("cairn_template_{}", Uuid::new_v4().simple());
            let create = format!("CREATE DATABASE {name} OWNER cairn_owner");
            execute_as(&credentials.superuser_url("postgres"), &create).await;
            execute_as(&credentials.superuser_url(&name), "CREATE EXTENSION vector").await;
            let owner = connect(&credentials.owner_url_for(&name), 1)
                .await
                .expect("owner");
            guard::migrate::<Migrator>(&owner, guard::MigrateOptions::default())
                .await
                .expect("migrating the template");
            grant_app_role(&owner, APP_ROLE)
                .await
                .expect("granting the app role");
            owner.close().await.expect("closing");
            name
        })
        .await
}

/// A database of its own for one test.
#[derive(Debug, Clone)]
pub struct TestDb {
    /// Database name.
    pub name: String,
    credentials: Credentials,
}

impl TestDb {
    /// A fresh, fully migrated database (cloned from the template).
    pub async fn migrated() -> Self {
        let name = format!("test_{}", Uuid::new_v4().simple());
        Self::create(&name, Some(template().await)).await
    }

    /// A fresh database with pgvector but no migrations applied.
    pub async fn empty() -> Self {
        let name = format!("test_{}", Uuid::new_v4().simple());
        let db = Self::create(&name, None).await;
        execute_as(&db.superuser_url(), "CREATE EXTENSION vector").await;
        db
    }

    async fn create(name: &str, template: Option<&str>) -> Self {
        let credentials = cluster().await.clone();
        let template = template
            .map(|t| format!(" TEMPLATE {t}"))
            .unwrap_or_default();
        let create = format!("CREATE DATABASE {name} OWNER cairn_owner{template}");
        execute_as(&credentials.superuser_url("postgres"), &create).await;
        Self {
            name: name.to_owned(),
            credentials,
        }
    }

    /// URL of the cluster superuser on the maintenance database, for changing this database itself.
    pub fn admin_url(&self) -> String {
        self.credentials.superuser_url("postgres")
    }

    /// URL of the schema owner (BYPASSRLS: sees every tenant's rows).
    pub fn owner_url(&self) -> String {
        self.credentials.owner_url_for(&self.name)
    }

    /// URL of the application role (row-level security applies).
    pub fn app_url(&self) -> String {
        self.credentials.app_url_for(&self.name)
    }

    /// URL of the cluster superuser on this database.
    pub fn superuser_url(&self) -> String {
        self.credentials.superuser_url(&self.name)
    }

    /// A pool connected as the schema owner, for arranging and asserting behind the app's back.
    pub async fn owner(&self) -> DatabaseConnection {
        connect(&self.owner_url(), 2)
            .await
            .expect("connecting as owner")
    }

    /// A pool connected as the application role.
    pub async fn app(&self) -> DatabaseConnection {
        connect(&self.app_url(), 2)
            .await
            .expect("connecting as the app role")
    }

    /// Settings that point Cairn at this database, on a free port.
    pub fn settings(&self) -> Settings {
        let mut settings = Settings::default();
        settings.server.port = 0;
        settings.data_dir = test_data_root().join(format!("app-{}", Uuid::new_v4().simple()));
        settings.database.url = Some(self.owner_url().into());
        settings.database.app_url = Some(self.app_url().into());
        settings.database.max_connections = 4;
        settings.server.site_dir = repo_root().join("target/site");
        // The local provider servers the tests run are on this machine, as an operator's Ollama
        // beside Cairn would be: allowed the way such an operator allows it.
        settings.llm.allowed_private_hosts = vec!["127.0.0.1".into(), "localhost".into()];
        if let Some(endpoint) = s3_endpoint() {
            // Images in S3 (scripts/test.sh's second run): a bucket per app, made by `spawn_app_on`.
            settings.storage.backend = server::config::StorageBackend::S3;
            let s3 = &mut settings.storage.s3;
            s3.bucket = format!("cairn-{}", Uuid::new_v4().simple());
            s3.endpoint = Some(endpoint);
            s3.region = Some("us-east-1".into());
            s3.access_key_id = Some("testing".into());
            s3.secret_access_key = Some("testing".to_owned().into());
            s3.allow_http = true;
        }
        settings
    }
}

/// The local S3-compatible server the image tests run against the second time, if this run uses one.
pub fn s3_endpoint() -> Option<String> {
    std::env::var("CAIRN_TEST_S3_ENDPOINT").ok()
}

/// The real application, serving on a free port of 127.0.0.1.
pub struct TestApp {
    /// Where it listens.
    pub address: SocketAddr,
    /// Its state, for arranging data the way handlers see it.
    pub state: AppState,
    /// The database it runs on.
    pub db: TestDb,
    /// Its data directory (local image storage is `objects/` inside it).
    pub data_dir: PathBuf,
    /// An HTTP client.
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Every object in the app's image store (local files or its S3 bucket), as keys
    /// (`tenants/...`), sorted.
    pub async fn stored_objects(&self) -> Vec<String> {
        use futures_util::StreamExt;
        let store = self.state.ctx.images.inner();
        let mut keys: Vec<String> = store
            .list(None)
            .map(|meta| meta.expect("listing the image store").location.to_string())
            .collect()
            .await;
        keys.sort();
        keys
    }

    /// Writes an object behind the app's back (an orphan, as an interrupted upload leaves).
    pub async fn put_object(&self, key: &str, bytes: Vec<u8>) {
        use object_store::ObjectStoreExt;
        self.state
            .ctx
            .images
            .inner()
            .put(&object_store::path::Path::from(key), bytes.into())
            .await
            .expect("writing an object");
    }

    /// Deletes an object behind the app's back (as a lost file or a bucket mishap would).
    pub async fn delete_object(&self, key: &str) {
        use object_store::ObjectStoreExt;
        self.state
            .ctx
            .images
            .inner()
            .delete(&object_store::path::Path::from(key))
            .await
            .expect("deleting an object");
    }

    /// Whether images are kept on the local filesystem (not in S3).
    pub fn stores_locally(&self) -> bool {
        s3_endpoint().is_none()
    }

    /// GETs `path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// A new browser-like client: its own cookie jar, so each one is a separate person.
    pub fn browser(&self) -> RpcClient {
        RpcClient::new(&format!("http://{}", self.address))
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.server.take() {
            Some(handle) => handle.await.context("server task")?,
            None => Ok(()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Builds and starts Cairn on a fresh migrated database, sending e-mail through the local SMTP
/// server (see [`mailbox`]).
pub async fn spawn_app_with_mail() -> TestApp {
    spawn_app_on(TestDb::migrated().await, |settings| {
        settings.mail.smtp_url = Some(mailbox::smtp_url().into());
    })
    .await
    .expect("building the app")
}

/// Builds and starts Cairn on a fresh migrated database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestDb::migrated().await, |_| {})
        .await
        .expect("building the app")
}

/// Builds and starts Cairn on `db`, after `adjust` has changed its settings.
pub async fn spawn_app_on(
    db: TestDb,
    adjust: impl FnOnce(&mut Settings),
) -> anyhow::Result<TestApp> {
    let mut settings = db.settings();
    adjust(&mut settings);
    if let (Some(endpoint), server::config::StorageBackend::S3) =
        (s3_endpoint(), settings.storage.backend)
    {
        // S3 has no folders to create: the app's bucket is made here, as an operator would.
        let created = reqwest::Client::new()
            .put(format!("{endpoint}/{}", settings.storage.s3.bucket))
            .send()
            .await?;
        anyhow::ensure!(
            created.status().is_success(),
            "creating the test bucket: {}",
            created.status()
        );
    }
    let data_dir = settings.data_dir.clone();
    let app = Application::build(settings).await?;
    let address = app.local_addr()?;
    let state = app.state().clone();
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    Ok(TestApp {
        address,
        state,
        db,
        data_dir,
        client: reqwest::Client::new(),
        shutdown: Some(tx),
        server: Some(server),
    })
}

/// A local image store in a fresh directory, for domain-level tests that run without the app.
pub fn scratch_image_store() -> domain::ImageStore {
    let dir = test_data_root().join(format!("objects-{}", Uuid::new_v4().simple()));
    domain::ImageStore::local(&dir, api::notes::ImageLimits::default())
        .expect("a local image store")
}

/// The repository's root directory (the browser bundle is built into `target/site` there).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// The `cairn` binary built by `scripts/test.sh`, or `CAIRN_BIN`.
pub fn cairn_bin() -> PathBuf {
    match std::env::var_os("CAIRN_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => workspace_bin("cairn"),
    }
}

/// The `cairn` binary on `app`'s database and data directory (its key file: instances of one
/// deployment share keys), reaching local model servers, its sweeper off, logging warnings; the
/// caller adds the command and what else it reaches.
pub fn cairn_command(app: &TestApp) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(cairn_bin());
    command
        .env("DATABASE_URL", app.db.owner_url())
        .env("CAIRN_DATABASE__APP_URL", app.db.app_url())
        .env("CAIRN_DATA_DIR", &app.data_dir)
        .env(
            "CAIRN_LLM__ALLOWED_PRIVATE_HOSTS",
            r#"["127.0.0.1", "localhost"]"#,
        )
        .env("CAIRN_STORAGE__SWEEP_INTERVAL_SECS", "0")
        .env("CAIRN_LOG__FILTER", "warn");
    command
}

/// `cairn worker` (see [`cairn_command`]), taking over silent jobs after 2 s, killed when
/// dropped; the caller spawns it.
pub fn worker_command(app: &TestApp) -> tokio::process::Command {
    let mut command = cairn_command(app);
    command
        .arg("worker")
        .env("CAIRN_JOBS__STALE_AFTER_SECS", "2")
        .kill_on_drop(true);
    command
}

/// Runs `command` to its end: its exit code (-1 for a signal), stdout and stderr.
pub async fn output_of(mut command: tokio::process::Command) -> (i32, String, String) {
    let output = command.output().await.expect("running cairn");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A binary of this workspace, built by `scripts/test.sh` (`cargo build --bins`) into the same target
/// directory as this test executable.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/debug/deps/integration-HASH -> target/debug/NAME
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join(name));
    match bin {
        Some(bin) if bin.is_file() => bin,
        _ => panic!("{name} is not built: run `cargo build --workspace --bins` first"),
    }
}

/// Calls Cairn's server functions the way the browser does: `POST /api/v1/<name>` with JSON, keeping
/// the session cookie between calls.
#[derive(Clone)]
pub struct RpcClient {
    base: String,
    /// The underlying client (with its cookie jar).
    pub http: reqwest::Client,
    /// An API token sent as `Authorization: Bearer` with every request, for a client that is a
    /// script rather than a browser.
    bearer: Option<String>,
}

impl RpcClient {
    /// A new browser-like client of the server at `base` (`http://host:port`), with its own
    /// cookie jar.
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("client"),
            bearer: None,
        }
    }

    /// A script's client of the server at `base`: no cookies, `token` as its bearer token.
    pub fn with_token(base: &str, token: &str) -> Self {
        Self {
            base: base.to_owned(),
            http: reqwest::Client::new(),
            bearer: Some(token.to_owned()),
        }
    }

    /// A script's client of the same server, with an API token of this client's member made for
    /// their active team (`scope`: `read` or `write`).
    pub async fn token_client(&self, scope: &str) -> RpcClient {
        let made = self
            .ok(
                "create_api_token",
                serde_json::json!({"form": {"name": format!("{scope} script"), "scope": scope, "expires_in_days": "30"}}),
            )
            .await;
        let secret = made["secret"].as_str().expect("the token");
        Self::with_token(&self.base, secret)
    }

    /// `request` with this client's bearer token, if it has one.
    pub fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.bearer {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Calls `name` with `args`; returns the status and the JSON body.
    pub async fn call(&self, name: &str, args: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self.raw(name, args).await;
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, body)
    }

    /// Calls `name` and returns the raw response (for headers).
    pub async fn raw(&self, name: &str, args: serde_json::Value) -> reqwest::Response {
        self.authorised(self.http.post(format!("{}/api/v1/{name}", self.base)))
            .json(&args)
            .send()
            .await
            .expect("calling a server function")
    }

    /// Uploads `bytes` as an image of `note_id`; returns the status and the JSON body.
    pub async fn upload(&self, note_id: &str, bytes: Vec<u8>) -> (u16, serde_json::Value) {
        let response = self
            .authorised(
                self.http
                    .post(format!("{}/api/v1/notes/{note_id}/images", self.base)),
            )
            .header("content-type", "image/png")
            .body(bytes)
            .send()
            .await
            .expect("uploading");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, body)
    }

    /// GETs `path` with this client's cookies.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.authorised(self.http.get(format!("{}{path}", self.base)))
            .send()
            .await
            .expect("GET")
    }

    /// Calls `name` and expects success.
    pub async fn ok(&self, name: &str, args: serde_json::Value) -> serde_json::Value {
        let (status, body) = self.call(name, args).await;
        assert_eq!(status, 200, "{name} failed: {body}");
        body
    }
}

/// An HTTP server of the harness (a GitHub or an AI provider double) on 127.0.0.1, stopped when
/// dropped.
pub struct LocalServer {
    /// Where it listens.
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl LocalServer {
    /// Serves `router` on `port` of 127.0.0.1 (0: a free one); `what` names it if binding fails.
    pub async fn start(router: axum::Router, port: u16, what: &str) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| panic!("binding {what}: {e}"));
        let address = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            address,
            stop: Some(stop),
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The resident memory of process `pid`, in KiB (`VmRSS` from /proc; 0 if it cannot be read).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}
