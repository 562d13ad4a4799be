//! The one place the application is assembled.

use crate::config::Settings;
use crate::database::{self, DatabaseTarget};
use anyhow::Context;
use domain::Db;
use migration::guard::MigrateOptions;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The application role's pool (row-level security applies).
    pub db: Db,
    /// The settings the app was built with.
    pub settings: Arc<Settings>,
}

/// A built application: database ready, router assembled, port bound.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    database: DatabaseTarget,
    state: AppState,
}

impl Application {
    /// Resolves the database (starting the embedded one if no URL is configured), runs guarded
    /// migrations if configured to, connects as the application role and binds the port.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database = DatabaseTarget::resolve(&settings).await?;
        match Self::assemble(settings, &database).await {
            Ok((listener, router, state)) => Ok(Self {
                listener,
                router,
                database,
                state,
            }),
            Err(error) => {
                // Do not leave behind an embedded Postgres this attempt started.
                if let Err(release) = database.release().await {
                    tracing::warn!(error = %release, "stopping the embedded Postgres");
                }
                Err(error)
            }
        }
    }

    async fn assemble(
        settings: Settings,
        database: &DatabaseTarget,
    ) -> anyhow::Result<(TcpListener, axum::Router, AppState)> {
        if settings.database.migrate_on_start {
            let report = database::migrate_and_grant(database, MigrateOptions::default()).await?;
            for plan in &report.planned {
                tracing::info!(migration = %plan.name, "migration applied");
            }
        }
        let conn = database
            .connect_app(settings.database.max_connections)
            .await?;
        let state = AppState {
            db: Db::new(conn),
            settings: Arc::new(settings),
        };
        let address = SocketAddr::new(state.settings.server.host, state.settings.server.port);
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("binding {address}"))?;
        let router = crate::routes::router(state.clone());
        Ok((listener, router, state))
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The state handlers see (for tests that arrange data directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, lets in-flight requests finish, closes the pool and stops
    /// the embedded Postgres if this process started it.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            database,
            state,
        } = self;
        tracing::info!(address = %listener.local_addr()?, "cairn is serving");
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = state.db.connection().clone().close().await;
        database.release().await?;
        served.context("serving HTTP")
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
