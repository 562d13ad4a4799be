//! Job kinds for the crash tests, shared by the tests and the worker binary `cairn-test-worker` they
//! kill: one step that writes a project, its progress and a note in one transaction, stalling
//! halfway on its first attempt; and three durable steps, each a paid AI call, stalling after the
//! second.

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

/// A runtime that runs [`TwoTables`] and [`ThreeSteps`] on `pool`.
pub fn runtime(pool: sea_orm::DatabaseConnection, instance: &str) -> Runtime {
    let db = Db::new(pool.clone());
    let steps_db = db.clone();
    Runtime::new(pool, instance)
        .polling_every(Duration::from_millis(100))
        .register::<TwoTables, _, _>(move |job, payload| two_tables(db.clone(), job, payload))
        .register::<ThreeSteps, _, _>(move |job, payload| {
            three_steps(steps_db.clone(), job, payload)
        })
}

/// A job of three durable steps, each a paid AI call (to the local OpenAI-compatible server); on
/// its first attempt the process running it stalls after the second step, where the test kills it.
pub struct ThreeSteps;

/// Where the steps' model answers, and where the first attempt says it finished step two.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThreeStepsPayload {
    /// The provider's API root (…/v1).
    pub llm_url: String,
    /// Written once the first attempt has stored its second step.
    pub halfway_marker: PathBuf,
}

impl JobKind for ThreeSteps {
    const NAME: &'static str = "test.three_steps";
    type Payload = ThreeStepsPayload;
    const MAX_ATTEMPTS: i32 = 3;
    const STALE_AFTER: Duration = Duration::from_secs(2);
}

/// The steps: outline, plan, review. Each asks the model, paying a cent; the last reports every
/// step's output as the job's progress.
pub async fn three_steps(
    db: Db,
    job: JobCtx,
    payload: ThreeStepsPayload,
) -> Result<(), JobFailure> {
    let fail = DomainError::into_job_failure;
    let ctx = TenantCtx::for_job(&db, &job).await.map_err(fail)?;
    let http = reqwest::Client::new();
    let mut outputs = Vec::new();
    for step in ["outline", "plan", "review"] {
        let output: String = job_runs::durable_step(&db, &ctx, step, || async {
            let answer: serde_json::Value = http
                .post(format!("{}/chat/completions", payload.llm_url))
                .json(&serde_json::json!({
                    "model": "gpt-4o-mini",
                    "messages": [{"role": "user", "content": format!("Write the {step}.")}],
                }))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| DomainError::Internal(e.to_string()))?
                .json()
                .await
                .map_err(|e| DomainError::Internal(e.to_string()))?;
            Ok(job_runs::StepDone {
                output: answer["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                cost_usd: Some(0.01),
            })
        })
        .await
        .map_err(fail)?;
        outputs.push(output);
        if step == "plan" && job.attempt() == 1 {
            std::fs::write(&payload.halfway_marker, b"halfway")
                .map_err(|e| JobFailure::Fatal(e.to_string()))?;
            // The process is killed here.
            tokio::time::sleep(Duration::from_secs(120)).await;
        }
    }
    db.transact(&ctx, async |tx| {
        job_runs::report_progress(tx, &serde_json::json!({"outputs": outputs})).await
    })
    .await
    .map_err(fail)
}
