//! The one place the application is assembled.

use crate::config::Settings;
use crate::database::{self, DatabaseTarget};
use crate::events::EventHub;
use anyhow::Context;
use app::assets::Assets;
use app::state::AppState;
use domain::Db;
use domain::accounts::PasswordHasher;
use leptos::config::LeptosOptions;
use mail::Mailer;
use migration::guard::MigrateOptions;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use services::AppContext;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A built application: database ready, router assembled, port bound.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    database: DatabaseTarget,
    state: AppState,
    sweep: SweepSchedule,
    /// Whether and how this instance runs jobs.
    jobs: crate::config::JobSettings,
    /// The application role's pool (the state's `Db` wraps the same one).
    pool: DatabaseConnection,
    events: EventsRunning,
}

/// The instance's event listener and how to stop it.
struct EventsRunning {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl EventsRunning {
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// When the storage sweeper runs.
#[derive(Debug, Clone, Copy)]
struct SweepSchedule {
    interval: Option<Duration>,
    grace: Duration,
}

impl Application {
    /// Resolves the database (starting the embedded one if no URL is configured), runs guarded
    /// migrations if configured to, connects as the application role and binds the port.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database = DatabaseTarget::resolve(&settings).await?;
        let jobs = settings.jobs.clone();
        let sweep = SweepSchedule {
            interval: (settings.storage.sweep_interval_secs > 0)
                .then(|| Duration::from_secs(settings.storage.sweep_interval_secs)),
            grace: Duration::from_secs(settings.storage.sweep_grace_secs),
        };
        match Self::assemble(settings, &database).await {
            Ok(Assembled {
                listener,
                router,
                state,
                pool,
                events,
            }) => Ok(Self {
                listener,
                router,
                database,
                state,
                sweep,
                jobs,
                pool,
                events,
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

    async fn assemble(settings: Settings, database: &DatabaseTarget) -> anyhow::Result<Assembled> {
        if settings.database.migrate_on_start {
            let report = database::migrate_and_grant(database, MigrateOptions::default()).await?;
            for plan in &report.planned {
                tracing::info!(migration = %plan.name, "migration applied");
            }
        }
        let pool_health = domain::PoolHealth::default();
        let conn = database
            .connect_app(settings.database.max_connections, &pool_health)
            .await?;
        // Leptos requires a bundle name; the pages name their bundles from `pkg/manifest.json`.
        let leptos_options = LeptosOptions::builder()
            .output_name("frontend")
            .site_root(settings.server.site_dir.to_string_lossy().into_owned())
            .site_pkg_dir("pkg")
            .build();
        let assets = match Assets::load(&settings.server.site_dir.join("pkg")) {
            Ok(assets) => assets,
            Err(error) => {
                tracing::warn!(%error, "no browser bundle: pages will not be interactive (build it with `trunk build --release`)");
                Assets::default()
            }
        };
        let images = crate::storage::image_store(&settings)?;
        let secrets = crate::secret_keys::load(&settings)?;
        // An empty URL (an unset variable in a compose file) means no e-mail, like no URL.
        let mailer = match &settings.mail.smtp_url {
            Some(url) if !url.expose_secret().trim().is_empty() => {
                Mailer::smtp(url, &settings.mail.from).context("mail settings")?
            }
            _ => Mailer::disabled(),
        };
        let address = SocketAddr::new(settings.server.host, settings.server.port);
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("binding {address}"))?;
        let public_url = match &settings.server.public_url {
            Some(url) => public_origin(url)?,
            None => format!("http://{}", listener.local_addr()?),
        };
        let accounts = &settings.accounts;
        let ctx = AppContext {
            db: Db::new(conn.clone())
                .with_pool_health(pool_health)
                .with_session_idle_timeout(Duration::from_secs(
                    accounts.session_idle_timeout_hours.saturating_mul(3600),
                )),
            images,
            passwords: PasswordHasher::with_memory_budget(
                accounts.password_hashing_memory_mib,
                Duration::from_millis(accounts.password_hashing_wait_ms),
            ),
            mailer,
            secrets,
            ai: ai_config(&settings.llm)?,
            github: settings.github.clone(),
            public_url,
        };
        let state = AppState {
            leptos_options,
            assets: Arc::new(assets),
            ctx,
            secure_cookies: settings.server.secure_cookies,
            trust_proxy_headers: settings.server.trust_proxy_headers,
            trusted_proxies: settings.server.trusted_proxies,
        };
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let (hub, task) =
            EventHub::start(database.app_url.expose_secret().to_owned(), async move {
                let mut stopping = stopping;
                let _ = stopping.wait_for(|stop| *stop).await;
            });
        let router = crate::routes::router(
            state.clone(),
            crate::routes::Shared {
                events: hub,
                sse_keep_alive: Duration::from_secs(settings.server.sse_keep_alive_secs.max(1)),
                streams: crate::routes::StreamSlots::new(
                    settings.server.max_event_streams_per_user,
                    settings.server.max_event_streams,
                ),
                pool: conn.clone(),
                token_limit: crate::routes::TokenLimit::per_minute(
                    settings.server.api_token_requests_per_minute,
                ),
                body_limit: crate::routes::BodyLimit(
                    usize::try_from(settings.server.max_request_bytes).unwrap_or(usize::MAX),
                ),
            },
        );
        Ok(Assembled {
            listener,
            router,
            state,
            pool: conn,
            events: EventsRunning { stop, task },
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The state handlers see (for tests that arrange data directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs only background jobs, no HTTP, until `shutdown` completes (`cairn worker`, for
    /// deployments that scale workers apart from web instances); the job under way finishes first.
    pub async fn run_worker_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            database,
            state,
            sweep,
            jobs: job_settings,
            pool,
            events,
            ..
        } = self;
        // A worker answers no requests.
        drop(listener);
        events.stop().await;
        tracing::info!("cairn is running jobs (no HTTP)");
        let jobs = JobsRunning::start(&state.ctx, &pool, &database, sweep, &job_settings);
        shutdown.await;
        jobs.stop().await;
        let _ = pool.close().await;
        database.release().await
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
            sweep,
            jobs: job_settings,
            pool,
            events,
        } = self;
        tracing::info!(address = %listener.local_addr()?, "cairn is serving");
        // A web-only instance leaves the jobs to `cairn worker`s.
        let jobs = job_settings
            .enabled
            .then(|| JobsRunning::start(&state.ctx, &pool, &database, sweep, &job_settings));
        // Connect info gives server functions the peer address (log-in rate limits).
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        // Streamed pages are written in several chunks: without TCP_NODELAY, Nagle's algorithm and
        // the client's delayed ACK hold each later chunk back by ~40 ms.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "setting TCP_NODELAY");
            }
        });
        let served = axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await;
        // Requests are done: stop claiming jobs, and let the one under way finish.
        if let Some(jobs) = jobs {
            jobs.stop().await;
        }
        events.stop().await;
        let _ = pool.close().await;
        database.release().await?;
        served.context("serving HTTP")
    }
}

/// What `assemble` builds.
struct Assembled {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    pool: DatabaseConnection,
    events: EventsRunning,
}

/// This instance's part of the background work: it runs jobs from the shared queue, and takes part in
/// the sweep's schedule (one sweep per interval, whichever instance enqueues it first).
struct JobsRunning {
    stop: tokio::sync::watch::Sender<bool>,
    worker: tokio::task::JoinHandle<()>,
    schedule: Option<tokio::task::JoinHandle<()>>,
    /// The projects' sync schedules: a round enqueued per slot.
    sync_schedule: Option<tokio::task::JoinHandle<()>>,
    /// Pruning old job events: once a day.
    pruning: tokio::task::JoinHandle<()>,
}

impl JobsRunning {
    fn start(
        app: &AppContext,
        pool: &DatabaseConnection,
        database: &DatabaseTarget,
        sweep: SweepSchedule,
        settings: &crate::config::JobSettings,
    ) -> Self {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut stopping = stopping.clone();
            async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            }
        };
        let mut runtime = services::jobs::runtime(app, pool)
            .stale_after(settings.stale_after_secs.map(Duration::from_secs))
            .attempt_timeout(settings.attempt_timeout_secs.map(Duration::from_secs))
            .listening_on(database.app_url.expose_secret());
        for (queue, count) in &settings.workers {
            runtime = runtime.workers(queue, *count);
        }
        let schedule = sweep.interval.map(|interval| {
            runtime.every::<services::jobs::StorageSweep>(
                interval,
                services::jobs::SweepPayload {
                    grace_secs: sweep.grace.as_secs(),
                },
                stopped(),
            )
        });
        let sync_schedule = (settings.schedule_check_secs > 0).then(|| {
            runtime.every::<services::jobs::ScheduleCheck>(
                Duration::from_secs(settings.schedule_check_secs),
                services::jobs::ScheduleCheckPayload {},
                stopped(),
            )
        });
        let pruning = runtime.every::<services::jobs::PruneJobEvents>(
            Duration::from_secs(86_400),
            services::jobs::PrunePayload {
                retention_days: settings.events_retention_days,
            },
            stopped(),
        );
        let worker = tokio::spawn(runtime.run(stopped()));
        Self {
            stop,
            worker,
            schedule,
            sync_schedule,
            pruning,
        }
    }

    /// Stops claiming jobs and waits for the one under way.
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.worker.await;
        if let Some(schedule) = self.schedule {
            let _ = schedule.await;
        }
        if let Some(sync_schedule) = self.sync_schedule {
            let _ = sync_schedule.await;
        }
        let _ = self.pruning.await;
    }
}

/// The catalog, the router's patience and the instance's providers, from `[llm]`. A provider
/// whose key variable is named but unset is an error at start, not a 401 at the first question.
fn ai_config(settings: &crate::config::LlmSettings) -> anyhow::Result<services::ai::AiConfig> {
    let router_settings = llm::RouterSettings {
        request_timeout: Duration::from_secs(settings.request_timeout_secs.max(1)),
        first_token_timeout: Duration::from_secs(settings.first_token_timeout_secs.max(1)),
        max_retries: settings.max_retries,
        max_pause: Duration::from_secs(settings.max_retry_wait_secs),
        call_deadline: Duration::from_secs(settings.ask_deadline_secs.max(1)),
        ..llm::RouterSettings::default()
    };
    let asks = services::ai::AskSlots::new(settings.max_asks_per_team, settings.max_asks_in_flight);
    let catalog = llm::Catalog::builtin();
    let transport =
        llm::Transport::new(router_settings.connect_timeout).context("the AI HTTP client")?;
    let policy = llm::AddressPolicy::parse(&settings.allowed_private_hosts)
        .map_err(|e| anyhow::anyhow!("llm.allowed_private_hosts: {e}"))?;
    let team_transport = llm::Transport::guarded(router_settings.connect_timeout, policy)
        .context("the AI HTTP client for teams' providers")?;
    if settings.providers.is_empty() {
        return Ok(services::ai::AiConfig {
            catalog: std::sync::Arc::new(catalog),
            settings: router_settings,
            transport,
            team_transport,
            instance: None,
            asks,
            team_monthly_budget_usd: settings.team_monthly_budget_usd,
        });
    }
    let mut providers = Vec::new();
    let mut first_models = Vec::new();
    for provider in &settings.providers {
        let what = format!("llm.providers {:?}", provider.name);
        let kind = api::ai::ProviderKind::parse(&provider.kind)
            .with_context(|| format!("{what}: unknown kind {:?}", provider.kind))?;
        let base_url = match &provider.base_url {
            Some(url) => url.clone(),
            None => kind
                .default_base_url()
                .with_context(|| format!("{what}: base_url is required for kind custom"))?
                .to_owned(),
        };
        let api_key = match &provider.api_key_env {
            Some(var) => Some(secrecy::SecretString::from(
                std::env::var(var).with_context(|| {
                    format!("{what}: the environment variable {var} holding its key is not set")
                })?,
            )),
            None => None,
        };
        if let Some(model) = provider.models.first() {
            first_models.push(format!("{}/{model}", provider.name));
        }
        providers.push(llm::ProviderConfig {
            name: provider.name.clone(),
            kind,
            base_url,
            api_key,
        });
    }
    let names = if settings.chain.is_empty() {
        first_models
    } else {
        settings.chain.clone()
    };
    let mut chain = llm::Chain::parse(names.iter().map(String::as_str))
        .map_err(|e| anyhow::anyhow!("llm.chain: {e}"))?;
    chain.fall_over_on_refusal = settings.fall_over_on_refusal;
    for step in &chain.steps {
        if !settings.providers.iter().any(|p| p.name == step.provider) {
            anyhow::bail!(
                "llm.chain names {:?}, which is not in llm.providers",
                step.provider
            );
        }
    }
    let router = llm::Router::over(
        &transport,
        providers,
        catalog.clone(),
        router_settings.clone(),
    )
    .context("llm.providers")?;
    Ok(services::ai::AiConfig {
        catalog: std::sync::Arc::new(catalog),
        settings: router_settings,
        transport,
        team_transport,
        instance: Some(std::sync::Arc::new(services::ai::InstanceAi {
            router,
            chain,
        })),
        asks,
        team_monthly_budget_usd: settings.team_monthly_budget_usd,
    })
}

/// `server.public_url` as an origin: scheme, host and port, without a path or a trailing slash.
fn public_origin(url: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(url).with_context(|| format!("server.public_url {url:?}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        anyhow::bail!(
            "server.public_url must be an http(s) address, such as https://cairn.example.com"
        );
    }
    Ok(parsed.origin().ascii_serialization())
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
