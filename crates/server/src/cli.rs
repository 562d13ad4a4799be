//! The `cairn` command line.

use crate::config::Settings;
use crate::database::{self, DatabaseTarget};
use crate::embedded_db::EmbeddedPostgres;
use crate::startup::{Application, shutdown_signal};
use anyhow::Context;
use clap::{Parser, Subcommand};
use migration::guard::{self, MigrateOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Cairn: a team's knowledge platform for building with AI.
#[derive(Debug, Parser)]
#[command(name = "cairn", version)]
pub struct Cli {
    /// Configuration file [default: ./cairn.toml if present]. `CAIRN_*` variables override it.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve Cairn (starting the embedded Postgres when no DATABASE_URL is set); also runs jobs.
    Serve,
    /// Run only background jobs from the shared queue, no HTTP (scale workers apart from web
    /// instances).
    Worker,
    /// Database administration.
    #[command(subcommand)]
    Db(DbCommand),
    /// Secrets at rest.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// People's accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Sync a project's linked repository into its Memory Hub now, following it with a progress
    /// bar; exits 0 when the sync completes, 1 when it fails or is cancelled (Ctrl-C cancels it).
    Sync {
        /// The project's id (on its Overview or in its address: /projects/<id>).
        project_id: String,
        /// Sync this branch instead of the linked one.
        #[arg(long)]
        branch: Option<String>,
    },
    /// AI workflows.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// The search index: embedding spaces.
    #[command(subcommand)]
    Embeddings(EmbeddingsCommand),
}

/// `cairn embeddings ...`
#[derive(Debug, Subcommand)]
pub enum EmbeddingsCommand {
    /// Index a team's knowledge now (every team with an embedding model, without --team): chunk
    /// what changed and embed what has no vector, following it with a progress bar; exits 0 once
    /// the space has a vector for every chunk, 1 when the indexing fails, 2 when the team or space
    /// does not exist or the team has no model.
    Backfill {
        /// The team's id (default: every team with an embedding model, one after another).
        #[arg(long)]
        team: Option<String>,
        /// The space to fill (default: the one building, else the active one).
        #[arg(long)]
        space: Option<String>,
    },
    /// Remove a retired embedding space with its vectors; exits 2 when it is in use or missing.
    DropSpace {
        /// The space's id (the AI page lists them).
        space: String,
    },
}

/// `cairn workflow ...`
#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// Run a workflow template on a note now, following it step by step with a progress bar;
    /// exits 0 when it completes (writing its report), 1 when it fails or is cancelled (Ctrl-C
    /// cancels it), 2 when the note or template does not exist or the run is refused.
    Run {
        /// The note's id (in its address: /projects/<id>/notes/<note id>).
        #[arg(long)]
        note: String,
        /// The template's name (default: the built-in "Image to implementation").
        #[arg(long)]
        template: Option<String>,
        /// Where to write the report (default: workflow-run-<id>.md here).
        #[arg(long)]
        report: Option<std::path::PathBuf>,
    },
}

/// `cairn accounts ...`
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Mark an account's address verified, on a Cairn that sends no e-mail (where no link can
    /// prove it): whoever runs the server vouches for it. Exits 2 when no account uses the address.
    VerifyEmail {
        /// The account's address.
        email: String,
    },
}

/// `cairn secrets ...`
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Seal every stored secret (projects' GitHub tokens and webhook secrets, AI providers' keys)
    /// again with the current key, so that previous keys can be retired; exits 1 if any value
    /// opens with no configured key (it is listed and left as it is).
    Reseal,
}

/// `cairn db ...`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations through the guard (drift check, dry run, destructive-change policy).
    Migrate(MigrateOptions),
    /// Report drift between the live schema and the recorded one; exits 1 on drift.
    Check,
    /// Print the embedded database's URL (the schema owner's, for psql).
    Url {
        /// Print the application role's URL instead.
        #[arg(long)]
        app: bool,
    },
    /// Start the embedded Postgres and leave it running.
    Start,
    /// Stop the embedded Postgres.
    Stop,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(cli.config.as_deref())?;
    crate::telemetry::init(&settings.log);
    match cli.command {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until_stopped(shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Worker => {
            let mut settings = settings;
            // No requests are answered: take no fixed port from a web instance on the same host.
            settings.server.port = 0;
            let app = Application::build(settings).await?;
            app.run_worker_until_stopped(shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Db(command) => run_db(settings, command).await,
        Command::Secrets(SecretsCommand::Reseal) => reseal(settings).await,
        Command::Accounts(AccountsCommand::VerifyEmail { email }) => {
            verify_email(settings, &email).await
        }
        Command::Sync { project_id, branch } => {
            crate::cli_sync::run(settings, &project_id, branch.as_deref()).await
        }
        Command::Workflow(WorkflowCommand::Run {
            note,
            template,
            report,
        }) => crate::cli_workflow::run(settings, &note, template.as_deref(), report).await,
        Command::Embeddings(EmbeddingsCommand::Backfill { team, space }) => {
            crate::cli_embeddings::backfill(settings, team.as_deref(), space.as_deref()).await
        }
        Command::Embeddings(EmbeddingsCommand::DropSpace { space }) => {
            crate::cli_embeddings::drop_space(settings, &space).await
        }
    }
}

/// `cairn secrets reseal`: as the schema owner, across teams.
async fn reseal(settings: Settings) -> anyhow::Result<ExitCode> {
    let keys = crate::secret_keys::load(&settings)?;
    let target = DatabaseTarget::resolve(&settings).await?;
    let owner = target.connect_owner().await?;
    let report = domain::reseal::reseal_all(&owner, &keys).await;
    owner.close().await?;
    target.release().await?;
    let report = report.map_err(|e| anyhow::anyhow!("resealing: {e}"))?;
    println!(
        "resealed {} project secret(s) and {} AI provider key(s) with the current key",
        report.project_secrets, report.provider_keys
    );
    for value in &report.unopenable {
        eprintln!("no configured key opens {value}: left as it is");
    }
    Ok(if report.unopenable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `cairn accounts verify-email`: as the schema owner (accounts belong to no team).
async fn verify_email(settings: Settings, email: &str) -> anyhow::Result<ExitCode> {
    let Ok(email) = api::accounts::Email::parse(email) else {
        eprintln!("{email:?} is not an e-mail address");
        return Ok(ExitCode::from(2));
    };
    let target = DatabaseTarget::resolve(&settings).await?;
    let owner = target.connect_owner().await?;
    let verified = domain::accounts::recovery::verify_as_operator(&owner, &email).await;
    owner.close().await?;
    target.release().await?;
    match verified.map_err(|e| anyhow::anyhow!("verifying: {e}"))? {
        true => {
            println!("{} is verified", email.as_str());
            Ok(ExitCode::SUCCESS)
        }
        false => {
            eprintln!("no account uses {}", email.as_str());
            Ok(ExitCode::from(2))
        }
    }
}

async fn run_db(settings: Settings, command: DbCommand) -> anyhow::Result<ExitCode> {
    match command {
        DbCommand::Migrate(options) => {
            let target = DatabaseTarget::resolve(&settings).await?;
            let result = database::migrate_and_grant(&target, options).await;
            target.release().await?;
            match result {
                Ok(report) => {
                    print!("{report}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    eprintln!("{error:#}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        DbCommand::Check => {
            let target = DatabaseTarget::resolve(&settings).await?;
            let owner = target.connect_owner().await?;
            let drift = guard::check_drift(&owner).await;
            owner.close().await?;
            target.release().await?;
            let drift = drift.context("reading the live schema")?;
            println!("{drift}");
            Ok(if drift.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        DbCommand::Url { app } => {
            let embedded = embedded(&settings)?;
            if !embedded.is_initialized() {
                anyhow::bail!("the embedded database is not created yet: run `cairn db start`");
            }
            let credentials = embedded.credentials()?;
            println!(
                "{}",
                if app {
                    credentials.app_url()
                } else {
                    credentials.owner_url()
                }
            );
            if !embedded.is_running().await? {
                eprintln!("(not running: start it with `cairn db start` or `cairn serve`)");
            }
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Start => {
            let (credentials, _) = embedded(&settings)?.start().await?;
            eprintln!(
                "embedded Postgres is running on 127.0.0.1:{}",
                credentials.port
            );
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Stop => {
            embedded(&settings)?.stop().await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn embedded(settings: &Settings) -> anyhow::Result<EmbeddedPostgres> {
    if settings.database.url.is_some() {
        anyhow::bail!("DATABASE_URL is set: Cairn uses that server, not the embedded one");
    }
    EmbeddedPostgres::new(&settings.data_dir, &settings.database.embedded)
}

/// For a command that queues work and follows it (`cairn sync`, `cairn workflow run`): builds the
/// application (answering no requests) and runs its job runtime, so the work runs even when no
/// `cairn serve` or `cairn worker` is up, while `follow` follows it with the application's context
/// and the longest one attempt of a job of kind `K` can last. When the follow ends, the runtime is
/// stopped (the job under way finishing first); if the runtime ends by itself, nothing here would
/// run the work (another instance still may): the command fails, saying so, about `what`.
pub(crate) async fn following_jobs<K, F, Fut>(
    mut settings: Settings,
    what: &str,
    follow: F,
) -> anyhow::Result<ExitCode>
where
    K: jobs::JobKind,
    F: FnOnce(services::AppContext, std::time::Duration) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<ExitCode>>,
{
    use anyhow::Context;
    use std::time::Duration;
    // Answers no requests: any free port.
    settings.server.port = 0;
    let lifetime = jobs::lifetime::<K>(
        settings.jobs.attempt_timeout_secs.map(Duration::from_secs),
        settings.jobs.stale_after_secs.map(Duration::from_secs),
    );
    let app = Application::build(settings).await?;
    let context = app.state().ctx.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut worker = tokio::spawn(app.run_worker_until_stopped(async {
        let _ = stopped.await;
    }));
    let followed = tokio::select! {
        followed = follow(context, lifetime) => followed,
        ended = &mut worker => {
            let reason = match ended {
                Ok(Ok(())) => "it stopped".to_owned(),
                Ok(Err(error)) => format!("{error:#}"),
                Err(error) => error.to_string(),
            };
            eprintln!("the job runtime of this command ended ({reason}); not waiting for the {what} any longer");
            return Ok(ExitCode::FAILURE);
        }
    };
    let _ = stop.send(());
    worker.await.context("the job runtime")??;
    followed
}
