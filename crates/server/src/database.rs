//! Which database Cairn uses, the two roles it connects as, and the checks on them.

use crate::config::Settings;
use crate::embedded_db::{EmbeddedPostgres, StartOutcome};
use anyhow::{Context, bail};
use migration::{MigrationLock, Migrator, guard};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// The database Cairn was pointed at, ready to connect to.
pub struct DatabaseTarget {
    /// URL of the schema owner (migrations).
    pub owner_url: SecretString,
    /// URL of the application role.
    pub app_url: SecretString,
    /// The embedded cluster, if that is what is used, and whether this process started it.
    pub embedded: Option<(EmbeddedPostgres, StartOutcome)>,
}

impl DatabaseTarget {
    /// Uses the configured server, or starts the embedded one when no URL is configured.
    pub async fn resolve(settings: &Settings) -> anyhow::Result<Self> {
        match (&settings.database.url, &settings.database.app_url) {
            (Some(owner_url), Some(app_url)) => Ok(Self {
                owner_url: owner_url.clone(),
                app_url: app_url.clone(),
                embedded: None,
            }),
            (Some(_), None) => bail!(
                "DATABASE_URL is set but CAIRN_DATABASE__APP_URL is not: Cairn serves requests as a \
                 separate role without BYPASSRLS so row-level security applies; create one (see \
                 deploy/postgres-init.sql) and set its URL"
            ),
            (None, _) => {
                let embedded =
                    EmbeddedPostgres::new(&settings.data_dir, &settings.database.embedded)?;
                let (credentials, outcome) = embedded.start().await?;
                Ok(Self {
                    owner_url: credentials.owner_url().into(),
                    app_url: credentials.app_url().into(),
                    embedded: Some((embedded, outcome)),
                })
            }
        }
    }

    /// Stops the embedded cluster if this process started it; leaves anything else running.
    pub async fn release(&self) -> anyhow::Result<()> {
        if let Some((embedded, StartOutcome::Started)) = &self.embedded {
            embedded.stop().await?;
        }
        Ok(())
    }

    /// Connects as the schema owner.
    pub async fn connect_owner(&self) -> anyhow::Result<DatabaseConnection> {
        connect(self.owner_url.expose_secret(), 2)
            .await
            .context("connecting as the schema owner")
    }

    /// Connects as the application role and refuses a role that would bypass row-level security.
    /// Every connection is checked on its way back to the pool (`health`).
    pub async fn connect_app(
        &self,
        max_connections: u32,
        health: &domain::PoolHealth,
    ) -> anyhow::Result<DatabaseConnection> {
        let db = connect_checked(self.app_url.expose_secret(), max_connections, health)
            .await
            .context("connecting as the application role")?;
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT current_user::text AS role, rolsuper, rolbypassrls
                   FROM pg_roles WHERE rolname = current_user",
            ))
            .await?
            .context("the application role is not in pg_roles")?;
        let role: String = row.try_get("", "role")?;
        if row.try_get::<bool>("", "rolsuper")? || row.try_get::<bool>("", "rolbypassrls")? {
            bail!(
                "refusing to serve as {role}: it is a superuser or has BYPASSRLS, so row-level \
                 security would not isolate tenants"
            );
        }
        Ok(db)
    }

    /// The application role's name, from its URL.
    pub fn app_role(&self) -> anyhow::Result<String> {
        let url = url::Url::parse(self.app_url.expose_secret())
            .context("the application database URL is not a URL")?;
        Ok(url.username().to_owned())
    }
}

/// Opens a pool. Statement logging stays off: provisioning statements carry passwords, and request
/// logs carry the request id instead.
pub async fn connect(
    url: &str,
    max_connections: u32,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    connect_checked(url, max_connections, &domain::PoolHealth::default()).await
}

/// [`connect`], counting in `health` the connections its release check finds dirty (inside a
/// transaction, or with a tenant set): those are rolled back and closed, never reused.
pub async fn connect_checked(
    url: &str,
    max_connections: u32,
    health: &domain::PoolHealth,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url);
    health.check_on_release(&mut options);
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        // Every connection is already pinged when it goes back to the pool; pinging it again when
        // it is taken out cost a round trip per query on a busy server. Only connections idle long
        // enough for a restart, proxy or firewall to have cut them are checked first.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Runs guarded migrations as the owner and grants the application role what it may do, holding
/// the migration lock: two instances starting at once migrate once, the second waits, then finds
/// nothing pending.
pub async fn migrate_and_grant(
    target: &DatabaseTarget,
    options: guard::MigrateOptions,
) -> anyhow::Result<guard::MigrationReport> {
    let lock = MigrationLock::acquire(target.owner_url.expose_secret())
        .await
        .context("taking the migration lock")?;
    let migrated = async {
        let owner = target.connect_owner().await?;
        let report = guard::migrate::<Migrator>(&owner, options).await?;
        if !options.dry_run {
            migration::grant_app_role(&owner, &target.app_role()?)
                .await
                .context("granting the application role its privileges")?;
        }
        owner.close().await?;
        anyhow::Ok(report)
    }
    .await;
    // Released also when the migration failed.
    lock.release().await?;
    migrated
}
