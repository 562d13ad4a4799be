//! The lock every migrating process holds around the guard, so that instances starting together
//! migrate once: the second waits, then finds nothing pending.

use sea_orm_migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
};

/// The advisory lock's key (an arbitrary constant: "cairn_mg").
const MIGRATION_LOCK: i64 = 0x6361_6972_6e5f_6d67;

/// A held migration lock: a session-level Postgres advisory lock on a connection of its own, so
/// it lasts the whole guard run (drift check, dry run, apply, grants) and ends with the
/// connection, also when the process dies.
pub struct MigrationLock {
    connection: DatabaseConnection,
}

impl MigrationLock {
    /// Takes the lock, waiting (and saying so) while another process holds it.
    pub async fn acquire(owner_url: &str) -> Result<Self, DbErr> {
        let mut options = ConnectOptions::new(owner_url);
        options
            .max_connections(1)
            .min_connections(1)
            .sqlx_logging(false);
        let connection = Database::connect(options).await?;
        let free = connection
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_lock($1) AS free",
                [MIGRATION_LOCK.into()],
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "free"))
            .transpose()?
            .unwrap_or(false);
        if !free {
            tracing::info!("another instance is migrating; waiting for it");
            connection
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_advisory_lock($1)",
                    [MIGRATION_LOCK.into()],
                ))
                .await?;
        }
        Ok(Self { connection })
    }

    /// Lets the next process migrate.
    pub async fn release(self) -> Result<(), DbErr> {
        self.connection.close().await
    }
}
