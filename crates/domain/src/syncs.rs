//! Project Sync's records: starting a sync (one queued or running per project, held by the
//! database), what a run needs to know, its progress, and the finalize that makes a run's result
//! current in one transaction. The run itself (GitHub, the diff) is the server's `project.sync`
//! job, acting through these functions as `Principal::Job`.

use crate::audit::AuditAction;
use crate::entities::projects;
use crate::{DomainError, TenantTxn, audit, job_runs, sql};
use api::github::{BranchName, GithubRepo, ScanPath};
use api::ids::{JobId, MemoryEntryId, ProjectId, ProjectSyncId, UserId};
use api::jobs::JobStatus;
use api::syncs::{
    DiffLine, ProjectSync, SkippedFile, SyncChanges, SyncCounts, SyncFileChange, SyncPhase,
    SyncProgress, SyncTrigger,
};
use api::tenants::Permission;
use jobs::JobKind;
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

/// The job that runs a sync. Its body is registered by the server.
pub struct ProjectSyncJob;

/// What the job is given: the sync to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProjectSyncPayload {
    /// The sync row.
    pub sync_id: ProjectSyncId,
}

impl JobKind for ProjectSyncJob {
    const NAME: &'static str = "project.sync";
    const QUEUE: &'static str = "sync";
    type Payload = ProjectSyncPayload;
    // A sync is idempotent until its finalize commits: a run cut short is simply run again.
    const MAX_ATTEMPTS: i32 = 3;
    const STALE_AFTER: Duration = Duration::from_secs(60);
    const REQUEUE_WHEN_STALE: bool = true;
    // The largest branches, with rate-limit waits (up to `github.max_rate_limit_wait_secs`), end
    // well within this.
    const TIMEOUT: Duration = Duration::from_secs(3600);
}

/// How long a sync started by a push waits, so that a burst of pushes makes one sync.
pub const PUSH_DEBOUNCE: Duration = Duration::from_secs(2);

/// A sync as `to_dto` reads it, with the name of who asked for it; callers add the `WHERE`.
const SELECT_SYNCS: &str =
    "SELECT s.id, s.project_id, s.job_id, s.trigger, s.branch, s.scan_path, s.head_sha,
    s.status, s.phase, s.files_scanned, s.files_added, s.files_changed, s.files_moved,
    s.files_removed, s.files_unchanged, s.skipped, s.github_requests, s.error, s.created_at,
    coalesce((s.progress->>'to_fetch')::int, 0) AS to_fetch,
    coalesce((s.progress->>'fetched')::int, 0) AS fetched,
    s.started_at, s.finished_at, u.display_name AS requested_by_name, u.email AS requested_by_email
     FROM project_syncs s LEFT JOIN users u ON u.id = s.requested_by";

/// Starts a sync of the project's linked branch, or answers the one already queued or running
/// (pressing Sync twice starts one). The job is enqueued in the same transaction.
pub async fn start(
    tx: &TenantTxn,
    project_id: ProjectId,
    trigger: SyncTrigger,
) -> Result<ProjectSync, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    start_with(tx, project_id, trigger, tx.ctx().user_id(), None).await
}

/// Starts a sync from the command line (`cairn sync`): the instance's operator names a project,
/// whatever team it belongs to, and optionally another branch than the linked one. Cairn acts
/// (`Principal::System`); the context comes back, to follow the sync with.
pub async fn start_from_command_line(
    db: &crate::Db,
    project_id: ProjectId,
    branch: Option<BranchName>,
) -> Result<(crate::TenantCtx, ProjectSync), DomainError> {
    let ctx = crate::TenantCtx::for_system_owning(
        db,
        "cairn_project_tenant",
        project_id.into_uuid(),
        "cli",
    )
    .await?;
    let sync = db
        .transact(&ctx, async |tx| {
            start_with(tx, project_id, SyncTrigger::Cli, None, branch.as_ref()).await
        })
        .await?;
    Ok((ctx, sync))
}

/// A scheduled project whose turn has come, and the context to check it in (Cairn acting,
/// `Principal::System { what: "schedule" }`).
pub struct DueCheck {
    /// Cairn acting in the project's team.
    pub ctx: crate::TenantCtx,
    /// The project.
    pub project_id: ProjectId,
}

/// Hands out up to `max` scheduled projects whose interval has passed since their last check,
/// across teams, and marks them checked: each one goes to one caller, whichever instance asks.
pub async fn due_for_schedule(db: &crate::Db, max: u32) -> Result<Vec<DueCheck>, DomainError> {
    #[derive(FromQueryResult)]
    struct Due {
        tenant_id: Uuid,
        project_id: Uuid,
    }
    let rows = Due::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT tenant_id, project_id FROM cairn_due_scheduled_syncs($1)",
        [i32::try_from(max).unwrap_or(i32::MAX).into()],
    ))
    .all(db.connection())
    .await?;
    let mut due = Vec::with_capacity(rows.len());
    for Due {
        tenant_id: tenant,
        project_id: project,
    } in rows
    {
        match crate::TenantCtx::for_system(db, api::ids::TenantId::from_uuid(tenant), "schedule")
            .await
        {
            Ok(ctx) => due.push(DueCheck {
                ctx,
                project_id: ProjectId::from_uuid(project),
            }),
            // The team went away in between.
            Err(DomainError::NotFound) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(due)
}

/// What a scheduled check asks GitHub: the linked branch, with the ETag of its last completed
/// sync (an unchanged branch then answers 304, which costs nothing).
#[derive(Debug, Clone)]
pub struct BranchCheck {
    /// The repository.
    pub repo: GithubRepo,
    /// The linked branch.
    pub branch: BranchName,
    /// For `If-None-Match`; `None` before the first completed sync.
    pub last_etag: Option<String>,
}

/// The check a schedule makes for the project, or `None` when there is nothing to check: the
/// project is no longer linked, or a sync is queued or running already.
pub async fn branch_check(
    tx: &TenantTxn,
    project_id: ProjectId,
) -> Result<Option<BranchCheck>, DomainError> {
    let project = tx.find::<projects::Entity>(project_id.into_uuid()).await?;
    let (Some(owner), Some(name), Some(branch)) = (
        project.github_owner.as_ref(),
        project.github_repo.as_ref(),
        project.github_branch.as_ref(),
    ) else {
        return Ok(None);
    };
    if active(tx, project_id).await?.is_some() {
        return Ok(None);
    }
    #[derive(FromQueryResult)]
    struct Completed {
        branch_etag: Option<String>,
    }
    let last_etag = Completed::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT branch_etag FROM project_syncs
              WHERE project_id = $1 AND tenant_id = $2 AND branch = $3 AND scan_path = $4
                AND status = 'completed'
              ORDER BY finished_at DESC LIMIT 1",
        [
            project.id.into(),
            tx.ctx().tenant_id().into_uuid().into(),
            branch.clone().into(),
            project.github_path.clone().into(),
        ],
    ))
    .one(tx.txn())
    .await?
    .and_then(|row| row.branch_etag);
    Ok(Some(BranchCheck {
        repo: GithubRepo::parse(&format!("{owner}/{name}"))?,
        branch: BranchName::parse(branch)?,
        last_etag,
    }))
}

/// Starts the sync a scheduled check found due (the branch moved).
pub async fn start_scheduled(
    tx: &TenantTxn,
    project_id: ProjectId,
) -> Result<ProjectSync, DomainError> {
    start_with(tx, project_id, SyncTrigger::Schedule, None, None).await
}

/// The sync's last reported progress, if it reported any.
pub async fn progress(
    tx: &TenantTxn,
    id: ProjectSyncId,
) -> Result<Option<SyncProgress>, DomainError> {
    #[derive(FromQueryResult)]
    struct Saved {
        progress: serde_json::Value,
    }
    let row = Saved::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT progress FROM project_syncs WHERE id = $1 AND tenant_id = $2",
        [
            id.into_uuid().into(),
            tx.ctx().tenant_id().into_uuid().into(),
        ],
    ))
    .one(tx.txn())
    .await?
    .ok_or(DomainError::NotFound)?;
    Ok(serde_json::from_value(row.progress).ok())
}

/// [`start`], on behalf of `requested_by`. A push (`Webhook`) that finds a sync already running
/// (it may have read the branch before this push) asks for one more sync after it; pushes that
/// find one still queued are part of it.
pub(crate) async fn start_with(
    tx: &TenantTxn,
    project_id: ProjectId,
    trigger: SyncTrigger,
    requested_by: Option<UserId>,
    branch: Option<&BranchName>,
) -> Result<ProjectSync, DomainError> {
    let project = tx.find::<projects::Entity>(project_id.into_uuid()).await?;
    let linked = project
        .github_branch
        .clone()
        .filter(|_| project.github_repo.is_some());
    let Some(branch) = linked.map(|linked| branch.map_or(linked, |b| b.as_str().to_owned())) else {
        return Err(DomainError::Invalid {
            field: "project_id".into(),
            reason: "the project is not linked to a GitHub repository".into(),
        });
    };
    let ctx = tx.ctx();
    let sync_id = Uuid::now_v7();
    // The partial unique index allows one queued or running sync per project; a second start
    // inserts nothing (and waits for a concurrent one to commit first).
    #[derive(FromQueryResult)]
    struct Inserted {
        #[allow(dead_code, reason = "read to learn whether a row was inserted")]
        id: Uuid,
    }
    let inserted = Inserted::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO project_syncs (id, tenant_id, project_id, branch, scan_path, trigger,
                                        requested_by, previous_sync_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7,
                     (SELECT id FROM project_syncs WHERE project_id = $3
                       ORDER BY created_at DESC, id DESC LIMIT 1))
             ON CONFLICT (project_id) WHERE status IN ('queued', 'running') DO NOTHING
             RETURNING id",
        [
            sync_id.into(),
            ctx.tenant_id().into_uuid().into(),
            project.id.into(),
            branch.into(),
            project.github_path.clone().into(),
            trigger.as_str().into(),
            requested_by.map(UserId::into_uuid).into(),
        ],
    ))
    .one(tx.txn())
    .await?;
    if inserted.is_none() {
        let running = active(tx, project_id)
            .await?
            .ok_or_else(|| DomainError::Conflict("a sync just ended; press Sync again".into()))?;
        if trigger == SyncTrigger::Webhook && running.status == JobStatus::Running {
            tx.txn()
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "UPDATE project_syncs SET resync_requested = true WHERE id = $1 AND tenant_id = $2",
                    [running.id.into_uuid().into(), ctx.tenant_id().into_uuid().into()],
                ))
                .await?;
        }
        return Ok(running);
    }
    let sync = ProjectSyncId::from_uuid(sync_id);
    // A push waits a moment before it starts: the rest of a burst of pushes joins it.
    let run_after = (trigger == SyncTrigger::Webhook).then(|| {
        chrono::Utc::now() + chrono::Duration::from_std(PUSH_DEBOUNCE).unwrap_or_default()
    });
    let job = job_runs::enqueue_for::<ProjectSyncJob>(
        tx,
        &ProjectSyncPayload { sync_id: sync },
        run_after,
        requested_by,
    )
    .await?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE project_syncs SET job_id = $2 WHERE id = $1",
            [sync_id.into(), job.into_uuid().into()],
        ))
        .await?;
    audit::record(
        tx.txn(),
        ctx,
        AuditAction::SyncStart,
        sync_id,
        serde_json::json!({"project": project.id, "trigger": trigger.as_str()}),
    )
    .await?;
    get(tx, sync).await
}

/// The project's queued or running sync, if any.
pub async fn active(
    tx: &TenantTxn,
    project_id: ProjectId,
) -> Result<Option<ProjectSync>, DomainError> {
    let row = SyncRow::find_by_statement(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "{SELECT_SYNCS}
                  WHERE s.project_id = $1 AND s.tenant_id = $2 AND s.status IN ('queued', 'running')"
            ),
            [
                project_id.into_uuid().into(),
                tx.ctx().tenant_id().into_uuid().into(),
            ],
        ))
        .one(tx.txn())
        .await?;
    row.map(SyncRow::into_dto).transpose()
}

/// One sync; another tenant's is `NotFound`.
pub async fn get(tx: &TenantTxn, id: ProjectSyncId) -> Result<ProjectSync, DomainError> {
    SyncRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "{SELECT_SYNCS}
                  WHERE s.id = $1 AND s.tenant_id = $2"
        ),
        [
            id.into_uuid().into(),
            tx.ctx().tenant_id().into_uuid().into(),
        ],
    ))
    .one(tx.txn())
    .await?
    .ok_or(DomainError::NotFound)?
    .into_dto()
}

/// The project's syncs, newest first (at most `limit`).
pub async fn history(
    tx: &TenantTxn,
    project_id: ProjectId,
    limit: u64,
) -> Result<Vec<ProjectSync>, DomainError> {
    tx.find::<projects::Entity>(project_id.into_uuid()).await?;
    let rows = SyncRow::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "{SELECT_SYNCS}
                  WHERE s.project_id = $1 AND s.tenant_id = $2
                  ORDER BY s.created_at DESC, s.id DESC LIMIT $3"
        ),
        [
            project_id.into_uuid().into(),
            tx.ctx().tenant_id().into_uuid().into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    ))
    .all(tx.txn())
    .await?;
    rows.into_iter().map(SyncRow::into_dto).collect()
}

/// The paths the sync changed. Entries it wrote are additions, or changes when it also superseded
/// the path's previous entry; entries older than the sync that it re-pointed are moves; entries it
/// superseded without a replacement are removals.
pub async fn changes(tx: &TenantTxn, id: ProjectSyncId) -> Result<SyncChanges, DomainError> {
    #[derive(FromQueryResult)]
    struct Touched {
        source_path: String,
        written: bool,
        older: bool,
    }
    let sync = get(tx, id).await?;
    let rows = Touched::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT e.source_path, e.sync_id = $1 AS written, e.created_at < s.created_at AS older
               FROM memory_entries e JOIN project_syncs s ON s.id = $1
              WHERE e.tenant_id = $2 AND e.kind = 'file' AND e.source_path IS NOT NULL
                AND (e.sync_id = $1 OR e.superseded_by_sync_id = $1)
              ORDER BY e.source_path
              LIMIT 1001",
        [
            sync.id.into_uuid().into(),
            tx.ctx().tenant_id().into_uuid().into(),
        ],
    ))
    .all(tx.txn())
    .await?;
    let mut written = Vec::new();
    let mut moved = Vec::new();
    let mut superseded = std::collections::BTreeSet::new();
    let more = rows.len() > 1000;
    for row in rows.into_iter().take(1000) {
        let path = row.source_path;
        match (row.written, row.older) {
            (true, true) => moved.push(path),
            (true, false) => written.push(path),
            (false, _) => {
                superseded.insert(path);
            }
        }
    }
    let (changed, added): (Vec<String>, Vec<String>) = written
        .into_iter()
        .partition(|path| superseded.contains(path));
    let removed = superseded
        .into_iter()
        .filter(|path| !changed.contains(path))
        .collect();
    #[derive(FromQueryResult)]
    struct Skipped {
        skipped_paths: serde_json::Value,
    }
    let skipped = Skipped::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT skipped_paths FROM project_syncs WHERE id = $1 AND tenant_id = $2",
        [
            sync.id.into_uuid().into(),
            tx.ctx().tenant_id().into_uuid().into(),
        ],
    ))
    .one(tx.txn())
    .await?
    .and_then(|row| serde_json::from_value(row.skipped_paths).ok())
    .unwrap_or_default();
    Ok(SyncChanges {
        added,
        changed,
        moved,
        removed,
        more,
        skipped,
    })
}

/// What sync `id` did to `path`: the entry it wrote and the one it superseded there, and the line
/// diff between their texts (a new file is all additions, a removed one all removals).
pub async fn file_change(
    tx: &TenantTxn,
    id: ProjectSyncId,
    path: &str,
) -> Result<SyncFileChange, DomainError> {
    #[derive(FromQueryResult)]
    struct Side {
        id: Uuid,
        written: bool,
        /// Written by the sync, but older than it: an unchanged file that moved here.
        moved: bool,
        content: String,
    }
    let sync = get(tx, id).await?;
    let sides = Side::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "SELECT memory_entries.id, memory_entries.sync_id = $1 AS written,
                    memory_entries.created_at < s.created_at AS moved, {} AS content
               FROM memory_entries JOIN project_syncs s ON s.id = $1
              WHERE memory_entries.tenant_id = $2 AND memory_entries.kind = 'file'
                AND memory_entries.source_path = $3
                AND (memory_entries.sync_id = $1 OR memory_entries.superseded_by_sync_id = $1)",
            crate::blobs::ENTRY_CONTENT_SQL
        ),
        [
            sync.id.into_uuid().into(),
            tx.ctx().tenant_id().into_uuid().into(),
            path.into(),
        ],
    ))
    .all(tx.txn())
    .await?;
    if sides.is_empty() {
        return Err(DomainError::NotFound);
    }
    let new = sides.iter().find(|side| side.written);
    let old = sides.iter().find(|side| !side.written);
    // A file that only moved here has the same text as before: no lines changed.
    let (lines, more_lines) = if new.is_some_and(|side| side.moved) {
        (Vec::new(), 0)
    } else {
        line_diff(
            old.map_or("", |side| side.content.as_str()),
            new.map_or("", |side| side.content.as_str()),
        )
    };
    Ok(SyncFileChange {
        path: path.to_owned(),
        new_entry: new.map(|side| MemoryEntryId::from_uuid(side.id)),
        old_entry: old.map(|side| MemoryEntryId::from_uuid(side.id)),
        lines,
        more_lines,
    })
}

/// The most diff lines a page shows.
const MAX_DIFF_LINES: usize = 5000;

/// `old` against `new`, line by line, in hunks with three lines of context; cut after
/// [`MAX_DIFF_LINES`] lines (the count of the rest is answered). Gives up looking for the
/// smallest diff after a second (a correct diff, maybe longer, is answered).
fn line_diff(old: &str, new: &str) -> (Vec<DiffLine>, u32) {
    let diff = similar::TextDiff::configure()
        .algorithm(similar::Algorithm::Patience)
        .timeout(std::time::Duration::from_secs(1))
        .diff_lines(old, new);
    let number = |index: Option<usize>| index.and_then(|i| u32::try_from(i + 1).ok());
    let mut lines = Vec::new();
    for group in diff.grouped_ops(3) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let (old_range, new_range) = (
            first.old_range().start..last.old_range().end,
            first.new_range().start..last.new_range().end,
        );
        lines.push(DiffLine {
            sign: '@',
            old_line: None,
            new_line: None,
            // As git writes it: an empty side starts at the line before.
            text: format!(
                "@@ -{},{} +{},{} @@",
                old_range.start + usize::from(!old_range.is_empty()),
                old_range.len(),
                new_range.start + usize::from(!new_range.is_empty()),
                new_range.len()
            ),
        });
        for op in &group {
            for change in diff.iter_changes(op) {
                lines.push(DiffLine {
                    sign: match change.tag() {
                        similar::ChangeTag::Delete => '-',
                        similar::ChangeTag::Insert => '+',
                        similar::ChangeTag::Equal => ' ',
                    },
                    old_line: number(change.old_index()),
                    new_line: number(change.new_index()),
                    text: change.value().trim_end_matches(['\n', '\r']).to_owned(),
                });
            }
        }
    }
    let more = lines.len().saturating_sub(MAX_DIFF_LINES);
    lines.truncate(MAX_DIFF_LINES);
    (lines, u32::try_from(more).unwrap_or(u32::MAX))
}

/// Cancels the sync, whatever state it is in, and answers it as it is then. Queued (also between
/// attempts): cancelled at once. Running: its job stops at its next step, or its runtime drops the
/// work within a few seconds; a run whose worker stopped answering is cancelled at once. A sync
/// still open whose job is over or gone (nothing would ever close it) is closed here. Nothing a
/// cancelled sync did becomes visible. A sync that is over already is answered unchanged.
pub async fn cancel(tx: &TenantTxn, id: ProjectSyncId) -> Result<ProjectSync, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    let sync = get(tx, id).await?;
    if sync.status.is_final() {
        return Ok(sync);
    }
    if let Some(job) = sync.job_id {
        match job_runs::cancel_stale_after(tx, job, ProjectSyncJob::STALE_AFTER).await {
            // The job ended meanwhile, or had ended without closing its sync: closed below.
            Ok(()) | Err(DomainError::Conflict(_) | DomainError::NotFound) => {}
            Err(error) => return Err(error),
        }
    }
    let closed = tx
        .txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE project_syncs s
                SET status = 'cancelled', finished_at = now()
              WHERE s.id = $1 AND s.tenant_id = $2 AND s.status IN ('queued', 'running')
                AND NOT EXISTS (SELECT 1 FROM jobs j
                                 WHERE j.id = s.job_id AND j.status IN ('queued', 'running'))",
            [
                id.into_uuid().into(),
                tx.ctx().tenant_id().into_uuid().into(),
            ],
        ))
        .await?;
    if closed.rows_affected() > 0 {
        audit::record(
            tx.txn(),
            tx.ctx(),
            AuditAction::SyncCancel,
            id.into_uuid(),
            serde_json::json!({"job": sync.job_id}),
        )
        .await?;
    }
    get(tx, id).await
}

/// What a run needs: the repository, branch and folder as they were when the sync started, and
/// the branch's ETag from the last completed sync of that branch.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The sync.
    pub sync_id: ProjectSyncId,
    /// Its project.
    pub project_id: ProjectId,
    /// The repository.
    pub repo: GithubRepo,
    /// The branch.
    pub branch: BranchName,
    /// The folder.
    pub scan_path: ScanPath,
    /// For `If-None-Match`.
    pub last_etag: Option<String>,
    /// The head the last completed sync of this branch imported.
    pub last_head: Option<String>,
    /// What the project's syncs leave out beyond the defaults (one pattern each).
    pub ignore: Vec<String>,
}

/// Marks the sync running and reads its plan. A sync that is over already (cancelled while
/// queued) is `Conflict`.
pub async fn begin_run(tx: &TenantTxn, id: ProjectSyncId) -> Result<RunPlan, DomainError> {
    #[derive(FromQueryResult)]
    struct Begun {
        project_id: Uuid,
        github_owner: Option<String>,
        github_repo: Option<String>,
        branch: String,
        scan_path: String,
        sync_ignore: String,
        last_etag: Option<String>,
        last_head: Option<String>,
    }
    let row = Begun::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE project_syncs s
                SET status = 'running', phase = 'prepare', started_at = now(), heartbeat_at = now(),
                    error = NULL, repository = p.github_owner || '/' || p.github_repo
               FROM projects p
              WHERE s.id = $1 AND s.tenant_id = $2 AND p.id = s.project_id
                AND s.status IN ('queued', 'running')
             RETURNING s.project_id, p.github_owner, p.github_repo, s.branch, s.scan_path,
                       p.sync_ignore,
                       (SELECT branch_etag FROM project_syncs c
                         WHERE c.project_id = s.project_id AND c.branch = s.branch
                           AND c.scan_path = s.scan_path AND c.status = 'completed'
                         ORDER BY c.finished_at DESC LIMIT 1) AS last_etag,
                       (SELECT head_sha FROM project_syncs c
                         WHERE c.project_id = s.project_id AND c.branch = s.branch
                           AND c.status = 'completed'
                         ORDER BY c.finished_at DESC LIMIT 1) AS last_head",
        [
            id.into_uuid().into(),
            tx.ctx().tenant_id().into_uuid().into(),
        ],
    ))
    .one(tx.txn())
    .await?
    .ok_or_else(|| DomainError::Conflict("this sync is over already".into()))?;
    let (Some(owner), Some(name)) = (row.github_owner, row.github_repo) else {
        return Err(DomainError::Invalid {
            field: "project".into(),
            reason: "the project is no longer linked to a GitHub repository".into(),
        });
    };
    Ok(RunPlan {
        sync_id: id,
        project_id: ProjectId::from_uuid(row.project_id),
        repo: GithubRepo::parse(&format!("{owner}/{name}"))?,
        branch: BranchName::parse(&row.branch)?,
        scan_path: ScanPath::parse(&row.scan_path)?,
        last_etag: row.last_etag,
        last_head: row.last_head,
        ignore: row
            .sync_ignore
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// Saves the run's progress on its row and announces it on its job's stream, when the caller
/// commits.
pub async fn record_progress(
    tx: &TenantTxn,
    id: ProjectSyncId,
    progress: &SyncProgress,
) -> Result<(), DomainError> {
    let counts = &progress.counts;
    let as_json = serde_json::to_value(progress)
        .map_err(|e| DomainError::Internal(format!("sync progress: {e}")))?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE project_syncs
                SET phase = $3, progress = $4, heartbeat_at = now(), github_requests = $5,
                    files_scanned = $6, files_added = $7, files_changed = $8, files_moved = $9,
                    files_removed = $10, files_unchanged = $11, files_skipped = $12, skipped = $13,
                    head_sha = COALESCE($14, head_sha)
              WHERE id = $1 AND tenant_id = $2",
            [
                id.into_uuid().into(),
                tx.ctx().tenant_id().into_uuid().into(),
                progress.phase.as_str().into(),
                as_json.clone().into(),
                i32::try_from(progress.github_requests)
                    .unwrap_or(i32::MAX)
                    .into(),
                count(counts.scanned),
                count(counts.added),
                count(counts.changed),
                count(counts.moved),
                count(counts.removed),
                count(counts.unchanged),
                count(counts.skipped.values().sum()),
                serde_json::to_value(&counts.skipped)
                    .unwrap_or_default()
                    .into(),
                progress.commit.clone().into(),
            ],
        ))
        .await?;
    job_runs::report_progress(tx, &as_json).await
}

/// Puts a running sync back in the queue, its progress saying until when it waits (its job waits
/// as long).
pub async fn postpone(
    tx: &TenantTxn,
    id: ProjectSyncId,
    progress: &SyncProgress,
) -> Result<(), DomainError> {
    record_progress(tx, id, progress).await?;
    tx.txn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE project_syncs SET status = 'queued'
              WHERE id = $1 AND tenant_id = $2 AND status = 'running'",
            [
                id.into_uuid().into(),
                tx.ctx().tenant_id().into_uuid().into(),
            ],
        ))
        .await?;
    Ok(())
}

fn count(n: u32) -> sea_orm::Value {
    i32::try_from(n).unwrap_or(i32::MAX).into()
}

/// A file entry the Memory Hub holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveFile {
    /// The entry.
    pub id: Uuid,
    /// Its path.
    pub path: String,
    /// Its contents' blob SHA.
    pub blob_sha: String,
}

/// The project's active file entries.
pub async fn active_files(
    tx: &TenantTxn,
    project_id: ProjectId,
) -> Result<Vec<ActiveFile>, DomainError> {
    #[derive(FromQueryResult)]
    struct Active {
        id: Uuid,
        source_path: String,
        blob_sha: String,
    }
    let rows = Active::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT id, source_path, blob_sha FROM memory_entries
              WHERE project_id = $1 AND tenant_id = $2 AND kind = 'file' AND status = 'active'
                AND source_path IS NOT NULL AND blob_sha IS NOT NULL",
        [
            project_id.into_uuid().into(),
            tx.ctx().tenant_id().into_uuid().into(),
        ],
    ))
    .all(tx.txn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ActiveFile {
            id: row.id,
            path: row.source_path,
            blob_sha: row.blob_sha,
        })
        .collect())
}

/// A new or changed file of the run, its text stored as the team's blob `blob_sha`
/// ([`crate::blobs::store`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedFile {
    /// Its path.
    pub path: String,
    /// Its blob SHA.
    pub blob_sha: String,
    /// Its language, when known from its name.
    pub language: Option<String>,
    /// Size in bytes.
    pub byte_size: i64,
}

/// What a run found, to make current.
#[derive(Debug, Clone, Default)]
pub struct SyncResult {
    /// The head commit synced.
    pub head_sha: String,
    /// The branch's ETag, for the next sync.
    pub etag: Option<String>,
    /// New and changed files.
    pub fetched: Vec<FetchedFile>,
    /// Entries replaced by a fetched file (changed paths) or gone from the branch.
    pub superseded: Vec<Uuid>,
    /// Entries whose contents moved to another path: (entry, new path).
    pub moved: Vec<(Uuid, String)>,
    /// The files left out, with why.
    pub skipped: Vec<SkippedFile>,
    /// The final progress (counts, requests).
    pub progress: Option<SyncProgress>,
}

/// Makes the run's result current, all in the caller's transaction: the fetched files become
/// active entries, the replaced and removed ones are superseded, moved ones re-pointed, the sync
/// closed with its counts, audited, and announced. Until this commits, nobody sees any of it.
pub async fn finalize(
    tx: &TenantTxn,
    plan: &RunPlan,
    result: SyncResult,
) -> Result<(), DomainError> {
    let ctx = tx.ctx();
    let txn = tx.txn();
    let tenant = ctx.tenant_id().into_uuid();
    let sync = plan.sync_id.into_uuid();
    if !result.superseded.is_empty() {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE memory_entries
                SET status = 'superseded', superseded_by_sync_id = $3, updated_at = now()
              WHERE tenant_id = $1 AND id = ANY($2) AND status = 'active'",
            [tenant.into(), sql::uuids(&result.superseded), sync.into()],
        ))
        .await?;
    }
    for (id, path) in &result.moved {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE memory_entries SET source_path = $3, title = $3, sync_id = $4, updated_at = now()
              WHERE tenant_id = $1 AND id = $2",
            [tenant.into(), (*id).into(), path.clone().into(), sync.into()],
        ))
        .await?;
    }
    // The texts are the team's blobs, stored during the import; an entry points at its blob.
    // In batches: one statement per few hundred files, not one per file. A file's language is
    // absent when its name says none (LICENSE, .gitignore, a.rb): that column travels as a JSON
    // array with nulls (see `sql`).
    let insert = format!(
        "INSERT INTO memory_entries (id, tenant_id, project_id, kind, title, content,
                                     source_path, blob_sha, status, sync_id, language,
                                     byte_size, created_by)
         SELECT f.id, $1, $2, 'file', f.path, '', f.path, f.sha, 'active', $3,
                f.language, f.size, $9
           FROM unnest($4::uuid[], $5::text[], $6::text[], {}, $8::bigint[])
                AS f(id, path, sha, language, size)",
        sql::optional_texts_sql(7)
    );
    for batch in result.fetched.chunks(500) {
        let ids: Vec<Uuid> = batch.iter().map(|_| Uuid::now_v7()).collect();
        let languages: Vec<Option<String>> = batch.iter().map(|f| f.language.clone()).collect();
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            insert.clone(),
            [
                tenant.into(),
                plan.project_id.into_uuid().into(),
                sync.into(),
                sql::uuids(&ids),
                sql::texts(batch.iter().map(|f| f.path.clone()).collect()),
                sql::texts(batch.iter().map(|f| f.blob_sha.clone()).collect()),
                sql::optional_texts(&languages),
                sql::bigints(batch.iter().map(|f| f.byte_size).collect()),
                ctx.user_id().map(UserId::into_uuid).into(),
            ],
        ))
        .await?;
    }
    let progress = result.progress.unwrap_or_else(|| SyncProgress {
        phase: SyncPhase::Finalize,
        counts: SyncCounts::default(),
        to_fetch: 0,
        fetched: 0,
        github_requests: 0,
        rate_limit_remaining: None,
        eta_secs: None,
        waiting_until: None,
        commit: None,
    });
    record_progress(tx, plan.sync_id, &progress).await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "UPDATE project_syncs
            SET status = 'completed', phase = 'finalize', head_sha = $3, branch_etag = $4,
                finished_at = now(), error = NULL, skipped_paths = $5
          WHERE id = $1 AND tenant_id = $2",
        [
            sync.into(),
            tenant.into(),
            result.head_sha.clone().into(),
            result.etag.clone().into(),
            serde_json::to_value(&result.skipped)
                .unwrap_or_default()
                .into(),
        ],
    ))
    .await?;
    let counts = &progress.counts;
    audit::record(
        txn,
        ctx,
        AuditAction::SyncComplete,
        sync,
        serde_json::json!({
            "head": result.head_sha,
            "added": counts.added, "changed": counts.changed, "moved": counts.moved,
            "removed": counts.removed, "unchanged": counts.unchanged,
        }),
    )
    .await?;
    // A push arrived while this sync ran: one more sync, queued in this same transaction.
    #[derive(FromQueryResult)]
    struct Resync {
        resync_requested: bool,
    }
    let resync = Resync::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT resync_requested FROM project_syncs WHERE id = $1 AND tenant_id = $2",
        [sync.into(), tenant.into()],
    ))
    .one(txn)
    .await?
    .is_some_and(|row| row.resync_requested);
    if resync {
        start_with(tx, plan.project_id, SyncTrigger::Webhook, None, None).await?;
    }
    // Search sees the change once the team's indexing has run.
    crate::knowledge::queue_indexing(tx).await?;
    Ok(())
}

/// A sync as `SELECT_SYNCS` reads it.
#[derive(FromQueryResult)]
struct SyncRow {
    id: Uuid,
    project_id: Uuid,
    job_id: Option<Uuid>,
    trigger: String,
    branch: String,
    scan_path: String,
    head_sha: Option<String>,
    status: String,
    phase: Option<String>,
    files_scanned: i32,
    files_added: i32,
    files_changed: i32,
    files_moved: i32,
    files_removed: i32,
    files_unchanged: i32,
    skipped: serde_json::Value,
    github_requests: i32,
    error: Option<String>,
    created_at: chrono::DateTime<chrono::FixedOffset>,
    to_fetch: i32,
    fetched: i32,
    started_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    finished_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    requested_by_name: Option<String>,
    requested_by_email: Option<String>,
}

impl SyncRow {
    fn into_dto(self) -> Result<ProjectSync, DomainError> {
        let internal =
            |what: &str, value: &str| DomainError::Internal(format!("sync {what} {value:?}"));
        Ok(ProjectSync {
            id: ProjectSyncId::from_uuid(self.id),
            project_id: ProjectId::from_uuid(self.project_id),
            job_id: self.job_id.map(JobId::from_uuid),
            trigger: SyncTrigger::parse(&self.trigger)
                .ok_or_else(|| internal("trigger", &self.trigger))?,
            requested_by: self
                .requested_by_name
                .filter(|n| !n.is_empty())
                .or(self.requested_by_email),
            branch: self.branch,
            scan_path: self.scan_path,
            head_sha: self.head_sha,
            status: JobStatus::parse(&self.status)
                .ok_or_else(|| internal("status", &self.status))?,
            phase: match self.phase {
                Some(phase) => {
                    Some(SyncPhase::parse(&phase).ok_or_else(|| internal("phase", &phase))?)
                }
                None => None,
            },
            counts: SyncCounts {
                scanned: crate::sql::unsigned(self.files_scanned),
                added: crate::sql::unsigned(self.files_added),
                changed: crate::sql::unsigned(self.files_changed),
                moved: crate::sql::unsigned(self.files_moved),
                removed: crate::sql::unsigned(self.files_removed),
                unchanged: crate::sql::unsigned(self.files_unchanged),
                skipped: serde_json::from_value(self.skipped).unwrap_or_default(),
            },
            to_fetch: crate::sql::unsigned(self.to_fetch),
            fetched: crate::sql::unsigned(self.fetched),
            github_requests: crate::sql::unsigned(self.github_requests),
            error: self.error,
            created_at: self.created_at.to_rfc3339(),
            started_at: self.started_at.map(|t| t.to_rfc3339()),
            finished_at: self.finished_at.map(|t| t.to_rfc3339()),
        })
    }
}
