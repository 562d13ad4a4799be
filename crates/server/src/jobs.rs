//! The job bodies this server runs, over the shared job runtime (`crates/jobs`).

use app::state::AppState;
use jobs::{JobKind, Runtime};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The storage sweep: removes stored objects whose rows are gone and reports rows whose object is
/// missing. Scheduled every `storage.sweep_interval_secs`; one instance runs each one.
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

/// The runtime with every job kind this server runs, named after this process.
pub fn runtime(
    state: &AppState,
    pool: &sea_orm::DatabaseConnection,
    github: &crate::config::GitHubSettings,
) -> Runtime {
    let instance = format!(
        "cairn-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let sweep_state = state.clone();
    let sync_db = state.db.clone();
    let secrets = state.secrets.clone();
    let github = github.clone();
    Runtime::new(pool.clone(), instance)
        .register::<domain::syncs::ProjectSyncJob, _, _>(move |job, payload| {
            crate::project_sync::run(
                sync_db.clone(),
                secrets.clone(),
                github.clone(),
                job,
                payload,
            )
        })
        .register::<StorageSweep, _, _>(move |_ctx, payload: SweepPayload| {
            let state = sweep_state.clone();
            async move {
                let grace = Duration::from_secs(payload.grace_secs);
                match domain::images::sweep(&state.db, &state.images, grace).await {
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
