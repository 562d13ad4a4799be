//! A tenant's background jobs: enqueued in the tenant's transaction (so a job exists only if the
//! change asking for it commits), their events read under row-level security, their progress
//! reported by the job itself, and cancelled by members.

use crate::audit::AuditAction;
use crate::{DomainError, TenantTxn, audit};
use api::ids::{JobId, UserId};
use api::jobs::{JobEvent, JobEventBody, JobStatus};
use jobs::{Enqueue, JobKind};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Enqueues a job of kind `K` for the context's tenant, on behalf of the acting user. It becomes
/// visible to runtimes when the caller commits.
pub async fn enqueue<K: JobKind>(
    tx: &TenantTxn,
    payload: &K::Payload,
) -> Result<JobId, DomainError> {
    enqueue_for::<K>(tx, payload, None, tx.ctx().user_id()).await
}

/// [`enqueue`], on behalf of `requested_by` (`None`: nobody asked, e.g. a push), not to start
/// before `run_after` (a debounce: what arrives meanwhile joins it). The job acts for whoever it
/// names here, not for whoever is acting now: a sync queued by a push during a member's sync is
/// nobody's.
pub async fn enqueue_for<K: JobKind>(
    tx: &TenantTxn,
    payload: &K::Payload,
    run_after: Option<chrono::DateTime<chrono::Utc>>,
    requested_by: Option<UserId>,
) -> Result<JobId, DomainError> {
    let ctx = tx.ctx();
    let options = Enqueue {
        for_tenant: Some(ctx.tenant_id().into_uuid()),
        requested_by: requested_by.map(UserId::into_uuid),
        run_after,
        ..Enqueue::default()
    };
    let id = jobs::enqueue::<K>(tx.txn(), payload, options)
        .await
        .map_err(queue_error)?
        .ok_or_else(|| {
            DomainError::Internal("a job without a unique key was not enqueued".into())
        })?;
    Ok(JobId::from_uuid(id))
}

/// The job's status; a job of another tenant (or of none) is `NotFound`.
pub async fn status(tx: &TenantTxn, job: JobId) -> Result<JobStatus, DomainError> {
    // The queue is not tenant data (claiming crosses tenants), so the tenant is checked here.
    let row = tx
        .txn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT status FROM jobs WHERE id = $1 AND for_tenant = $2",
            [
                job.into_uuid().into(),
                tx.ctx().tenant_id().into_uuid().into(),
            ],
        ))
        .await?
        .ok_or(DomainError::NotFound)?;
    let status: String = row.try_get("", "status")?;
    JobStatus::parse(&status)
        .ok_or_else(|| DomainError::Internal(format!("unknown job status {status:?}")))
}

/// Up to `limit` of the job's events after event `after` (0: from the start), in order.
pub async fn events_after(
    tx: &TenantTxn,
    job: JobId,
    after: i64,
    limit: u64,
) -> Result<Vec<JobEvent>, DomainError> {
    let rows = tx
        .txn()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, kind, data, created_at FROM job_events
              WHERE job_id = $1 AND tenant_id = $2 AND id > $3
              ORDER BY id
              LIMIT $4",
            [
                job.into_uuid().into(),
                tx.ctx().tenant_id().into_uuid().into(),
                after.into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            let kind: String = row.try_get("", "kind")?;
            let data: serde_json::Value = row.try_get("", "data")?;
            let at: chrono::DateTime<chrono::FixedOffset> = row.try_get("", "created_at")?;
            let body = match kind.as_str() {
                "progress" => JobEventBody::Progress { progress: data },
                _ => {
                    let change: StatusChange = serde_json::from_value(data)
                        .map_err(|e| DomainError::Internal(format!("job status event: {e}")))?;
                    JobEventBody::Status {
                        status: change.status,
                        attempt: change.attempt,
                        max_attempts: change.max_attempts,
                        error: change.error,
                    }
                }
            };
            Ok(JobEvent {
                id: row.try_get("", "id")?,
                body,
                at: at.to_rfc3339(),
            })
        })
        .collect()
}

/// A status event as the `jobs_record_status` trigger writes it.
#[derive(serde::Deserialize)]
struct StatusChange {
    status: JobStatus,
    attempt: i32,
    max_attempts: i32,
    error: Option<String>,
}

/// Records the acting job's progress; it is announced when the caller commits, together with
/// whatever else the step changed. Only a job reports progress.
pub async fn report_progress(
    tx: &TenantTxn,
    progress: &serde_json::Value,
) -> Result<(), DomainError> {
    let job = tx
        .ctx()
        .job_id()
        .ok_or_else(|| DomainError::Forbidden("only a job reports its progress".into()))?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO job_events (tenant_id, job_id, kind, data) VALUES ($1, $2, 'progress', $3)",
            [
                tx.ctx().tenant_id().into_uuid().into(),
                job.into_uuid().into(),
                progress.clone().into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Records the acting job's live report under `slot` (what a watcher sees of work under way, such
/// as an answer arriving), replacing the slot's earlier report: a stream read again from the
/// start replays the latest, not every one. Announced when the caller commits.
pub async fn report_live(
    tx: &TenantTxn,
    slot: &str,
    live: &serde_json::Value,
) -> Result<(), DomainError> {
    clear_live(tx, Some(slot)).await?;
    report_progress(tx, &serde_json::json!({ "live": slot, "report": live })).await
}

/// Removes the acting job's live report under `slot` (the work it showed is stored now), or every
/// one it made (`None`: the job is over).
pub async fn clear_live(tx: &TenantTxn, slot: Option<&str>) -> Result<(), DomainError> {
    let Some(job) = tx.ctx().job_id() else {
        // Only a job makes live reports.
        return Ok(());
    };
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM job_events
              WHERE job_id = $1 AND tenant_id = $2 AND kind = 'progress' AND data ? 'live'
                AND ($3::text IS NULL OR data->>'live' = $3)",
            [
                job.into_uuid().into(),
                tx.ctx().tenant_id().into_uuid().into(),
                slot.map(str::to_owned).into(),
            ],
        ))
        .await?;
    Ok(())
}

/// Asks the job to stop: a queued job is cancelled at once, a running one at its next step, one
/// whose worker stopped answering at once. Any member may cancel the team's work. A job already
/// over is a `Conflict`.
pub async fn cancel(tx: &TenantTxn, job: JobId) -> Result<(), DomainError> {
    tx.ctx().require(api::tenants::Permission::EditContent)?;
    cancel_stale_after(tx, job, jobs::DEFAULT_STALE_AFTER).await
}

/// [`cancel`], for a job of a kind whose heartbeat may go quiet for `stale_after`.
pub(crate) async fn cancel_stale_after(
    tx: &TenantTxn,
    job: JobId,
    stale_after: std::time::Duration,
) -> Result<(), DomainError> {
    let status = status(tx, job).await?;
    if status.is_final() {
        return Err(DomainError::Conflict("this job is over already".into()));
    }
    jobs::cancel(tx.txn(), job.into_uuid(), stale_after)
        .await
        .map_err(queue_error)?;
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::JobCancel,
        job.into_uuid(),
        serde_json::json!({"status": status}),
    )
    .await
}

fn queue_error(error: jobs::JobError) -> DomainError {
    match error {
        jobs::JobError::Database(error) => error.into(),
        jobs::JobError::Payload(error) => DomainError::Internal(format!("job payload: {error}")),
    }
}

/// What a durable step produced, and what it cost (an AI call's price; `None`: nothing paid).
#[derive(Debug, Clone, PartialEq)]
pub struct StepDone<T> {
    /// The step's output, stored as JSON.
    pub output: T,
    /// USD paid for it.
    pub cost_usd: Option<f64>,
}

/// Runs `work` as the step `key` of the acting job, durably: when an earlier attempt of this job
/// finished the step, its stored output is returned and `work` does not run, so a step that was
/// paid for (an AI call) is never paid for again when the job is retried or taken over after a
/// crash. Otherwise `work` runs outside any transaction (it may take minutes), and its output is
/// stored in a transaction of its own, which commits only while this attempt still holds the job
/// (`Db::enter`). Only a job has steps.
pub async fn durable_step<T, F, Fut>(
    db: &crate::Db,
    ctx: &crate::TenantCtx,
    key: &str,
    work: F,
) -> Result<T, DomainError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<StepDone<T>, DomainError>>,
{
    let crate::Principal::Job { id, attempt, .. } = ctx.principal() else {
        return Err(DomainError::Forbidden("only a job has steps".into()));
    };
    let stored = db
        .transact(ctx, async |tx| {
            let row = tx
                .txn()
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT output FROM job_steps WHERE job_id = $1 AND step_key = $2 AND tenant_id = $3",
                    [
                        id.into_uuid().into(),
                        key.into(),
                        tx.ctx().tenant_id().into_uuid().into(),
                    ],
                ))
                .await?;
            row.map(|row| row.try_get::<serde_json::Value>("", "output"))
                .transpose()
                .map_err(DomainError::from)
        })
        .await?;
    if let Some(output) = stored {
        return serde_json::from_value(output)
            .map_err(|e| DomainError::Internal(format!("stored output of step {key}: {e}")));
    }
    let done = work().await?;
    let output = serde_json::to_value(&done.output)
        .map_err(|e| DomainError::Internal(format!("output of step {key}: {e}")))?;
    db.transact(ctx, async |tx| {
        tx.txn()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO job_steps (job_id, step_key, tenant_id, output, cost_usd, attempt)
                 VALUES ($1, $2, $3, $4, $5::float8::numeric, $6)",
                [
                    id.into_uuid().into(),
                    key.into(),
                    tx.ctx().tenant_id().into_uuid().into(),
                    output.clone().into(),
                    done.cost_usd.into(),
                    attempt.into(),
                ],
            ))
            .await?;
        Ok(())
    })
    .await?;
    Ok(done.output)
}

/// What [`prune_events`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Events of jobs that finished before the retention.
    pub events: u64,
    /// Finished jobs of no team (schedule checks, sweeps) as old.
    pub jobs: u64,
}

/// Removes the events of jobs that finished longer ago than `retention`, of every team, and the
/// finished jobs of no team as old. A team's job rows stay. Cairn's own maintenance, run as a
/// scheduled job.
pub async fn prune_events(
    db: &crate::Db,
    retention: std::time::Duration,
) -> Result<Pruned, DomainError> {
    let row = db
        .connection()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT events, jobs FROM cairn_prune_job_events(make_interval(secs => $1))",
            [retention.as_secs_f64().into()],
        ))
        .await?
        .ok_or_else(|| DomainError::Internal("pruning answered no row".into()))?;
    let number = |column: &str| -> Result<u64, DomainError> {
        Ok(u64::try_from(row.try_get::<i64>("", column)?).unwrap_or(0))
    };
    Ok(Pruned {
        events: number("events")?,
        jobs: number("jobs")?,
    })
}

/// The team's jobs, newest first (at most `limit`): what runs, what waits, what failed, what ended
/// lately. Owners and admins only.
pub async fn list(tx: &TenantTxn, limit: u64) -> Result<Vec<api::jobs::TeamJob>, DomainError> {
    require_manager(tx)?;
    let rows = tx
        .txn()
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT j.id, j.kind, j.status, j.attempts, j.max_attempts, j.last_error, j.created_at,
                    extract(epoch FROM coalesce(j.finished_at, now()) - j.started_at)::bigint AS duration,
                    coalesce(nullif(u.display_name, ''), u.email) AS requested_by,
                    p.name AS project
               FROM jobs j
               LEFT JOIN users u ON u.id = j.requested_by
               LEFT JOIN project_syncs s ON s.job_id = j.id
               LEFT JOIN projects p ON p.id = s.project_id
              WHERE j.for_tenant = $1
              ORDER BY (j.status IN ('queued', 'running')) DESC, j.created_at DESC
              LIMIT $2",
            [
                tx.ctx().tenant_id().into_uuid().into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            let kind: String = row.try_get("", "kind")?;
            let status: String = row.try_get("", "status")?;
            let status = JobStatus::parse(&status)
                .ok_or_else(|| DomainError::Internal(format!("job status {status:?}")))?;
            let project: Option<String> = row.try_get("", "project")?;
            let created: chrono::DateTime<chrono::FixedOffset> = row.try_get("", "created_at")?;
            Ok(api::jobs::TeamJob {
                id: JobId::from_uuid(row.try_get("", "id")?),
                title: match (kind.as_str(), project) {
                    ("project.sync", Some(project)) => format!("Sync of {project}"),
                    ("project.sync", None) => "Sync of a deleted project".to_owned(),
                    _ => kind.clone(),
                },
                retryable: matches!(status, JobStatus::Failed | JobStatus::Cancelled),
                kind,
                status,
                requested_by: row.try_get("", "requested_by")?,
                attempts: row.try_get("", "attempts")?,
                max_attempts: row.try_get("", "max_attempts")?,
                last_error: row.try_get("", "last_error")?,
                created_at: created.to_rfc3339(),
                duration_secs: row
                    .try_get::<Option<i64>>("", "duration")?
                    .and_then(|secs| u64::try_from(secs).ok()),
            })
        })
        .collect()
}

/// Tries a failed or cancelled job again. A sync is started anew for its project (a sync that
/// ended is a record of what happened, kept as it is); any other job is queued again with one
/// more attempt. Owners and admins only. A job still queued or running, or one that completed, is
/// a `Conflict`.
pub async fn retry(tx: &TenantTxn, job: JobId) -> Result<(), DomainError> {
    require_manager(tx)?;
    let row = tx
        .txn()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT j.kind, j.status, s.project_id
               FROM jobs j LEFT JOIN project_syncs s ON s.job_id = j.id
              WHERE j.id = $1 AND j.for_tenant = $2",
            [
                job.into_uuid().into(),
                tx.ctx().tenant_id().into_uuid().into(),
            ],
        ))
        .await?
        .ok_or(DomainError::NotFound)?;
    let status: String = row.try_get("", "status")?;
    if !matches!(status.as_str(), "failed" | "cancelled") {
        return Err(DomainError::Conflict(format!(
            "only a failed or cancelled job can be tried again (this one is {status})"
        )));
    }
    let kind: String = row.try_get("", "kind")?;
    if kind == crate::syncs::ProjectSyncJob::NAME {
        let project: Option<uuid::Uuid> = row.try_get("", "project_id")?;
        let project = project.ok_or(DomainError::NotFound)?;
        crate::syncs::start(
            tx,
            api::ids::ProjectId::from_uuid(project),
            api::syncs::SyncTrigger::Button,
        )
        .await?;
    } else {
        tx.txn()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE jobs
                    SET status = 'queued', run_after = now(), finished_at = NULL,
                        cancel_requested = false, locked_by = NULL,
                        max_attempts = greatest(max_attempts, attempts + 1)
                  WHERE id = $1 AND for_tenant = $2 AND status IN ('failed', 'cancelled')",
                [
                    job.into_uuid().into(),
                    tx.ctx().tenant_id().into_uuid().into(),
                ],
            ))
            .await?;
    }
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::JobRetry,
        job.into_uuid(),
        serde_json::json!({"kind": kind}),
    )
    .await
}

fn require_manager(tx: &TenantTxn) -> Result<(), DomainError> {
    tx.ctx().require(api::tenants::Permission::ManageJobs)
}
