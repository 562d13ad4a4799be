//! The migration guard: drift check, dry run with schema diff, destructive-change policy, backups and
//! protected-column verification. See the crate README for the sequence.

mod diff;
mod snapshot;

pub use diff::{SchemaChange, diff};
pub use snapshot::{
    ColumnSnapshot, IndexSnapshot, ProtectedColumn, SchemaSnapshot, TableSnapshot,
    is_protected_column,
};

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbBackend, Statement, TransactionTrait,
};
use serde::Serialize;
use std::collections::{BTreeSet, HashSet};
use std::fmt;

/// Where the schema is recorded after every guarded migration.
pub const HISTORY_TABLE: &str = "cairn_schema_history";
/// Where tables are copied before an allowed destructive migration touches them.
pub const BACKUP_SCHEMA: &str = "cairn_backup";

/// A migrator whose migrations go through the guard.
pub trait GuardedMigrator: MigratorTrait {
    /// Names of the migrations that are meant to drop or retype something. Only these may, and only
    /// when the operator also passes `--allow-destructive`.
    fn destructive_migrations() -> Vec<&'static str> {
        Vec::new()
    }
}

/// How `migrate` may proceed; also the command-line flags of `cairn db migrate` and
/// `cairn-migration migrate`.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct MigrateOptions {
    /// Let migrations marked destructive drop or retype what they declare, after a backup.
    #[arg(long)]
    pub allow_destructive: bool,
    /// Plan and check only; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// One pending migration and what its dry run changed.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedMigration {
    /// Migration name.
    pub name: String,
    /// Every schema change it made in the dry run.
    pub changes: Vec<SchemaChange>,
    /// Whether it is listed as destructive.
    pub marked_destructive: bool,
}

/// What a guarded migration run did.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationReport {
    /// The pending migrations, with their dry-run changes.
    pub planned: Vec<PlannedMigration>,
    /// Whether they were applied (false for a dry run or when nothing was pending).
    pub applied: bool,
    /// Backup tables written before destructive changes, as `cairn_backup.<name>`.
    pub backups: Vec<String>,
    /// The protected columns verified after the run.
    pub protected_verified: Vec<ProtectedColumn>,
}

/// The difference between the recorded schema and the live one.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DriftReport {
    /// When the recorded schema was taken, if there is one.
    pub recorded_at: Option<String>,
    /// How the live schema differs from the recorded one.
    pub changes: Vec<SchemaChange>,
    /// Migrations marked applied that the recorded schema does not include (applied by other tools).
    pub unrecorded_migrations: Vec<String>,
}

impl DriftReport {
    /// Whether the live schema is exactly the recorded one.
    pub fn is_clean(&self) -> bool {
        self.changes.is_empty() && self.unrecorded_migrations.is_empty()
    }

    /// SQL (and, where SQL cannot help, comments) that brings the live schema back to the recorded one.
    pub fn repair_sql(&self) -> String {
        self.changes
            .iter()
            .map(SchemaChange::repair_sql)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Display for DriftReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return write!(f, "no drift: the live schema matches the recorded one");
        }
        writeln!(
            f,
            "the live schema differs from the one recorded {}:",
            self.recorded_at
                .as_deref()
                .map_or("(none)".to_owned(), |at| format!("at {at}"))
        )?;
        for change in &self.changes {
            let marker = if change.touches_protected_column() {
                " [protected]"
            } else {
                ""
            };
            writeln!(f, "  - {change}{marker}")?;
        }
        for name in &self.unrecorded_migrations {
            writeln!(
                f,
                "  - migration {name} was applied outside `cairn db migrate`"
            )?;
        }
        if !self.changes.is_empty() {
            writeln!(f, "repair SQL:")?;
            for line in self.repair_sql().lines() {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

/// Why a guarded migration did not run.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The live schema is not the recorded one.
    #[error("refusing to migrate over drift; nothing was changed.\n{0}")]
    Drift(DriftReport),
    /// A migration would destroy data and is not allowed to.
    #[error(
        "refusing destructive migration {migration}; nothing was changed.\n{}\n{}",
        .changes.iter().map(|c| format!("  - {c}")).collect::<Vec<_>>().join("\n"),
        if *.marked {
            "It is marked destructive: pass --allow-destructive to apply it (affected tables are backed up first)."
        } else {
            "It is not marked destructive. If losing this is intended, list it in destructive_migrations() and pass --allow-destructive."
        }
    )]
    Destructive {
        /// The migration.
        migration: String,
        /// Its destructive changes.
        changes: Vec<SchemaChange>,
        /// Whether it is marked destructive (then only `--allow-destructive` was missing).
        marked: bool,
    },
    /// A protected column or its index would not survive.
    #[error("protected columns failed verification; nothing was committed:\n  - {}", .0.join("\n  - "))]
    ProtectedColumnLost(Vec<String>),
    /// Destructive changes need backups, and backups need to see every tenant's rows.
    #[error(
        "the migrating role {0} can not read every tenant's rows (it needs BYPASSRLS), so the backup \
         before a destructive migration would be incomplete; nothing was changed"
    )]
    BackupWouldBeIncomplete(String),
    /// Cairn applies all pending migrations in one transaction.
    #[error(
        "migration {0} opts out of transactions; Cairn's guard needs every migration transactional"
    )]
    NonTransactional(String),
    /// A migration failed to run.
    #[error("migration {migration} failed: {source}")]
    Failed {
        /// The migration.
        migration: String,
        /// The database error.
        source: DbErr,
    },
    /// The database failed outside a migration.
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// Compares the live schema with the one recorded by the last guarded migration. Read-only.
pub async fn check_drift<C: ConnectionTrait>(db: &C) -> Result<DriftReport, DbErr> {
    let live = SchemaSnapshot::read(db).await?;
    let applied = applied_migrations(db).await?;
    let Some(recorded) = recorded_schema(db).await? else {
        return Ok(DriftReport {
            recorded_at: None,
            changes: Vec::new(),
            unrecorded_migrations: applied,
        });
    };
    let recorded_names: HashSet<&String> = recorded.migrations.iter().collect();
    Ok(DriftReport {
        recorded_at: Some(recorded.recorded_at),
        changes: diff(&recorded.snapshot, &live),
        unrecorded_migrations: applied
            .into_iter()
            .filter(|m| !recorded_names.contains(m))
            .collect(),
    })
}

/// Names of the migrations `M` has that the database has not applied yet. Read-only.
pub async fn pending_migrations<M: MigratorTrait, C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<String>, DbErr> {
    let applied: HashSet<String> = applied_migrations(db).await?.into_iter().collect();
    Ok(M::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .filter(|name| !applied.contains(name))
        .collect())
}

/// Applies `M`'s pending migrations through the guard. `db` must connect as the schema's owner.
pub async fn migrate<M: GuardedMigrator>(
    db: &DatabaseConnection,
    options: MigrateOptions,
) -> Result<MigrationReport, MigrationError> {
    let drift = check_drift(db).await?;
    if !drift.is_clean() {
        return Err(MigrationError::Drift(drift));
    }

    let pending_names: HashSet<String> =
        pending_migrations::<M, _>(db).await?.into_iter().collect();
    let pending: Vec<Box<dyn MigrationTrait>> = M::migrations()
        .into_iter()
        .filter(|m| pending_names.contains(m.name()))
        .collect();
    if let Some(m) = pending.iter().find(|m| m.use_transaction() == Some(false)) {
        return Err(MigrationError::NonTransactional(m.name().to_owned()));
    }
    let marked: HashSet<&str> = M::destructive_migrations().into_iter().collect();

    // Dry run: apply each pending migration inside a transaction that is rolled back, and diff the
    // schema around each one so every change is attributed to the migration that made it.
    let baseline = SchemaSnapshot::read(db).await?;
    let mut planned = Vec::with_capacity(pending.len());
    if !pending.is_empty() {
        let txn = db.begin().await?;
        let mut before = baseline.clone();
        for migration in &pending {
            run_up(migration.as_ref(), &txn).await?;
            let after = SchemaSnapshot::read(&txn).await?;
            planned.push(PlannedMigration {
                name: migration.name().to_owned(),
                changes: diff(&before, &after),
                marked_destructive: marked.contains(migration.name()),
            });
            before = after;
        }
        txn.rollback().await?;
    }

    let mut allowed_destructive: Vec<&SchemaChange> = Vec::new();
    for plan in &planned {
        let destructive: Vec<SchemaChange> = plan
            .changes
            .iter()
            .filter(|c| c.is_destructive())
            .cloned()
            .collect();
        if destructive.is_empty() {
            continue;
        }
        if !(plan.marked_destructive && options.allow_destructive) {
            return Err(MigrationError::Destructive {
                migration: plan.name.clone(),
                changes: destructive,
                marked: plan.marked_destructive,
            });
        }
        allowed_destructive.extend(plan.changes.iter().filter(|c| c.is_destructive()));
    }

    if options.dry_run || pending.is_empty() {
        let problems = protected_problems(&baseline, &SchemaSnapshot::read(db).await?, &[]);
        if !problems.is_empty() {
            return Err(MigrationError::ProtectedColumnLost(problems));
        }
        if pending.is_empty() && recorded_schema(db).await?.is_none() {
            // A database with nothing applied yet: record the empty baseline so drift is tracked.
            let txn = db.begin().await?;
            record_schema(&txn, &baseline).await?;
            txn.commit().await?;
        }
        return Ok(MigrationReport {
            planned,
            applied: false,
            backups: Vec::new(),
            protected_verified: baseline.protected_columns(),
        });
    }

    let txn = db.begin().await?;
    let backups = if allowed_destructive.is_empty() {
        Vec::new()
    } else {
        ensure_role_sees_all_rows(&txn).await?;
        let tables: BTreeSet<&str> = allowed_destructive
            .iter()
            .map(|c| c.table())
            .filter(|t| baseline.tables.contains_key(*t))
            .collect();
        back_up_tables(&txn, &tables).await?
    };
    M::install(&txn).await?;
    for migration in &pending {
        run_up(migration.as_ref(), &txn).await?;
        record_applied(&txn, migration.name()).await?;
    }
    let after = SchemaSnapshot::read(&txn).await?;
    let problems = protected_problems(&baseline, &after, &allowed_destructive);
    if !problems.is_empty() {
        txn.rollback().await?;
        return Err(MigrationError::ProtectedColumnLost(problems));
    }
    record_schema(&txn, &after).await?;
    txn.commit().await?;

    // Verify once more from outside the transaction: what was committed is what was checked.
    let committed = SchemaSnapshot::read(db).await?;
    let problems = protected_problems(&after, &committed, &[]);
    if !problems.is_empty() {
        return Err(MigrationError::ProtectedColumnLost(problems));
    }
    Ok(MigrationReport {
        planned,
        applied: true,
        backups,
        protected_verified: committed.protected_columns(),
    })
}

async fn run_up(
    migration: &dyn MigrationTrait,
    txn: &DatabaseTransaction,
) -> Result<(), MigrationError> {
    migration
        .up(&SchemaManager::new(txn))
        .await
        .map_err(|source| MigrationError::Failed {
            migration: migration.name().to_owned(),
            source,
        })
}

/// Problems with `before`'s protected columns in `after`, except those a permitted destructive change
/// explicitly removed.
fn protected_problems(
    before: &SchemaSnapshot,
    after: &SchemaSnapshot,
    permitted: &[&SchemaChange],
) -> Vec<String> {
    before
        .protected_columns()
        .into_iter()
        .filter(|pc| !permitted.iter().any(|change| permits(change, pc)))
        .flat_map(|pc| pc.problems_in(after))
        .collect()
}

fn permits(change: &SchemaChange, pc: &ProtectedColumn) -> bool {
    match change {
        SchemaChange::TableDropped { table } => *table == pc.table,
        SchemaChange::ColumnDropped { table, column, .. }
        | SchemaChange::ColumnTypeChanged { table, column, .. } => {
            *table == pc.table && *column == pc.column
        }
        SchemaChange::IndexDropped { table, index, .. }
        | SchemaChange::IndexChanged { table, index, .. } => {
            *table == pc.table && pc.indexes.iter().any(|(name, _)| name == index)
        }
        _ => false,
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn ensure_role_sees_all_rows(txn: &DatabaseTransaction) -> Result<(), MigrationError> {
    let row = txn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text AS role, (rolsuper OR rolbypassrls) AS sees_all
               FROM pg_roles WHERE rolname = current_user",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("current role not found in pg_roles".into()))?;
    if row.try_get::<bool>("", "sees_all")? {
        Ok(())
    } else {
        Err(MigrationError::BackupWouldBeIncomplete(
            row.try_get("", "role")?,
        ))
    }
}

async fn back_up_tables(
    txn: &DatabaseTransaction,
    tables: &BTreeSet<&str>,
) -> Result<Vec<String>, MigrationError> {
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M%S");
    txn.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS {BACKUP_SCHEMA}"))
        .await?;
    let mut backups = Vec::new();
    for table in tables {
        let backup = format!("{table}_{stamp}");
        txn.execute_unprepared(&format!(
            "CREATE TABLE {BACKUP_SCHEMA}.{} AS TABLE public.{}",
            quote_ident(&backup),
            quote_ident(table)
        ))
        .await?;
        tracing::warn!(table, backup = %format!("{BACKUP_SCHEMA}.{backup}"), "backed up before destructive migration");
        backups.push(format!("{BACKUP_SCHEMA}.{backup}"));
    }
    Ok(backups)
}

async fn record_applied(txn: &DatabaseTransaction, name: &str) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO seaql_migrations (version, applied_at) VALUES ($1, $2)",
        [name.into(), chrono::Utc::now().timestamp().into()],
    ))
    .await?;
    Ok(())
}

struct RecordedSchema {
    recorded_at: String,
    migrations: Vec<String>,
    snapshot: SchemaSnapshot,
}

async fn table_exists<C: ConnectionTrait>(db: &C, table: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT to_regclass($1) IS NOT NULL AS present",
            [format!("public.{table}").into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get("", "present")?,
        None => false,
    })
}

async fn applied_migrations<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    if !table_exists(db, "seaql_migrations").await? {
        return Ok(Vec::new());
    }
    db.query_all_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT version FROM seaql_migrations ORDER BY version",
    ))
    .await?
    .iter()
    .map(|row| row.try_get("", "version"))
    .collect()
}

async fn recorded_schema<C: ConnectionTrait>(db: &C) -> Result<Option<RecordedSchema>, DbErr> {
    if !table_exists(db, HISTORY_TABLE).await? {
        return Ok(None);
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT recorded_at::text AS recorded_at, migrations::text AS migrations,
                        snapshot::text AS snapshot
                   FROM {HISTORY_TABLE} ORDER BY id DESC LIMIT 1"
            ),
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let parse = |column: &str| -> Result<String, DbErr> { row.try_get("", column) };
    Ok(Some(RecordedSchema {
        recorded_at: parse("recorded_at")?,
        migrations: serde_json::from_str(&parse("migrations")?)
            .map_err(|e| DbErr::Custom(format!("{HISTORY_TABLE}.migrations is unreadable: {e}")))?,
        snapshot: serde_json::from_str(&parse("snapshot")?)
            .map_err(|e| DbErr::Custom(format!("{HISTORY_TABLE}.snapshot is unreadable: {e}")))?,
    }))
}

async fn record_schema(txn: &DatabaseTransaction, snapshot: &SchemaSnapshot) -> Result<(), DbErr> {
    txn.execute_unprepared(&format!(
        "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
             id           bigserial PRIMARY KEY,
             recorded_at  timestamptz NOT NULL DEFAULT now(),
             migrations   jsonb NOT NULL,
             snapshot     jsonb NOT NULL
         )"
    ))
    .await?;
    let migrations = applied_migrations(txn).await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("INSERT INTO {HISTORY_TABLE} (migrations, snapshot) VALUES ($1::jsonb, $2::jsonb)"),
        [to_json(&migrations)?.into(), to_json(snapshot)?.into()],
    ))
    .await?;
    Ok(())
}

fn to_json<T: Serialize>(value: &T) -> Result<String, DbErr> {
    serde_json::to_string(value).map_err(|e| DbErr::Custom(format!("cannot record schema: {e}")))
}

impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.planned.is_empty() {
            writeln!(f, "no pending migrations")?;
        }
        for plan in &self.planned {
            let verb = if self.applied {
                "applied"
            } else {
                "would apply"
            };
            writeln!(
                f,
                "{verb} {} ({} schema changes)",
                plan.name,
                plan.changes.len()
            )?;
            for change in plan.changes.iter().filter(|c| c.is_destructive()) {
                writeln!(f, "  - destructive: {change}")?;
            }
        }
        for backup in &self.backups {
            writeln!(f, "backed up to {backup}")?;
        }
        for pc in &self.protected_verified {
            writeln!(
                f,
                "verified protected column {}.{} {} ({} index(es))",
                pc.table,
                pc.column,
                pc.data_type,
                pc.indexes.len()
            )?;
        }
        Ok(())
    }
}
