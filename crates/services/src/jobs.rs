//! The background jobs Cairn runs, over the shared job runtime (`crates/jobs`): each kind and the
//! service it calls.

use crate::AppContext;
use jobs::{JobKind, Runtime};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The storage sweep: removes stored objects whose rows are gone and reports rows whose object is
/// missing, and file contents (blobs) no memory entry has pointed at for a day. Scheduled every `storage.sweep_interval_secs`; one instance runs each one.
pub struct StorageSweep;

/// What a sweep needs to know.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepPayload {
    /// Objects without a row younger than this are left alone (their upload may be under way).
    pub grace_secs: u64,
}

impl JobKind for StorageSweep {
    const NAME: &'static str = "storage.sweep";
    const QUEUE: &'static str = "maintenance";
    type Payload = SweepPayload;
    // The next interval's sweep is the retry.
    const MAX_ATTEMPTS: i32 = 1;
    const STALE_AFTER: Duration = Duration::from_secs(600);
    const REQUEUE_WHEN_STALE: bool = false;
}

/// One round of the projects' sync schedules (`project_sync::check_schedules`): enqueued once per
/// `jobs.schedule_check_secs` slot, whichever instance enqueues it, and run by one.
pub struct ScheduleCheck;

/// Nothing to say: the round looks at whatever is due.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScheduleCheckPayload {}

impl JobKind for ScheduleCheck {
    const NAME: &'static str = "sync.schedule_check";
    const QUEUE: &'static str = "maintenance";
    type Payload = ScheduleCheckPayload;
    // The next slot's round is the retry.
    const MAX_ATTEMPTS: i32 = 1;
    const STALE_AFTER: Duration = Duration::from_secs(120);
    const REQUEUE_WHEN_STALE: bool = false;
}

/// Removes old job events once a day (`job_runs::prune_events`).
pub struct PruneJobEvents;

/// How long finished jobs' events are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrunePayload {
    /// Days.
    pub retention_days: u64,
}

impl JobKind for PruneJobEvents {
    const NAME: &'static str = "jobs.prune_events";
    const QUEUE: &'static str = "maintenance";
    type Payload = PrunePayload;
    const MAX_ATTEMPTS: i32 = 1;
    const STALE_AFTER: Duration = Duration::from_secs(600);
    const REQUEUE_WHEN_STALE: bool = false;
}

/// The runtime with every job kind Cairn runs, named after this process.
pub fn runtime(app: &AppContext, pool: &sea_orm::DatabaseConnection) -> Runtime {
    let instance = format!(
        "cairn-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let (sync_app, check_app, prune_app, sweep_app, workflow_app, index_app) = (
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
        app.clone(),
    );
    Runtime::new(pool.clone(), instance)
        .register::<domain::syncs::ProjectSyncJob, _, _>(move |job, payload| {
            crate::project_sync::run(sync_app.clone(), job, payload)
        })
        .register::<domain::workflows::WorkflowRunJob, _, _>(move |job, payload| {
            crate::workflows::run(workflow_app.clone(), job, payload)
        })
        .register::<domain::knowledge::KnowledgeIndexJob, _, _>(move |job, payload| {
            crate::knowledge::index(index_app.clone(), job, payload)
        })
        .register::<ScheduleCheck, _, _>(move |_ctx, _payload: ScheduleCheckPayload| {
            let app = check_app.clone();
            async move {
                match crate::project_sync::check_schedules(&app).await {
                    Ok(0) => Ok(()),
                    Ok(started) => {
                        tracing::info!(started, "scheduled syncs");
                        Ok(())
                    }
                    Err(error) => Err(error.into_job_failure()),
                }
            }
        })
        .register::<PruneJobEvents, _, _>(move |_ctx, payload: PrunePayload| {
            let app = prune_app.clone();
            async move {
                let retention = Duration::from_secs(payload.retention_days.saturating_mul(86_400));
                match domain::job_runs::prune_events(&app.db, retention).await {
                    Ok(pruned) => {
                        tracing::info!(
                            events = pruned.events,
                            jobs = pruned.jobs,
                            "pruned old job events"
                        );
                        Ok(())
                    }
                    Err(error) => Err(error.into_job_failure()),
                }
            }
        })
        .register::<StorageSweep, _, _>(move |_ctx, payload: SweepPayload| {
            let app = sweep_app.clone();
            async move {
                let grace = Duration::from_secs(payload.grace_secs);
                match domain::blobs::sweep(&app.db, domain::blobs::UNUSED_BLOB_GRACE).await {
                    Ok(removed) => tracing::info!(removed, "unused file contents swept"),
                    Err(error) => return Err(error.into_job_failure()),
                }
                match domain::images::sweep(&app.db, &app.images, grace).await {
                    Ok(report) => {
                        tracing::info!(
                            objects = report.objects,
                            orphans_removed = report.orphans_removed,
                            missing_objects = report.missing_objects,
                            "storage sweep"
                        );
                        Ok(())
                    }
                    Err(error) => Err(error.into_job_failure()),
                }
            }
        })
}
