//! The embedded Postgres (with pgvector) that a bare `cairn serve` runs on.
//!
//! Layout under `<data_dir>/postgres/`: `data/` (the cluster), `log/postgres.log`, and
//! `credentials.json` (mode 0600: port and generated passwords). Postgres refuses to run as root, so
//! when Cairn runs as root the cluster belongs to, and runs as, the `postgres` system user.
//!
//! Roles: `postgres` (superuser, provisioning only), `cairn_owner` (owns the schema, runs
//! migrations; BYPASSRLS so backups before destructive migrations see every tenant's rows) and
//! `cairn_app` (what the server connects as: no superuser, no BYPASSRLS).

use crate::database::connect;
use anyhow::{Context, bail};
use rand::distr::{Alphanumeric, SampleString};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Name of the database Cairn's schema lives in.
pub const DATABASE_NAME: &str = "cairn";
/// Role that owns the schema.
pub const OWNER_ROLE: &str = "cairn_owner";
/// Role the application connects as.
pub const APP_ROLE: &str = "cairn_app";
const SUPERUSER: &str = "postgres";
const SYSTEM_USER: &str = "postgres";

/// How to find and run the embedded cluster.
#[derive(Debug, Clone)]
pub struct EmbeddedPostgres {
    root: PathBuf,
    bin_dir: PathBuf,
    run_as: Option<SystemUser>,
    ephemeral: bool,
    requested_port: u16,
    shared_buffers_mb: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
struct SystemUser {
    uid: u32,
    gid: u32,
}

/// Generated once per cluster, kept in `credentials.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Credentials {
    /// Port on 127.0.0.1.
    pub port: u16,
    superuser_password: String,
    owner_password: String,
    app_password: String,
}

impl Credentials {
    fn url(&self, user: &str, password: &str, database: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// URL of the schema owner, for migrations and for `psql`.
    pub fn owner_url(&self) -> String {
        self.owner_url_for(DATABASE_NAME)
    }

    /// URL of the application role.
    pub fn app_url(&self) -> String {
        self.app_url_for(DATABASE_NAME)
    }

    /// URL of the schema owner on another database of the cluster.
    pub fn owner_url_for(&self, database: &str) -> String {
        self.url(OWNER_ROLE, &self.owner_password, database)
    }

    /// URL of the application role on another database of the cluster.
    pub fn app_url_for(&self, database: &str) -> String {
        self.url(APP_ROLE, &self.app_password, database)
    }

    /// URL of the cluster's superuser on `database`: for provisioning, and for tests that create
    /// databases. Never used to serve requests.
    pub fn superuser_url(&self, database: &str) -> String {
        self.url(SUPERUSER, &self.superuser_password, database)
    }
}

/// Whether `start` found the cluster running or started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    /// It was already running (another process started it); leave it running.
    AlreadyRunning,
    /// This process started it; stop it on shutdown.
    Started,
}

impl EmbeddedPostgres {
    /// Describes the cluster under `data_dir`. Finds the Postgres binaries; does not start anything.
    pub fn new(
        data_dir: &Path,
        settings: &crate::config::EmbeddedSettings,
    ) -> anyhow::Result<Self> {
        let bin_dir = match &settings.postgres_bin_dir {
            Some(dir) => dir.clone(),
            None => default_bin_dir().context(
                "no Postgres with pgvector found: run `scripts/setup.sh`, or set \
                 CAIRN_DATABASE__EMBEDDED__POSTGRES_BIN_DIR, or set DATABASE_URL to use your own server",
            )?,
        };
        for tool in ["initdb", "pg_ctl", "postgres"] {
            if !bin_dir.join(tool).is_file() {
                bail!(
                    "{} has no {tool}: is it a Postgres bin directory?",
                    bin_dir.display()
                );
            }
        }
        let root = std::path::absolute(data_dir.join("postgres"))?;
        let run_as = if running_as_root()? {
            Some(system_user(SYSTEM_USER)?)
        } else {
            None
        };
        Ok(Self {
            root,
            bin_dir,
            run_as,
            ephemeral: settings.ephemeral,
            requested_port: settings.port,
            shared_buffers_mb: settings.shared_buffers_mb,
        })
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn credentials_path(&self) -> PathBuf {
        self.root.join("credentials.json")
    }

    /// Whether the cluster has been created.
    pub fn is_initialized(&self) -> bool {
        self.data().join("PG_VERSION").is_file()
    }

    /// The cluster's credentials, if it has been created.
    pub fn credentials(&self) -> anyhow::Result<Credentials> {
        let text = std::fs::read_to_string(self.credentials_path())
            .with_context(|| format!("reading {}", self.credentials_path().display()))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Creates the cluster if needed, starts it if it is not running, and makes sure the roles,
    /// database and pgvector extension exist. Idempotent.
    pub async fn start(&self) -> anyhow::Result<(Credentials, StartOutcome)> {
        if !self.is_initialized() {
            self.init().await?;
        }
        let credentials = self.credentials()?;
        let outcome = if self.is_running().await? {
            StartOutcome::AlreadyRunning
        } else {
            let log = self.root.join("log").join("postgres.log");
            let log_arg = log.to_string_lossy();
            let mut args = vec!["start", "-w", "-t", "60", "-s", "-l", &log_arg];
            let options = self
                .shared_buffers_mb()
                .map(|mb| format!("-c shared_buffers={mb}MB"));
            if let Some(options) = &options {
                args.extend(["-o", options]);
            }
            let output = self.pg_ctl(&args).await?;
            if !output.status.success() {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(10).collect();
                bail!(
                    "embedded Postgres did not start: {}\n{}",
                    String::from_utf8_lossy(&output.stderr).trim(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            StartOutcome::Started
        };
        self.provision(&credentials).await?;
        Ok((credentials, outcome))
    }

    /// Postgres's cache for this cluster: the setting, else a quarter of the machine's (or the
    /// container's) memory within 128 MiB and 8 GiB; none for a throwaway cluster (Postgres's
    /// default).
    fn shared_buffers_mb(&self) -> Option<u32> {
        if self.ephemeral {
            return None;
        }
        self.shared_buffers_mb.or_else(|| {
            let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
            let kib: u64 = meminfo
                .lines()
                .find(|line| line.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            // In a container, its memory limit is the machine's memory.
            let limit = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
                .ok()
                .and_then(|max| max.trim().parse::<u64>().ok())
                .map_or(u64::MAX, |bytes| bytes / 1024);
            u32::try_from((kib.min(limit) / 1024 / 4).clamp(128, 8192)).ok()
        })
    }

    /// Stops the cluster (fast shutdown: open transactions are rolled back, data is safe).
    pub async fn stop(&self) -> anyhow::Result<()> {
        if !self.is_initialized() || !self.is_running().await? {
            return Ok(());
        }
        let output = self.pg_ctl(&["stop", "-w", "-s", "-m", "fast"]).await?;
        if !output.status.success() {
            bail!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// Whether a postmaster is running on the data directory.
    pub async fn is_running(&self) -> anyhow::Result<bool> {
        if !self.is_initialized() {
            return Ok(false);
        }
        // pg_ctl status: 0 running, 3 not running, 4 no accessible data directory.
        Ok(self.pg_ctl(&["status"]).await?.status.success())
    }

    async fn init(&self) -> anyhow::Result<()> {
        let data = self.data();
        let log_dir = self.root.join("log");
        for dir in [&self.root, &data, &log_dir] {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700))?;
        let port = if self.requested_port == 0 {
            free_port()?
        } else {
            self.requested_port
        };
        let credentials = Credentials {
            port,
            superuser_password: random_password(),
            owner_password: random_password(),
            app_password: random_password(),
        };
        write_private(
            &self.credentials_path(),
            &serde_json::to_string_pretty(&credentials)?,
        )?;
        let pwfile = self.root.join("initdb-password");
        write_private(&pwfile, &credentials.superuser_password)?;
        if let Some(user) = self.run_as {
            for path in [&data, &log_dir, &pwfile] {
                std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
                    .with_context(|| format!("giving {} to the postgres user", path.display()))?;
            }
        }
        let output = self
            .command("initdb")
            .args([
                "-D",
                &data.to_string_lossy(),
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .args(["--auth=scram-sha-256", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .await
            .context("running initdb")?;
        let _ = std::fs::remove_file(&pwfile);
        if !output.status.success() {
            // Leave no half-made cluster behind: the next start tries again from scratch.
            let _ = std::fs::remove_dir_all(&data);
            bail!(
                "initdb failed (is {} readable by the postgres user?): {}",
                self.root.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let mut conf = format!(
            "\n# Cairn embedded defaults\nlisten_addresses = '127.0.0.1'\nport = {port}\n\
             unix_socket_directories = ''\nmax_connections = 200\n"
        );
        if self.ephemeral {
            conf.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let conf_path = data.join("postgresql.auto.conf");
        let existing = std::fs::read_to_string(&conf_path).unwrap_or_default();
        std::fs::write(&conf_path, existing + &conf)?;
        if let Some(user) = self.run_as {
            std::os::unix::fs::chown(&conf_path, Some(user.uid), Some(user.gid))?;
        }
        Ok(())
    }

    async fn provision(&self, credentials: &Credentials) -> anyhow::Result<()> {
        let admin = connect(&credentials.superuser_url("postgres"), 1)
            .await
            .context("connecting to the embedded Postgres as its superuser")?;
        let roles = [
            (OWNER_ROLE, &credentials.owner_password, "BYPASSRLS"),
            (APP_ROLE, &credentials.app_password, "NOBYPASSRLS"),
        ];
        for (role, password, rls) in roles {
            // Passwords are generated alphanumeric strings, safe inside a literal.
            admin
                .execute_unprepared(&format!(
                    "DO $$ BEGIN
                         IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                             CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE {rls}
                                 PASSWORD '{password}';
                         END IF;
                     END $$"
                ))
                .await?;
        }
        let exists = admin
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT 1 AS one FROM pg_database WHERE datname = '{DATABASE_NAME}'"),
            ))
            .await?
            .is_some();
        if !exists {
            admin
                .execute_unprepared(&format!(
                    "CREATE DATABASE {DATABASE_NAME} OWNER {OWNER_ROLE}"
                ))
                .await?;
        }
        admin.close().await?;
        // pgvector is not a trusted extension: only a superuser may create it.
        let cairn = connect(&credentials.superuser_url(DATABASE_NAME), 1).await?;
        cairn
            .execute_unprepared("CREATE EXTENSION IF NOT EXISTS vector")
            .await?;
        cairn.close().await?;
        Ok(())
    }

    async fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<Output> {
        self.command("pg_ctl")
            .args(["-D", &self.data().to_string_lossy()])
            .args(args)
            .output()
            .await
            .context("running pg_ctl")
    }

    fn command(&self, tool: &str) -> tokio::process::Command {
        let mut std_command = std::process::Command::new(self.bin_dir.join(tool));
        std_command.stdin(std::process::Stdio::null());
        // `pg_ctl start` leaves the postmaster running: it must not be killed with this process's
        // process group by a Ctrl-C in the terminal, so Cairn can stop it cleanly itself.
        std_command.process_group(0);
        if let Some(user) = self.run_as {
            std_command
                .uid(user.uid)
                .gid(user.gid)
                .current_dir(&self.root);
        }
        tokio::process::Command::from(std_command)
    }
}

/// `$CAIRN_TOOLS_DIR/postgres/bin`, else the setup script's default locations.
fn default_bin_dir() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(tools) = std::env::var_os("CAIRN_TOOLS_DIR") {
        candidates.push(PathBuf::from(tools));
    }
    candidates.push(PathBuf::from("/opt/cairn"));
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".local/share/cairn"));
    }
    candidates
        .into_iter()
        .map(|dir| dir.join("postgres").join("bin"))
        .find(|bin| bin.join("pg_ctl").is_file())
}

fn running_as_root() -> anyhow::Result<bool> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let uid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .context("no effective uid in /proc/self/status")?;
    Ok(uid == "0")
}

fn system_user(name: &str) -> anyhow::Result<SystemUser> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name) && fields.len() > 3).then(|| {
                Some(SystemUser {
                    uid: fields[2].parse().ok()?,
                    gid: fields[3].parse().ok()?,
                })
            })?
        })
        .with_context(|| {
            format!(
                "Postgres refuses to run as root and there is no `{name}` user to run it as: \
                 run `scripts/setup.sh` (it creates one) or run Cairn as a regular user"
            )
        })
}

fn random_password() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}
