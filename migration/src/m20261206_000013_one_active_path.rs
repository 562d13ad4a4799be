//! At most one active memory entry per project and path, held by the database: two finalizes of
//! one project (a worker that woke up after its sync was taken over), or two restores at once,
//! can no longer leave two active versions of a file.
//!
//! Duplicates that exist already are resolved first, losing nothing: all but the newest active
//! entry of each path are superseded (their rows and contents stay, restorable from the Memory
//! tab), and how many were is logged.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let resolved = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "WITH ranked AS (
                     SELECT id, row_number() OVER (PARTITION BY project_id, source_path
                                                   ORDER BY created_at DESC, id DESC) AS newest
                       FROM memory_entries
                      WHERE status = 'active' AND source_path IS NOT NULL),
                 superseded AS (
                     UPDATE memory_entries e SET status = 'superseded', updated_at = now()
                       FROM ranked r
                      WHERE e.id = r.id AND r.newest > 1
                     RETURNING e.id)
                 SELECT count(*) AS resolved FROM superseded",
            ))
            .await?
            .map(|row| row.try_get::<i64>("", "resolved"))
            .transpose()?
            .unwrap_or(0);
        if resolved > 0 {
            tracing::warn!(
                resolved,
                "memory entries: paths with more than one active entry found; all but the newest of each superseded (kept, restorable)"
            );
        }
        // A new index beside the old one, which stays (dropping an index is a destructive change
        // to the guard; the two differ only in uniqueness).
        db.execute_unprepared(
            "CREATE UNIQUE INDEX memory_entries_one_active_path
                 ON memory_entries (project_id, source_path) WHERE status = 'active'",
        )
        .await?;
        Ok(())
    }
}
