//! AI workflows in the database: a team's templates (every save a new version), the runs of a
//! template on a note (each keeps the definition it ran), and each run's stored steps. A stored
//! step is the durable record a resumed run skips, so a step paid for is never paid for again.
//! The calls themselves are made by the run's job (`services::workflows`).

use crate::audit::{self, AuditAction};
use crate::{DomainError, TenantTxn};
use api::ai::Attempt;
use api::ids::{JobId, NoteId, ProjectId, UserId, WorkflowRunId};
use api::jobs::JobStatus;
use api::tenants::Permission;
use api::workflows::{
    IMAGE_TO_IMPLEMENTATION, StepPreview, StepStatus, WorkflowDefinition, WorkflowRun,
    WorkflowStep, WorkflowTemplate, image_to_implementation,
};
use chrono::{DateTime, FixedOffset};
use jobs::JobKind;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement, Value};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

/// The job that runs a workflow. Its body is registered by the services.
pub struct WorkflowRunJob;

/// What the job is given: the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkflowRunPayload {
    /// The run row.
    pub run_id: WorkflowRunId,
}

impl JobKind for WorkflowRunJob {
    const NAME: &'static str = "workflow.run";
    // Its own queue: a long run never delays a sync.
    const QUEUE: &'static str = "ai";
    type Payload = WorkflowRunPayload;
    // A retried run starts after its last stored step: retrying costs only what failed.
    const MAX_ATTEMPTS: i32 = 3;
    const STALE_AFTER: Duration = Duration::from_secs(120);
    const REQUEUE_WHEN_STALE: bool = true;
    const TIMEOUT: Duration = Duration::from_secs(3600);
}

fn tenant(tx: &TenantTxn) -> Value {
    tx.ctx().tenant_id().into_uuid().into()
}

fn definition_of(value: serde_json::Value) -> Result<WorkflowDefinition, DomainError> {
    serde_json::from_value(value)
        .map_err(|e| DomainError::Internal(format!("a stored workflow definition: {e}")))
}

#[derive(FromQueryResult)]
struct TemplateRow {
    name: String,
    version: i32,
    definition: serde_json::Value,
}

/// The team's templates (the latest version of each), and the built-in one unless the team saved
/// its own under that name; by name.
pub async fn templates(tx: &TenantTxn) -> Result<Vec<WorkflowTemplate>, DomainError> {
    let rows = TemplateRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT DISTINCT ON (name) name, version, definition FROM workflow_templates
          WHERE tenant_id = $1 ORDER BY name, version DESC",
        [tenant(tx)],
    ))
    .all(tx.txn())
    .await?;
    let mut list = Vec::with_capacity(rows.len() + 1);
    if !rows.iter().any(|row| row.name == IMAGE_TO_IMPLEMENTATION) {
        list.push(WorkflowTemplate {
            name: IMAGE_TO_IMPLEMENTATION.into(),
            version: 0,
            definition: image_to_implementation(),
        });
    }
    for row in rows {
        list.push(WorkflowTemplate {
            name: row.name,
            version: row.version,
            definition: definition_of(row.definition)?,
        });
    }
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}

/// The template `name` as it is now (its latest version); `NotFound` for a name the team has not
/// saved and that is not built in.
pub async fn template(tx: &TenantTxn, name: &str) -> Result<WorkflowTemplate, DomainError> {
    templates(tx)
        .await?
        .into_iter()
        .find(|template| template.name == name)
        .ok_or(DomainError::NotFound)
}

/// Saves `definition` (already checked) as the next version of its name.
pub async fn save_template(
    tx: &TenantTxn,
    definition: &WorkflowDefinition,
) -> Result<WorkflowTemplate, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    #[derive(FromQueryResult)]
    struct Saved {
        id: Uuid,
        version: i32,
    }
    let json = serde_json::to_value(definition)
        .map_err(|e| DomainError::Internal(format!("a workflow definition: {e}")))?;
    // Two saves of one name at once: the second waits for the first's version, then takes the next.
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended('cairn.workflow_template:' || $1::text || ':' || $2, 0))",
            [tenant(tx), definition.name.clone().into()],
        ))
        .await?;
    let saved = Saved::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO workflow_templates (id, tenant_id, name, version, definition, created_by)
         VALUES ($1, $2, $3,
                 coalesce((SELECT max(version) FROM workflow_templates
                            WHERE tenant_id = $2 AND name = $3), 0) + 1,
                 $4, $5)
         RETURNING id, version",
        [
            Uuid::now_v7().into(),
            tenant(tx),
            definition.name.clone().into(),
            json.into(),
            tx.ctx().user_id().map(UserId::into_uuid).into(),
        ],
    ))
    .one(tx.txn())
    .await?
    .ok_or_else(|| DomainError::Internal("a template insert answered no row".into()))?;
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::WorkflowTemplateSave,
        saved.id,
        serde_json::json!({"name": definition.name, "version": saved.version}),
    )
    .await?;
    Ok(WorkflowTemplate {
        name: definition.name.clone(),
        version: saved.version,
        definition: definition.clone(),
    })
}

/// Records a run of `template` on the note, queued, and enqueues its job in the same transaction.
/// `estimate_usd` is the worst case the caller checked against the team's month.
pub async fn start_run(
    tx: &TenantTxn,
    note_id: NoteId,
    template: &WorkflowTemplate,
    estimate_usd: f64,
) -> Result<WorkflowRun, DomainError> {
    tx.ctx().require(Permission::AskAi)?;
    let note = tx
        .find::<crate::entities::project_notes::Entity>(note_id.into_uuid())
        .await?;
    let id = WorkflowRunId::from_uuid(Uuid::now_v7());
    let definition = serde_json::to_value(&template.definition)
        .map_err(|e| DomainError::Internal(format!("a workflow definition: {e}")))?;
    let requested_by = tx.ctx().user_id();
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO workflow_runs (id, tenant_id, project_id, note_id, template_name,
                                        template_version, definition, estimate_usd, requested_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::float8, $9)",
            [
                id.into_uuid().into(),
                tenant(tx),
                note.project_id.into(),
                note.id.into(),
                template.name.clone().into(),
                template.version.into(),
                definition.into(),
                estimate_usd.into(),
                requested_by.map(UserId::into_uuid).into(),
            ],
        ))
        .await?;
    let job = crate::job_runs::enqueue_for::<WorkflowRunJob>(
        tx,
        &WorkflowRunPayload { run_id: id },
        None,
        requested_by,
    )
    .await?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE workflow_runs SET job_id = $2 WHERE id = $1",
            [id.into_uuid().into(), job.into_uuid().into()],
        ))
        .await?;
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::WorkflowStart,
        id.into_uuid(),
        serde_json::json!({"note": note.id, "template": template.name,
                           "version": template.version, "estimate_usd": estimate_usd}),
    )
    .await?;
    get_run(tx, id).await
}

/// A run as `SELECT_RUNS` reads it.
#[derive(FromQueryResult)]
struct RunRow {
    id: Uuid,
    note_id: Uuid,
    project_id: Uuid,
    template_name: String,
    template_version: i32,
    definition: serde_json::Value,
    status: String,
    job_id: Option<Uuid>,
    error: Option<String>,
    failed_attempts: serde_json::Value,
    estimate: f64,
    traced_done: Option<i32>,
    traced_of: Option<i32>,
    requested_by: Option<String>,
    created_at: DateTime<FixedOffset>,
    finished_at: Option<DateTime<FixedOffset>>,
    sources: serde_json::Value,
}

/// A run still open whose job is over (failed for good, or cancelled) reads as its job ended: the
/// job's status and error speak for it.
const SELECT_RUNS: &str = "SELECT r.id, r.note_id, r.project_id, r.template_name,
        r.template_version, r.definition,
        CASE WHEN r.status IN ('queued', 'running') AND j.status IN ('failed', 'cancelled')
             THEN j.status ELSE r.status END AS status,
        r.job_id,
        CASE WHEN r.status IN ('queued', 'running') AND j.status IN ('failed', 'cancelled')
             THEN coalesce(r.error, j.last_error) ELSE r.error END AS error,
        r.failed_attempts, r.estimate_usd::float8 AS estimate, r.traced_done, r.traced_of,
        coalesce(nullif(u.display_name, ''), u.email) AS requested_by, r.created_at,
        coalesce(r.finished_at, CASE WHEN j.status IN ('failed', 'cancelled') THEN j.finished_at END)
          AS finished_at, r.sources
   FROM workflow_runs r
   LEFT JOIN users u ON u.id = r.requested_by
   LEFT JOIN jobs j ON j.id = r.job_id AND j.for_tenant = r.tenant_id";

/// A stored step.
#[derive(FromQueryResult)]
struct StepRow {
    step_key: String,
    item: String,
    status: String,
    output: String,
    provider: Option<String>,
    model: Option<String>,
    attempts: serde_json::Value,
    tokens_in: i32,
    tokens_out: i32,
    cost: f64,
    duration_ms: i32,
}

impl From<StepRow> for WorkflowStep {
    fn from(row: StepRow) -> Self {
        WorkflowStep {
            step_key: row.step_key,
            item: (!row.item.is_empty()).then_some(row.item),
            status: if row.status == "copied" {
                StepStatus::Copied
            } else {
                StepStatus::Completed
            },
            output: row.output,
            provider: row.provider,
            model: row.model,
            attempts: serde_json::from_value(row.attempts).unwrap_or_default(),
            tokens_in: crate::sql::unsigned(row.tokens_in),
            tokens_out: crate::sql::unsigned(row.tokens_out),
            cost_usd: row.cost,
            duration_ms: crate::sql::unsigned(row.duration_ms),
        }
    }
}

/// The run's stored steps, in the order they were stored.
pub async fn steps(tx: &TenantTxn, run: WorkflowRunId) -> Result<Vec<WorkflowStep>, DomainError> {
    Ok(StepRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT step_key, item, status, output, provider, model, attempts, tokens_in, tokens_out,
                cost_usd::float8 AS cost, duration_ms
           FROM workflow_steps WHERE run_id = $1 AND tenant_id = $2 ORDER BY seq, created_at",
        [run.into_uuid().into(), tenant(tx)],
    ))
    .all(tx.txn())
    .await?
    .into_iter()
    .map(WorkflowStep::from)
    .collect())
}

impl RunRow {
    fn into_run(self, steps: Vec<WorkflowStep>) -> Result<WorkflowRun, DomainError> {
        // Folded from 0.0: a float sum of nothing is -0.0, shown as "$-0.0000".
        let cost_usd = steps
            .iter()
            .filter(|s| s.status == StepStatus::Completed)
            .map(|s| s.cost_usd)
            .chain(
                serde_json::from_value::<Vec<Attempt>>(self.failed_attempts)
                    .unwrap_or_default()
                    .iter()
                    .map(|a| a.cost_usd),
            )
            .fold(0.0, |sum, cost| sum + cost);
        Ok(WorkflowRun {
            id: WorkflowRunId::from_uuid(self.id),
            note_id: NoteId::from_uuid(self.note_id),
            project_id: ProjectId::from_uuid(self.project_id),
            template: self.template_name,
            template_version: self.template_version,
            definition: definition_of(self.definition)?,
            status: JobStatus::parse(&self.status).ok_or_else(|| {
                DomainError::Internal(format!("workflow run status {:?}", self.status))
            })?,
            job_id: self.job_id.map(JobId::from_uuid),
            error: self.error,
            steps,
            traced: self
                .traced_done
                .zip(self.traced_of)
                .map(|(done, of)| (crate::sql::unsigned(done), crate::sql::unsigned(of))),
            estimate_usd: self.estimate,
            cost_usd,
            requested_by: self.requested_by,
            created_at: self.created_at.to_rfc3339(),
            finished_at: self.finished_at.map(|at| at.to_rfc3339()),
            // Written by `record_sources` from the same type.
            sources: serde_json::from_value(self.sources).unwrap_or_default(),
        })
    }
}

/// One run with its steps; another team's is `NotFound`.
pub async fn get_run(tx: &TenantTxn, id: WorkflowRunId) -> Result<WorkflowRun, DomainError> {
    let row = RunRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("{SELECT_RUNS} WHERE r.id = $1 AND r.tenant_id = $2"),
        [id.into_uuid().into(), tenant(tx)],
    ))
    .one(tx.txn())
    .await?
    .ok_or(DomainError::NotFound)?;
    let steps = steps(tx, id).await?;
    row.into_run(steps)
}

/// The note's runs, newest first (at most 50), without their steps.
pub async fn runs_of_note(tx: &TenantTxn, note: NoteId) -> Result<Vec<WorkflowRun>, DomainError> {
    tx.find::<crate::entities::project_notes::Entity>(note.into_uuid())
        .await?;
    latest_runs(tx, "r.note_id", note.into_uuid()).await
}

/// The project's runs, newest first (at most 50), without their steps.
pub async fn runs_of_project(
    tx: &TenantTxn,
    project: ProjectId,
) -> Result<Vec<WorkflowRun>, DomainError> {
    tx.find::<crate::entities::projects::Entity>(project.into_uuid())
        .await?;
    latest_runs(tx, "r.project_id", project.into_uuid()).await
}

/// The 50 newest runs whose `column` (a note's or a project's) is `id`, without their steps.
async fn latest_runs(
    tx: &TenantTxn,
    column: &'static str,
    id: Uuid,
) -> Result<Vec<WorkflowRun>, DomainError> {
    RunRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "{SELECT_RUNS} WHERE {column} = $1 AND r.tenant_id = $2
              ORDER BY r.created_at DESC LIMIT 50"
        ),
        [id.into(), tenant(tx)],
    ))
    .all(tx.txn())
    .await?
    .into_iter()
    .map(|row| row.into_run(Vec::new()))
    .collect()
}

/// Marks the run running (for its job) and answers it with its stored steps; a run that is over
/// already is `Conflict`.
pub async fn begin_run(tx: &TenantTxn, id: WorkflowRunId) -> Result<WorkflowRun, DomainError> {
    let updated = tx
        .txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE workflow_runs SET status = 'running', error = NULL, failed_attempts = '[]'
              WHERE id = $1 AND tenant_id = $2 AND status IN ('queued', 'running', 'failed')",
            [id.into_uuid().into(), tenant(tx)],
        ))
        .await?;
    if updated.rows_affected() == 0 {
        get_run(tx, id).await?;
        return Err(DomainError::Conflict("this run is over already".into()));
    }
    get_run(tx, id).await
}

/// What one stored step holds.
#[derive(Debug, Clone)]
pub struct StepRecord<'a> {
    /// Its position in the template.
    pub seq: u32,
    /// The template step's key.
    pub step_key: &'a str,
    /// The fan-out item's id ('' for none).
    pub item: &'a str,
    /// The answer (never empty: the router never calls an empty answer one).
    pub output: &'a str,
    /// Who answered, with which model.
    pub provider: &'a str,
    /// The model.
    pub model: &'a str,
    /// Every attempt, the answering one last.
    pub attempts: &'a [Attempt],
    /// How long the step took.
    pub duration_ms: u32,
}

/// Stores a step's output; whether it was stored now. A step stored already (by an attempt that
/// was taken over after it stored it) keeps its first output.
pub async fn record_step(
    tx: &TenantTxn,
    run: WorkflowRunId,
    step: &StepRecord<'_>,
) -> Result<bool, DomainError> {
    let attempts = serde_json::to_value(step.attempts)
        .map_err(|e| DomainError::Internal(format!("attempts: {e}")))?;
    let tokens_in: u32 = step.attempts.iter().map(|a| a.tokens_in).sum();
    let tokens_out: u32 = step.attempts.iter().map(|a| a.tokens_out).sum();
    let cost: f64 = step.attempts.iter().map(|a| a.cost_usd).sum();
    let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    let inserted = tx
        .txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO workflow_steps (id, tenant_id, run_id, seq, step_key, item, status, output,
                                         provider, model, attempts, tokens_in, tokens_out,
                                         cost_usd, duration_ms)
             VALUES ($1, $2, $3, $4, $5, $6, 'completed', $7, $8, $9, $10, $11, $12, $13::float8, $14)
             ON CONFLICT (run_id, step_key, item) DO NOTHING",
            [
                Uuid::now_v7().into(),
                tenant(tx),
                run.into_uuid().into(),
                count(step.seq).into(),
                step.step_key.into(),
                step.item.into(),
                step.output.into(),
                step.provider.into(),
                step.model.into(),
                attempts.into(),
                count(tokens_in).into(),
                count(tokens_out).into(),
                cost.into(),
                count(step.duration_ms).into(),
            ],
        ))
        .await?;
    // Announced on the run's job stream when the caller commits: its page shows the new step. A
    // fan-out item counts towards the run's "k / n planned".
    if inserted.rows_affected() == 1 {
        if !step.item.is_empty() {
            tx.txn()
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "UPDATE workflow_runs SET traced_done = coalesce(traced_done, 0) + 1
                      WHERE id = $1 AND tenant_id = $2",
                    [run.into_uuid().into(), tenant(tx)],
                ))
                .await?;
        }
        crate::job_runs::report_progress(
            tx,
            &serde_json::json!({"step": step.step_key, "item": step.item}),
        )
        .await?;
    }
    // What was shown of it while it was asked is its stored output now.
    let item = (!step.item.is_empty()).then_some(step.item);
    crate::job_runs::clear_live(tx, Some(&StepPreview::slot(step.step_key, item))).await?;
    Ok(inserted.rows_affected() == 1)
}

/// Keeps with the run the knowledge its prompts' `{{context}}` gives, so a resumed run sends the
/// same and a reader sees what the model saw.
pub async fn record_sources(
    tx: &TenantTxn,
    run: WorkflowRunId,
    sources: &[api::knowledge::CitedSource],
) -> Result<(), DomainError> {
    crate::knowledge::keep_sources(
        tx,
        crate::knowledge::SourcesOf::Run,
        run.into_uuid(),
        sources,
    )
    .await
}

/// Records how many of a fan-out's items have a stored output, of how many.
pub async fn record_traced(
    tx: &TenantTxn,
    run: WorkflowRunId,
    done: usize,
    of: usize,
) -> Result<(), DomainError> {
    let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE workflow_runs SET traced_done = $3, traced_of = $4
              WHERE id = $1 AND tenant_id = $2",
            [
                run.into_uuid().into(),
                tenant(tx),
                count(done).into(),
                count(of).into(),
            ],
        ))
        .await?;
    Ok(())
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum RunEnd<'a> {
    /// Every step stored.
    Completed,
    /// A step found no answer (or the fan-out's items were not all planned): why, and the
    /// attempts of the step that failed it.
    Failed {
        /// What the run page says.
        reason: &'a str,
        /// The failing step's attempts.
        attempts: &'a [Attempt],
    },
    /// Cancelled at a step boundary.
    Cancelled,
}

/// Ends the run.
pub async fn finish_run(
    tx: &TenantTxn,
    run: WorkflowRunId,
    end: RunEnd<'_>,
) -> Result<(), DomainError> {
    let (status, reason, attempts) = match end {
        RunEnd::Completed => ("completed", None, serde_json::json!([])),
        RunEnd::Cancelled => ("cancelled", None, serde_json::json!([])),
        RunEnd::Failed { reason, attempts } => (
            "failed",
            Some(reason.to_owned()),
            serde_json::to_value(attempts)
                .map_err(|e| DomainError::Internal(format!("attempts: {e}")))?,
        ),
    };
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE workflow_runs SET status = $3, error = $4, failed_attempts = $5,
                    finished_at = now()
              WHERE id = $1 AND tenant_id = $2",
            [
                run.into_uuid().into(),
                tenant(tx),
                status.into(),
                reason.into(),
                attempts.into(),
            ],
        ))
        .await?;
    // Nothing is under way any more.
    crate::job_runs::clear_live(tx, None).await?;
    Ok(())
}

/// Queues a failed or cancelled run again with a new job: it starts after its last stored step,
/// so only what is missing is asked (and paid for). A run that is queued, running or completed is
/// `Conflict`.
pub async fn resume_run(tx: &TenantTxn, id: WorkflowRunId) -> Result<WorkflowRun, DomainError> {
    tx.ctx().require(Permission::AskAi)?;
    let run = get_run(tx, id).await?;
    if !matches!(run.status, JobStatus::Failed | JobStatus::Cancelled) {
        return Err(DomainError::Conflict(
            "only a failed or cancelled run is resumed".into(),
        ));
    }
    let job = crate::job_runs::enqueue_for::<WorkflowRunJob>(
        tx,
        &WorkflowRunPayload { run_id: id },
        None,
        tx.ctx().user_id(),
    )
    .await?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE workflow_runs SET status = 'queued', job_id = $3, error = NULL,
                    failed_attempts = '[]', finished_at = NULL
              WHERE id = $1 AND tenant_id = $2",
            [id.into_uuid().into(), tenant(tx), job.into_uuid().into()],
        ))
        .await?;
    get_run(tx, id).await
}

/// Completes the run and keeps its report (`api::workflows::report_markdown`) as a memory entry of
/// kind `workflow_report` in the note's project, so it is listed and searched with the rest; one
/// transaction, so a completed run always has its report.
pub async fn complete_run(tx: &TenantTxn, id: WorkflowRunId) -> Result<(), DomainError> {
    let mut run = get_run(tx, id).await?;
    run.status = JobStatus::Completed;
    let note = tx
        .find::<crate::entities::project_notes::Entity>(run.note_id.into_uuid())
        .await?;
    let report = api::workflows::report_markdown(&run, &note.title);
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO memory_entries (id, tenant_id, project_id, kind, title, content, created_by)
             VALUES ($1, $2, $3, 'workflow_report', $4, $5, $6)",
            [
                Uuid::now_v7().into(),
                tenant(tx),
                run.project_id.into_uuid().into(),
                format!("{}: {}", run.template, note.title).into(),
                report.into(),
                tx.ctx().user_id().map(UserId::into_uuid).into(),
            ],
        ))
        .await?;
    // Search sees the change once the team's indexing has run.
    crate::knowledge::queue_indexing(tx).await?;
    finish_run(tx, id, RunEnd::Completed).await
}

/// A run's report (Markdown), for download.
pub async fn report(tx: &TenantTxn, id: WorkflowRunId) -> Result<String, DomainError> {
    let run = get_run(tx, id).await?;
    let note = tx
        .find::<crate::entities::project_notes::Entity>(run.note_id.into_uuid())
        .await?;
    Ok(api::workflows::report_markdown(&run, &note.title))
}

/// Cairn acting in the note's team for the operator's command line (`cairn workflow run`), which
/// names a note whatever team it belongs to; `NotFound` for a note that does not exist.
pub async fn context_for_note(
    db: &crate::Db,
    note: NoteId,
) -> Result<crate::TenantCtx, DomainError> {
    crate::TenantCtx::for_system_owning(db, "cairn_note_tenant", note.into_uuid(), "cli").await
}

/// A new run of the same definition on the same note that starts at step `from` (a key of the
/// run's template): the outputs of the steps before it are copied from `id` (marked `copied`,
/// costing nothing), the rest are asked. The original run stays as it was.
pub async fn rerun_from(
    tx: &TenantTxn,
    id: WorkflowRunId,
    from: &str,
) -> Result<WorkflowRun, DomainError> {
    tx.ctx().require(Permission::AskAi)?;
    let original = get_run(tx, id).await?;
    let Some(position) = original.definition.steps.iter().position(|s| s.key == from) else {
        return Err(DomainError::Invalid {
            field: "from".into(),
            reason: format!("{from:?} is not a step of this run's template"),
        });
    };
    let earlier: Vec<&str> = original.definition.steps[..position]
        .iter()
        .map(|s| s.key.as_str())
        .collect();
    if original.next_step().is_some_and(|next| next < position) {
        return Err(DomainError::Conflict(
            "the steps before it have not all been answered in this run".into(),
        ));
    }
    let template = WorkflowTemplate {
        name: original.template.clone(),
        version: original.template_version,
        definition: original.definition.clone(),
    };
    let note = NoteId::from_uuid(original.note_id.into_uuid());
    let run = start_run(tx, note, &template, original.estimate_usd).await?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            // The copied steps saw the first run's context: the rest see the same.
            "UPDATE workflow_runs
                SET rerun_of = $3,
                    sources = (SELECT sources FROM workflow_runs WHERE id = $3 AND tenant_id = $2)
              WHERE id = $1 AND tenant_id = $2",
            [run.id.into_uuid().into(), tenant(tx), id.into_uuid().into()],
        ))
        .await?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO workflow_steps (id, tenant_id, run_id, seq, step_key, item, status, output,
                                         provider, model, attempts, tokens_in, tokens_out,
                                         cost_usd, duration_ms, created_at)
             SELECT gen_random_uuid(), tenant_id, $3, seq, step_key, item, 'copied', output,
                    provider, model, attempts, tokens_in, tokens_out, cost_usd, duration_ms,
                    created_at
               FROM workflow_steps
              WHERE run_id = $1 AND tenant_id = $2 AND step_key = ANY($4)",
            [
                id.into_uuid().into(),
                tenant(tx),
                run.id.into_uuid().into(),
                crate::sql::texts(earlier.iter().map(|k| (*k).to_owned()).collect()),
            ],
        ))
        .await?;
    get_run(tx, run.id).await
}

/// Keeps a step's insights (its JSON output's `insights`, checked against its schema already) with
/// the run's project. A step stored once keeps its insights once: called with the step's record.
pub async fn record_insights(
    tx: &TenantTxn,
    run: &WorkflowRun,
    step_key: &str,
    insights: &[serde_json::Value],
) -> Result<(), DomainError> {
    for insight in insights {
        let text = |field: &str| insight[field].as_str().unwrap_or_default().to_owned();
        tx.txn()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO workflow_insights (id, tenant_id, project_id, run_id, step_key, title,
                                                content, kind, severity)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                [
                    Uuid::now_v7().into(),
                    tenant(tx),
                    run.project_id.into_uuid().into(),
                    run.id.into_uuid().into(),
                    step_key.into(),
                    text("title").into(),
                    text("body").into(),
                    text("kind").into(),
                    text("severity").into(),
                ],
            ))
            .await?;
    }
    Ok(())
}

/// The project's workflow insights, newest first (at most 100).
pub async fn insights(
    tx: &TenantTxn,
    project: ProjectId,
) -> Result<Vec<api::workflows::WorkflowInsight>, DomainError> {
    tx.find::<crate::entities::projects::Entity>(project.into_uuid())
        .await?;
    #[derive(FromQueryResult)]
    struct InsightRow {
        title: String,
        content: String,
        kind: Option<String>,
        severity: Option<String>,
        run_id: Option<Uuid>,
        note_id: Option<Uuid>,
        step_key: Option<String>,
        created_at: DateTime<FixedOffset>,
    }
    Ok(
        InsightRow::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT i.title, i.content, i.kind, i.severity, i.run_id, r.note_id, i.step_key,
                i.created_at
           FROM workflow_insights i LEFT JOIN workflow_runs r ON r.id = i.run_id
          WHERE i.project_id = $1 AND i.tenant_id = $2
          ORDER BY i.created_at DESC LIMIT 100",
            [project.into_uuid().into(), tenant(tx)],
        ))
        .all(tx.txn())
        .await?
        .into_iter()
        .map(|row| api::workflows::WorkflowInsight {
            title: row.title,
            body: row.content,
            kind: row.kind.unwrap_or_else(|| "other".into()),
            severity: row.severity.unwrap_or_else(|| "low".into()),
            run_id: row.run_id.map(WorkflowRunId::from_uuid),
            note_id: row.note_id.map(NoteId::from_uuid),
            step_key: row.step_key.unwrap_or_default(),
            created_at: row.created_at.to_rfc3339(),
        })
        .collect(),
    )
}
