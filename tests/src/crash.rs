//! A job kind for the crash test: one step that writes a project, its progress and a note in one
//! transaction, and on its first attempt stalls halfway (after the project, before the note), which
//! is where the test kills the process running it. Shared by the test and the worker binary
//! `cairn-test-worker` it kills.

use domain::{Db, DomainError, TenantCtx, job_runs, notes, projects};
use jobs::{JobCtx, JobFailure, JobKind, Runtime};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The kind.
pub struct TwoTables;

/// What the step creates, and where it says it is halfway.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TwoTablesPayload {
    /// The project's name.
    pub name: String,
    /// Written once the first attempt is halfway (the project inserted, not committed).
    pub halfway_marker: PathBuf,
}

impl JobKind for TwoTables {
    const NAME: &'static str = "test.two_tables";
    type Payload = TwoTablesPayload;
    const MAX_ATTEMPTS: i32 = 3;
    // Short, so the test does not wait a minute for the reaper.
    const STALE_AFTER: Duration = Duration::from_secs(2);
    const REQUEUE_WHEN_STALE: bool = true;
}

/// The step.
pub async fn two_tables(db: Db, job: JobCtx, payload: TwoTablesPayload) -> Result<(), JobFailure> {
    let ctx = TenantCtx::for_job(&db, &job)
        .await
        .map_err(DomainError::into_job_failure)?;
    let attempt = job.attempt();
    db.transact(&ctx, async |tx| {
        let form = api::projects::ProjectForm {
            name: payload.name.clone(),
            description: String::new(),
            github_repo: String::new(),
            github_branch: String::new(),
            github_path: String::new(),
            sync_ignore: String::new(),
            sync_every_minutes: String::new(),
        }
        .parse()?;
        let project = projects::create(tx, form).await?;
        job_runs::report_progress(tx, &serde_json::json!({"project": project.id})).await?;
        if attempt == 1 {
            std::fs::write(&payload.halfway_marker, b"halfway")
                .map_err(|e| DomainError::Internal(e.to_string()))?;
            // The process is killed here.
            tokio::time::sleep(Duration::from_secs(120)).await;
        }
        let note = api::notes::NoteForm {
            title: "Second table".into(),
            body: "Written with the project, or not at all".into(),
        }
        .parse()?;
        notes::create(tx, project.id, note).await?;
        Ok(())
    })
    .await
    .map_err(DomainError::into_job_failure)
}

/// A runtime that runs [`TwoTables`] on `pool`.
pub fn runtime(pool: sea_orm::DatabaseConnection, instance: &str) -> Runtime {
    let db = Db::new(pool.clone());
    Runtime::new(pool, instance)
        .polling_every(Duration::from_millis(100))
        .register::<TwoTables, _, _>(move |job, payload| two_tables(db.clone(), job, payload))
}
