//! `cairn-migration`: the guarded migrations as a standalone step, for operators who migrate before
//! rolling out new instances. Connects with `DATABASE_URL` (the schema owner's role).

use anyhow::Context;
use clap::{Parser, Subcommand};
use migration::{Migrator, guard};
use sea_orm_migration::sea_orm::Database;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cairn-migration",
    about = "Guarded schema migrations for Cairn"
)]
struct Cli {
    /// Connection URL of the role that owns Cairn's schema.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The role Cairn serves requests as; granted access to the tables after migrating.
    #[arg(long, default_value = "cairn_app")]
    app_role: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations through the guard.
    Migrate(guard::MigrateOptions),
    /// Report drift between the live schema and the recorded one; exits 1 if there is any.
    Check,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    let db = Database::connect(&cli.database_url)
        .await
        .context("connecting to the database")?;
    match cli.command {
        Command::Migrate(options) => {
            let lock = migration::MigrationLock::acquire(&cli.database_url)
                .await
                .context("taking the migration lock")?;
            let outcome = match guard::migrate::<Migrator>(&db, options).await {
                Ok(report) => {
                    if !options.dry_run {
                        migration::grant_app_role(&db, &cli.app_role)
                            .await
                            .context("granting the application role")?;
                    }
                    print!("{report}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("{error}");
                    ExitCode::FAILURE
                }
            };
            lock.release().await?;
            Ok(outcome)
        }
        Command::Check => {
            let drift = guard::check_drift(&db)
                .await
                .context("reading the schema")?;
            println!("{drift}");
            Ok(if drift.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
