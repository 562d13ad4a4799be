//! Layered configuration: built-in defaults < `cairn.toml` < `CAIRN_*` environment variables
//! (`__` separates levels: `CAIRN_SERVER__PORT=8080`, `CAIRN_DATABASE__URL=...`). `DATABASE_URL` is
//! honoured as well. Secrets are `SecretString`s: they print as `[REDACTED]`.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;
/// `[github]`: how syncs reach GitHub (kept with the services that use it).
pub use services::GitHubSettings;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Read when no `--config` is given, if present.
pub const DEFAULT_CONFIG_FILE: &str = "cairn.toml";

/// `CAIRN_*` variables that are read by scripts and tests, not settings.
const NOT_SETTINGS: &[&str] = &[
    "TOOLS_DIR",
    "TEST_DATA_DIR",
    "TEST_MAILDIR",
    "TEST_SMTP_PORT",
    "TEST_S3_ENDPOINT",
    "TEST_CORPUS_DIR",
    "TEST_EMBEDDINGS_URL",
    "BIN",
    "SCREENSHOT_DIR",
];

/// All of Cairn's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// GitHub, for Project Sync.
    pub github: GitHubSettings,
    /// The keys that seal GitHub tokens and webhook secrets.
    pub secrets: SecretSettings,
    /// Background jobs.
    pub jobs: JobSettings,
    /// AI providers every team without its own uses, and how patient calls are.
    pub llm: LlmSettings,
    /// Where Cairn keeps its local state: the embedded database, stored objects.
    pub data_dir: PathBuf,
    /// The HTTP server.
    pub server: ServerSettings,
    /// The database.
    pub database: DatabaseSettings,
    /// Image storage and upload limits.
    pub storage: StorageSettings,
    /// Accounts: sessions and password hashing.
    pub accounts: AccountSettings,
    /// Outgoing e-mail.
    pub mail: MailSettings,
    /// Logging.
    pub log: LogSettings,
}

/// Accounts: sessions and password hashing.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountSettings {
    /// A session unused for this many hours ends (it also ends 30 days after signing in).
    pub session_idle_timeout_hours: u64,
    /// Memory password hashing may hold at once, in MiB; each argon2id hash takes 19 MiB, so this
    /// sets how many run at once (at least one).
    pub password_hashing_memory_mib: u64,
    /// How long a sign-up or log-in waits for a turn at hashing before it is answered 503 with
    /// `Retry-After`, in milliseconds.
    pub password_hashing_wait_ms: u64,
}

/// Outgoing e-mail. Without `smtp_url`, nothing is sent: inviters get the link to hand over, and
/// password reset by e-mail is unavailable.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// `smtp://host:port` (plain), `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://user:pass@host:465` (TLS).
    pub smtp_url: Option<SecretString>,
    /// The sender, e.g. `Cairn <cairn@example.com>`.
    pub from: String,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            session_idle_timeout_hours: 7 * 24,
            password_hashing_memory_mib: 256,
            password_hashing_wait_ms: 5000,
        }
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Cairn <cairn@localhost>".into(),
        }
    }
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// The browser bundle and static files built by Trunk (`pkg/` inside it).
    pub site_dir: PathBuf,
    /// Always mark the session cookie `Secure` (set this when Cairn is served over https).
    pub secure_cookies: bool,
    /// Trust `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` (only behind a proxy
    /// that sets them).
    pub trust_proxy_headers: bool,
    /// How many proxies in front of Cairn append to `X-Forwarded-For` (with `trust_proxy_headers`):
    /// the client is the entry that many from the right.
    pub trusted_proxies: usize,
    /// The address people reach Cairn at, e.g. `https://cairn.example.com`: links in e-mails use it,
    /// and state-changing requests from its origin pass. Unset: `http://` + the listening address.
    pub public_url: Option<String>,
    /// Seconds between keep-alive comments on an idle event stream, so that proxies do not close
    /// it and clients notice a dead connection.
    pub sse_keep_alive_secs: u64,
    /// Live event streams one user may hold open at once; more are 429 with `Retry-After`.
    pub max_event_streams_per_user: usize,
    /// Live event streams this instance holds open at once; more are 503 with `Retry-After`.
    pub max_event_streams: usize,
    /// Requests one API token may make per minute on this instance (more are 429 with
    /// `Retry-After`).
    pub api_token_requests_per_minute: u32,
    /// The most a server function's request body may hold; more is 413 before it is read.
    pub max_request_bytes: u64,
}

/// The database.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// URL of the role that owns the schema (runs migrations). Unset: use the embedded Postgres.
    pub url: Option<SecretString>,
    /// URL of the application role (no superuser, no BYPASSRLS). Required with `url`.
    pub app_url: Option<SecretString>,
    /// Connection pool size for the application role.
    pub max_connections: u32,
    /// Run guarded migrations when `serve` starts (never destructive ones).
    pub migrate_on_start: bool,
    /// The embedded Postgres.
    pub embedded: EmbeddedSettings,
}

/// The embedded Postgres, used when no database URL is configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedSettings {
    /// Port on 127.0.0.1 for a new cluster; 0 picks a free one. An existing cluster keeps its port.
    pub port: u16,
    /// Directory holding `initdb`, `pg_ctl` and `postgres` (with pgvector). Unset: the directory
    /// the setup script installs, `$CAIRN_TOOLS_DIR/postgres/bin`.
    pub postgres_bin_dir: Option<PathBuf>,
    /// Trade durability for speed (fsync off). For throwaway test clusters only.
    pub ephemeral: bool,
    /// Postgres's own cache (`shared_buffers`), in MiB. Unset: a quarter of the machine's memory,
    /// between 128 MiB and 8 GiB (a search by meaning reads its space's whole index: at Postgres's
    /// 128 MiB default, 100,000 vectors of 1,536 dimensions are read from the OS cache at every
    /// search). Throwaway clusters keep Postgres's default.
    pub shared_buffers_mb: Option<u32>,
}

/// Image storage and upload limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// `local`: files under `local_dir`. `s3`: an S3-compatible bucket (AWS, MinIO), in builds
    /// with the `s3` feature.
    pub backend: StorageBackend,
    /// Directory of the local store. Unset: `<data_dir>/objects`.
    pub local_dir: Option<PathBuf>,
    /// The S3 bucket, for `backend = "s3"`.
    pub s3: S3Settings,
    /// Largest image accepted, in bytes.
    pub max_image_bytes: u64,
    /// Most images on one note.
    pub max_images_per_note: u32,
    /// Widest image accepted, in pixels.
    pub max_image_width: u32,
    /// Tallest image accepted, in pixels.
    pub max_image_height: u32,
    /// Most pixels (width × height) in one image.
    pub max_image_pixels: u64,
    /// Seconds between sweeps that remove stored objects without a row; 0 turns the sweeper off.
    pub sweep_interval_secs: u64,
    /// An object without a row is removed only once it is this old: an upload writes its object a
    /// moment before its row.
    pub sweep_grace_secs: u64,
}

/// Which object store holds images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// The local filesystem.
    Local,
    /// An S3-compatible bucket.
    S3,
}

/// An S3-compatible bucket. Unset credentials fall back to the usual `AWS_*` environment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Region (`us-east-1` for MinIO).
    pub region: Option<String>,
    /// Endpoint URL for S3-compatible services, e.g. `http://minio:9000`.
    pub endpoint: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<SecretString>,
    /// Allow a plain-http endpoint (a MinIO on the same private network).
    pub allow_http: bool,
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `tracing` filter directives, e.g. `info,server=debug`. `RUST_LOG` overrides it.
    pub filter: String,
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".cairn"),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            storage: StorageSettings::default(),
            accounts: AccountSettings::default(),
            mail: MailSettings::default(),
            log: LogSettings::default(),
            github: GitHubSettings::default(),
            secrets: SecretSettings::default(),
            jobs: JobSettings::default(),
            llm: LlmSettings::default(),
        }
    }
}

/// AI: providers declared by whoever runs this instance, used by every team that has none of its
/// own, and the calls' timeouts.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmSettings {
    /// The instance's providers.
    pub providers: Vec<LlmProviderSettings>,
    /// `provider/model` names, in order (empty: each provider's first model).
    pub chain: Vec<String>,
    /// Whether a content-policy refusal moves on to the next model.
    pub fall_over_on_refusal: bool,
    /// A non-streamed answer, or a streamed answer's next piece, that takes longer fails the
    /// attempt (seconds).
    pub request_timeout_secs: u64,
    /// A streamed answer whose first piece takes longer fails the attempt (seconds).
    pub first_token_timeout_secs: u64,
    /// Retries of one model after a rate limit, 5xx, timeout or dropped connection.
    pub max_retries: u32,
    /// A `Retry-After` longer than this is not waited for (seconds): the chain moves on.
    pub max_retry_wait_secs: u64,
    /// An ask (every model, retry and pause of its chain) ends by then, however steadily a
    /// provider keeps sending (seconds).
    pub ask_deadline_secs: u64,
    /// Asks one team may have in flight at once; more are 429 with `Retry-After`.
    pub max_asks_per_team: usize,
    /// Asks the instance answers at once; more are 503 with `Retry-After`.
    pub max_asks_in_flight: usize,
    /// What a team without providers of its own may spend a month on the instance's `providers`
    /// (USD); 0 keeps them to the instance.
    pub team_monthly_budget_usd: f64,
    /// Non-public addresses a team's own provider may reach: host names, addresses or networks
    /// (`["localhost", "127.0.0.1", "10.0.0.0/8"]`), e.g. for Ollama or llama.cpp on this machine.
    /// Loopback, private, link-local (cloud metadata), CGNAT, multicast and reserved addresses are
    /// otherwise refused. The instance's own `providers` are not limited.
    pub allowed_private_hosts: Vec<String>,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            chain: Vec::new(),
            fall_over_on_refusal: false,
            request_timeout_secs: 120,
            first_token_timeout_secs: 60,
            max_retries: 2,
            max_retry_wait_secs: 20,
            ask_deadline_secs: 600,
            max_asks_per_team: 4,
            max_asks_in_flight: 64,
            team_monthly_budget_usd: 5.0,
            allowed_private_hosts: Vec::new(),
        }
    }
}

/// One instance-wide provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmProviderSettings {
    /// Its name in chains.
    pub name: String,
    /// `open_ai`, `anthropic`, `gemini`, `open_router`, `ollama`, `llama_cpp` or `custom`.
    pub kind: String,
    /// Its API root; unset: the kind's usual one.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The environment variable holding its key (the key itself never goes in the file).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The models it serves.
    pub models: Vec<String>,
}

/// Background jobs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobSettings {
    /// Whether `cairn serve` also runs jobs (`false`: a web-only instance, with `cairn worker`s
    /// elsewhere running them).
    pub enabled: bool,
    /// Take over a job whose instance went silent after this many seconds, whatever its kind
    /// (unset: each kind's own limit, e.g. 60 s for a sync). Use one value for every instance.
    pub stale_after_secs: Option<u64>,
    /// Stop an attempt of any job after this many seconds, whatever its kind (unset: each kind's
    /// own, e.g. an hour for a sync); a stopped attempt is retried while attempts remain.
    pub attempt_timeout_secs: Option<u64>,
    /// How many jobs of each queue this instance runs at once (`sync`, `ai`, `maintenance`; a
    /// queue not named: 1). Each queue has its own, so a long job of one never delays another's.
    pub workers: std::collections::BTreeMap<String, usize>,
    /// Events of jobs finished longer ago than this many days are pruned once a day, with the
    /// finished jobs of no team (a team's job rows stay).
    pub events_retention_days: u64,
    /// How often this instance looks for projects whose sync schedule is due (0: never; another
    /// instance may still do it). A project is checked by one instance per turn.
    pub schedule_check_secs: u64,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            stale_after_secs: None,
            attempt_timeout_secs: None,
            workers: std::collections::BTreeMap::from([
                ("sync".to_owned(), 2),
                ("ai".to_owned(), 2),
                ("embed".to_owned(), 1),
                ("maintenance".to_owned(), 1),
            ]),
            events_retention_days: 30,
            schedule_check_secs: 30,
        }
    }
}

/// The keys that seal secrets at rest (never stored in the database).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretSettings {
    /// The current key, 32 bytes in base64 (`openssl rand -base64 32`). Unset: a key generated on
    /// first start in `<data_dir>/secret.key` (readable by its owner only).
    pub key: Option<SecretString>,
    /// The current key's id, stored with every value it seals.
    pub key_id: String,
    /// Earlier keys by id, still opening what they sealed (for rotation).
    pub previous_keys: std::collections::BTreeMap<String, SecretString>,
}

impl Default for SecretSettings {
    fn default() -> Self {
        Self {
            key: None,
            key_id: "1".into(),
            previous_keys: std::collections::BTreeMap::new(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 3000,
            site_dir: PathBuf::from("target/site"),
            secure_cookies: false,
            trust_proxy_headers: false,
            trusted_proxies: 1,
            public_url: None,
            sse_keep_alive_secs: 15,
            max_event_streams_per_user: 16,
            max_event_streams: 1000,
            api_token_requests_per_minute: 600,
            max_request_bytes: 1024 * 1024,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            app_url: None,
            max_connections: 16,
            migrate_on_start: true,
            embedded: EmbeddedSettings::default(),
        }
    }
}

impl Default for EmbeddedSettings {
    fn default() -> Self {
        Self {
            port: 54329,
            postgres_bin_dir: None,
            ephemeral: false,
            shared_buffers_mb: None,
        }
    }
}

impl Default for StorageSettings {
    fn default() -> Self {
        let limits = api::notes::ImageLimits::default();
        Self {
            backend: StorageBackend::Local,
            local_dir: None,
            s3: S3Settings::default(),
            max_image_bytes: limits.max_bytes,
            max_images_per_note: limits.max_per_note,
            max_image_width: limits.max_width,
            max_image_height: limits.max_height,
            max_image_pixels: limits.max_pixels,
            sweep_interval_secs: 3600,
            sweep_grace_secs: 3600,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            filter: "info,sqlx=warn".into(),
            format: LogFormat::Text,
        }
    }
}

impl Settings {
    /// Loads settings from `config_file` and the process environment. Without an explicit file,
    /// `cairn.toml` in the working directory is read if it exists.
    pub fn load(config_file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        Self::figment(config_file).extract().map_err(Box::new)
    }

    /// The layered sources, for inspection and tests.
    pub fn figment(config_file: Option<&Path>) -> Figment {
        let default_file = Path::new(DEFAULT_CONFIG_FILE);
        let file = match config_file {
            Some(explicit) => Some(explicit),
            None => default_file.is_file().then_some(default_file),
        };
        let figment = Figment::new();
        let figment = match file {
            Some(path) => figment.merge(Toml::file_exact(path)),
            None => figment,
        };
        figment
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database.url".into()),
            )
            .merge(Env::prefixed("CAIRN_").split("__").ignore(NOT_SETTINGS))
    }
}

#[cfg(test)]
// figment's Jail closures must return figment's own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn environment_overrides_the_file_which_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "cairn.toml",
                r#"
                data_dir = "/var/lib/cairn"
                [server]
                host = "0.0.0.0"
                port = 8080
                [database]
                max_connections = 30
                "#,
            )?;
            jail.set_env("CAIRN_SERVER__PORT", "9090");
            jail.set_env("DATABASE_URL", "postgres://owner:hunter2@db/cairn");
            jail.set_env("CAIRN_TOOLS_DIR", "/opt/elsewhere");
            jail.set_env("CAIRN_STORAGE__MAX_IMAGE_WIDTH", "4096");
            jail.set_env("CAIRN_JOBS__WORKERS__AI", "4");
            let settings = Settings::load(None).map_err(|e| e.to_string())?;
            assert_eq!(
                settings.jobs.workers.get("ai").copied(),
                Some(4),
                "a queue's workers from the environment"
            );
            assert_eq!(settings.server.port, 9090, "environment beats the file");
            assert_eq!(
                settings.server.host,
                IpAddr::from([0, 0, 0, 0]),
                "file beats defaults"
            );
            assert_eq!(settings.database.max_connections, 30);
            assert_eq!(
                (
                    settings.storage.max_image_width,
                    settings.storage.max_image_height,
                    settings.storage.max_image_pixels
                ),
                (4096, 16_384, 50_000_000)
            );
            assert_eq!(settings.data_dir, PathBuf::from("/var/lib/cairn"));
            assert_eq!(
                settings.log.filter, "info,sqlx=warn",
                "defaults fill the rest"
            );
            assert!(settings.database.migrate_on_start);
            let url = settings
                .database
                .url
                .as_ref()
                .map(|u| u.expose_secret().to_owned());
            assert_eq!(url.as_deref(), Some("postgres://owner:hunter2@db/cairn"));
            Ok(())
        });
    }

    #[test]
    fn bare_defaults_use_the_embedded_database_on_loopback() {
        figment::Jail::expect_with(|_| {
            let settings = Settings::load(None).map_err(|e| e.to_string())?;
            assert!(settings.database.url.is_none());
            assert_eq!(settings.server.host, IpAddr::from([127, 0, 0, 1]));
            assert_eq!(settings.data_dir, PathBuf::from(".cairn"));
            Ok(())
        });
    }

    #[test]
    fn secrets_never_print() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CAIRN_DATABASE__URL", "postgres://owner:hunter2@db/cairn");
            jail.set_env(
                "CAIRN_DATABASE__APP_URL",
                "postgres://app:swordfish@db/cairn",
            );
            jail.set_env("CAIRN_MAIL__SMTP_URL", "smtp://cairn:opensesame@mail:587");
            let settings = Settings::load(None).map_err(|e| e.to_string())?;
            let printed = format!("{settings:?} {settings:#?}");
            assert!(
                !printed.contains("hunter2")
                    && !printed.contains("swordfish")
                    && !printed.contains("opensesame"),
                "{printed}"
            );
            assert!(printed.contains("REDACTED"));
            Ok(())
        });
    }

    #[test]
    fn a_misspelt_setting_is_an_error_not_silently_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CAIRN_SERVER__PROT", "8080");
            let error = Settings::load(None).expect_err("unknown key").to_string();
            assert!(error.contains("prot"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn an_explicit_config_file_must_exist() {
        figment::Jail::expect_with(|_| {
            assert!(Settings::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }
}
