//! The `project.sync` job: a GitHub branch into the Memory Hub. Prepare (the branch's head, asked
//! conditionally, so an unchanged branch costs one 304), scan (the tree under the scan path,
//! filtered, diffed on path and blob SHA against the active entries), import (only new and changed
//! blobs are fetched; a file moved unchanged is re-pointed), finalize (one transaction:
//! `domain::syncs::finalize`). Progress is saved and announced on the job's event stream as it
//! goes. Nothing the user sees changes before finalize commits, so a failed or cancelled run
//! leaves the previous state whole.

use crate::AppContext;
use crate::context::GitHubSettings;
use api::syncs::{MAX_SKIPPED_LISTED, SkippedFile, SyncCounts, SyncPhase, SyncProgress};
use domain::blobs;
use domain::syncs::{self, ActiveFile, FetchedFile, ProjectSyncPayload, RunPlan, SyncResult};
use domain::{Db, DomainError, TenantCtx, github_quota, project_secrets};
use github::{GitHub, GitHubError, Head, TreeFile};
use jobs::{JobCtx, JobFailure};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use sync_rules::{diff, eta, ignored_by, language_of, skip_explained, text_of, under};

/// Reports at most this often during the import.
const REPORT_EVERY: Duration = Duration::from_millis(250);

/// Runs one sync.
pub async fn run(
    app: AppContext,
    job: JobCtx,
    payload: ProjectSyncPayload,
) -> Result<(), JobFailure> {
    let AppContext {
        db,
        secrets,
        github: settings,
        ..
    } = app;
    let ctx = TenantCtx::for_job(&db, &job)
        .await
        .map_err(DomainError::into_job_failure)?;
    let plan = match db
        .transact(&ctx, async |tx| syncs::begin_run(tx, payload.sync_id).await)
        .await
    {
        Ok(plan) => plan,
        // Cancelled while it waited in the queue: nothing to do.
        Err(DomainError::Conflict(_)) => return Ok(()),
        Err(error) => return Err(error.into_job_failure()),
    };
    let project = plan.project_id;
    let token = db
        .transact(&ctx, async |tx| {
            project_secrets::github_token(tx, &secrets, project).await
        })
        .await
        .map_err(DomainError::into_job_failure)?;
    let tokenless = token.is_none();
    let github = settings
        .client(token.as_ref())
        .map_err(|e| JobFailure::Fatal(e.to_string()))?;
    let mut run = Run {
        tokenless,
        db: &db,
        ctx,
        job: &job,
        plan,
        github,
        settings: &settings,
        progress: SyncProgress {
            phase: SyncPhase::Prepare,
            counts: SyncCounts::default(),
            to_fetch: 0,
            fetched: 0,
            github_requests: 0,
            rate_limit_remaining: None,
            eta_secs: None,
            waiting_until: None,
            commit: None,
        },
        last_report: Instant::now(),
        stored: HashMap::new(),
        binary: HashSet::new(),
        skipped: Vec::new(),
        pending: Vec::new(),
        pending_bytes: 0,
        new_bytes: 0,
    };
    // Without a token, the sync takes its first requests from the instance's hourly allowance,
    // and waits in the queue when too little is left.
    if tokenless {
        let taken = db
            .transact(&run.ctx, async |tx| {
                github_quota::take(tx, github_quota::SYNC_REQUESTS).await
            })
            .await
            .map_err(DomainError::into_job_failure)?;
        if let Err(reset) = taken {
            return Err(run.postpone(reset).await);
        }
    }
    run.report().await?;
    let outcome = run.sync().await;
    if tokenless {
        run.note_quota().await;
    }
    outcome
}

/// How many scheduled projects one round checks; the rest wait for the next round.
const SCHEDULE_BATCH: u32 = 50;

/// One round of the sync schedule: each scheduled project whose interval has passed is checked
/// with a conditional request for its branch head. An unchanged branch (304, no rate-limit point)
/// is left alone: no sync, nothing in the history. A moved branch gets a sync (trigger
/// `schedule`). Answers how many syncs were started. A project whose check fails is logged and
/// checked again at its next turn.
pub async fn check_schedules(app: &AppContext) -> Result<usize, DomainError> {
    let mut started = 0;
    for due in syncs::due_for_schedule(&app.db, SCHEDULE_BATCH).await? {
        let project = due.project_id;
        match check_one(app, &due.ctx, project).await {
            Ok(true) => started += 1,
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(project = %project.into_uuid(), %error, "scheduled sync check");
            }
        }
    }
    Ok(started)
}

async fn check_one(
    app: &AppContext,
    ctx: &TenantCtx,
    project: api::ids::ProjectId,
) -> Result<bool, anyhow::Error> {
    let tx = app.db.enter(ctx).await?;
    let check = syncs::branch_check(&tx, project).await?;
    let token = project_secrets::github_token(&tx, &app.secrets, project).await?;
    tx.end_read();
    let Some(check) = check else {
        return Ok(false);
    };
    let github = app.github.client(token.as_ref())?;
    match github
        .head(&check.repo, &check.branch, check.last_etag.as_deref())
        .await?
    {
        Head::Unchanged => Ok(false),
        Head::Current { .. } => {
            app.db
                .transact(ctx, async |tx| syncs::start_scheduled(tx, project).await)
                .await?;
            Ok(true)
        }
    }
}

/// Calls GitHub until the answer is not a rate limit worth waiting for.
macro_rules! patiently {
    ($run:expr, $call:expr) => {
        loop {
            match $call {
                Ok(answer) => break answer,
                Err(error) => $run.wait_out(error).await?,
            }
        }
    };
}

struct Run<'a> {
    /// The project has no token: its requests come from the instance's unauthenticated allowance.
    tokenless: bool,
    db: &'a Db,
    ctx: TenantCtx,
    job: &'a JobCtx,
    plan: RunPlan,
    github: GitHub,
    settings: &'a GitHubSettings,
    progress: SyncProgress,
    last_report: Instant,
    /// The team's stored texts this run knows of, by blob SHA, with their sizes.
    stored: HashMap<String, i64>,
    /// Blobs fetched and found binary.
    binary: HashSet<String>,
    /// The files left out, with why (the first [`MAX_SKIPPED_LISTED`]).
    skipped: Vec<SkippedFile>,
    /// Texts fetched and not yet stored: flushed every [`STORE_BATCH_BYTES`].
    pending: Vec<(String, String)>,
    pending_bytes: usize,
    /// Bytes fetched by this run.
    new_bytes: u64,
}

/// Fetched texts are stored in batches of about this many bytes: the import never holds more.
const STORE_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// … or this many files.
const STORE_BATCH_FILES: usize = 500;

impl Run<'_> {
    async fn sync(&mut self) -> Result<(), JobFailure> {
        let repo = self.plan.repo.clone();
        let branch = self.plan.branch.clone();
        let last_etag = self.plan.last_etag.clone();
        let head = loop {
            match self.github.head(&repo, &branch, last_etag.as_deref()).await {
                Ok(head) => break head,
                Err(GitHubError::NotFound(what)) => return self.branch_missing(what).await,
                Err(error) => self.wait_out(error).await?,
            }
        };
        let (commit_sha, tree_sha, etag) = match head {
            Head::Unchanged => return self.unchanged().await,
            Head::Current {
                commit_sha,
                tree_sha,
                etag,
            } => (commit_sha, tree_sha, etag),
        };
        self.progress.commit = Some(commit_sha.clone());

        // Scan.
        self.progress.phase = SyncPhase::Scan;
        self.report().await?;
        let tree = patiently!(self, self.github.files(&repo, &tree_sha).await);
        self.checkpoint().await?;
        let candidates = self.filter(tree);
        let active = self.active_files().await?;
        let diff = diff(candidates, active);
        let counts = &mut self.progress.counts;
        counts.unchanged = diff.unchanged;
        counts.moved = u32::try_from(diff.moved.len()).unwrap_or(u32::MAX);
        counts.removed = u32::try_from(diff.removed.len()).unwrap_or(u32::MAX);
        counts.added = diff.added;
        counts.changed = diff.changed;
        let files = diff.unchanged as usize + diff.moved.len() + diff.fetch.len();
        if files > self.settings.max_files {
            return Err(JobFailure::Fatal(format!(
                "the branch has {files} files to import, more than this instance allows \
                 ({}, github.max_files); narrow the scan path or ignore folders",
                self.settings.max_files
            )));
        }
        // Contents are stored once per blob: a blob the team holds already (under another path,
        // from an earlier sync or a failed attempt) is not fetched again.
        let mut shas: Vec<String> = diff.fetch.iter().map(|f| f.blob_sha.clone()).collect();
        shas.sort_unstable();
        shas.dedup();
        self.stored = self.stored_blobs(&shas).await?;
        let mut wanted = HashSet::new();
        let to_fetch: Vec<TreeFile> = diff
            .fetch
            .iter()
            .filter(|f| !self.stored.contains_key(&f.blob_sha) && wanted.insert(&f.blob_sha))
            .cloned()
            .collect();
        let new_bytes: u64 = to_fetch.iter().map(|f| f.size).sum();
        if new_bytes > self.settings.max_sync_bytes {
            return Err(self.too_many_bytes(new_bytes));
        }
        self.progress.to_fetch = u32::try_from(to_fetch.len()).unwrap_or(u32::MAX);

        // Import.
        self.progress.phase = SyncPhase::Import;
        self.report().await?;
        // Many blobs: the whole branch in one archive request; few: one request per blob.
        if to_fetch.len() >= self.settings.archive_threshold.max(1) {
            self.import_archive(&commit_sha, to_fetch).await?;
        } else {
            self.import(&to_fetch).await?;
        }
        self.store_pending().await?;
        let fetched = self.entries_for(diff.fetch);

        // Finalize.
        self.progress.phase = SyncPhase::Finalize;
        self.progress.eta_secs = Some(0);
        self.progress.github_requests = self.github.requests_used();
        self.progress.rate_limit_remaining = self.github.rate_limit().map(|r| r.remaining);
        let mut superseded = diff.replaced;
        superseded.extend(diff.removed);
        let result = SyncResult {
            head_sha: commit_sha,
            etag,
            fetched,
            superseded,
            moved: diff.moved,
            skipped: std::mem::take(&mut self.skipped),
            progress: Some(self.progress.clone()),
        };
        self.checkpoint().await?;
        self.finalize(result).await
    }

    /// The files under the scan path a sync imports; the others are counted by why they are
    /// skipped.
    fn filter(&mut self, tree: Vec<TreeFile>) -> Vec<TreeFile> {
        let scan_path = self.plan.scan_path.clone();
        let mut kept = Vec::new();
        for file in tree.into_iter().filter(|f| under(&scan_path, &f.path)) {
            self.progress.counts.scanned += 1;
            let skip = if ignored_by(&self.plan.ignore, &file.path) {
                Some((
                    "ignored",
                    "left out by the project's ignore list".to_owned(),
                ))
            } else {
                skip_explained(&file, self.settings.max_file_bytes)
            };
            match skip {
                Some((reason, why)) => {
                    *self
                        .progress
                        .counts
                        .skipped
                        .entry(reason.to_owned())
                        .or_default() += 1;
                    self.note_skipped(file.path, why);
                }
                None => kept.push(file),
            }
        }
        kept
    }

    /// Keeps a left-out file by name, while fewer than [`MAX_SKIPPED_LISTED`] are.
    fn note_skipped(&mut self, path: String, why: String) {
        if self.skipped.len() < MAX_SKIPPED_LISTED {
            self.skipped.push(SkippedFile { path, why });
        }
    }

    /// Fetches `wanted` blob by blob, a few at once, storing their texts as it goes.
    async fn import(&mut self, wanted: &[TreeFile]) -> Result<(), JobFailure> {
        let repo = self.plan.repo.clone();
        let started = Instant::now();
        let concurrency = self.settings.fetch_concurrency.max(1);
        for chunk in wanted.chunks(concurrency) {
            self.checkpoint().await?;
            let answers = futures_util::future::join_all(
                chunk
                    .iter()
                    .map(|file| self.github.blob(&repo, &file.blob_sha)),
            )
            .await;
            for (file, answer) in chunk.iter().zip(answers) {
                let bytes = match answer {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        self.wait_out(error).await?;
                        patiently!(self, self.github.blob(&repo, &file.blob_sha).await)
                    }
                };
                self.progress.fetched += 1;
                self.keep(file, bytes).await?;
            }
            self.progress.eta_secs = eta(started, self.progress.fetched, self.progress.to_fetch);
            if self.last_report.elapsed() >= REPORT_EVERY {
                self.report().await?;
            }
        }
        Ok(())
    }

    /// Keeps a fetched blob's text for storing (stored once enough is pending), or notes it as
    /// binary. Fails the sync once it has fetched more than `github.max_sync_bytes`.
    async fn keep(&mut self, file: &TreeFile, bytes: Vec<u8>) -> Result<(), JobFailure> {
        self.new_bytes += bytes.len() as u64;
        if self.new_bytes > self.settings.max_sync_bytes {
            return Err(self.too_many_bytes(self.new_bytes));
        }
        match text_of(bytes) {
            Some(text) => {
                self.stored.insert(
                    file.blob_sha.clone(),
                    i64::try_from(text.len()).unwrap_or(i64::MAX),
                );
                self.pending_bytes += text.len();
                self.pending.push((file.blob_sha.clone(), text));
                if self.pending_bytes >= STORE_BATCH_BYTES
                    || self.pending.len() >= STORE_BATCH_FILES
                {
                    self.store_pending().await?;
                }
            }
            None => {
                self.binary.insert(file.blob_sha.clone());
            }
        }
        Ok(())
    }

    /// Stores the pending texts as the team's blobs. Nobody sees them until `finalize` makes
    /// entries point at them.
    async fn store_pending(&mut self) -> Result<(), JobFailure> {
        let batch = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        self.db
            .transact(&self.ctx, async |tx| blobs::store(tx, &batch).await)
            .await
            .map_err(DomainError::into_job_failure)
    }

    /// The team's stored blobs among `shas`, with their sizes.
    async fn stored_blobs(&self, shas: &[String]) -> Result<HashMap<String, i64>, JobFailure> {
        self.db
            .transact(&self.ctx, async |tx| blobs::stored(tx, shas).await)
            .await
            .map_err(DomainError::into_job_failure)
    }

    fn too_many_bytes(&self, bytes: u64) -> JobFailure {
        JobFailure::Fatal(format!(
            "the branch has {} of new contents to import, more than this instance allows \
             ({}, github.max_sync_bytes); narrow the scan path or ignore folders",
            api::notes::human_bytes(bytes),
            api::notes::human_bytes(self.settings.max_sync_bytes)
        ))
    }

    /// The new and changed files as entries pointing at their stored blobs. A file whose blob
    /// turned out binary is skipped, and no longer counted as an addition or a change.
    fn entries_for(&mut self, files: Vec<TreeFile>) -> Vec<FetchedFile> {
        let mut entries = Vec::with_capacity(files.len());
        for file in files {
            match self.stored.get(&file.blob_sha) {
                Some(&byte_size) => entries.push(FetchedFile {
                    language: language_of(&file.path).map(str::to_owned),
                    byte_size,
                    path: file.path,
                    blob_sha: file.blob_sha,
                }),
                None => {
                    self.note_skipped(file.path, "binary (its contents are not text)".into());
                    let counts = &mut self.progress.counts;
                    *counts.skipped.entry("binary".into()).or_default() += 1;
                    if counts.added > 0 {
                        counts.added -= 1;
                    } else {
                        counts.changed = counts.changed.saturating_sub(1);
                    }
                }
            }
        }
        entries
    }

    /// Fetches `wanted` from the branch's archive: one request (and its redirect), streamed through
    /// gzip and tar on a blocking thread, never held whole; the wanted files' texts come back one
    /// at a time and are stored in batches. Files the archive did not deliver (a cut connection)
    /// are fetched blob by blob.
    async fn import_archive(
        &mut self,
        commit_sha: &str,
        wanted: Vec<TreeFile>,
    ) -> Result<(), JobFailure> {
        let repo = self.plan.repo.clone();
        let started = Instant::now();
        let mut archive = loop {
            match self.github.tarball(&repo, commit_sha).await {
                Ok(archive) => break archive,
                // The archive could not be had (its host down, the connection cut): blob by blob.
                Err(GitHubError::Unavailable(reason)) => {
                    tracing::info!(%reason, "no archive; fetching blob by blob");
                    return self.import(&wanted).await;
                }
                Err(error) => self.wait_out(error).await?,
            }
        };
        let (chunks, received) = tokio::sync::mpsc::channel::<bytes::Bytes>(16);
        let (delivered, mut found) = tokio::sync::mpsc::channel::<(TreeFile, Vec<u8>)>(4);
        // The download runs beside the unpacking; it ends with it, or when this run gives up.
        let downloading = AbortOnDrop(tokio::spawn(async move {
            while let Some(chunk) = archive.next_chunk().await {
                match chunk {
                    Ok(chunk) => {
                        if chunks.send(chunk).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        tracing::info!(%error, "the archive broke off");
                        return;
                    }
                }
            }
        }));
        let max_file_bytes = self.settings.max_file_bytes;
        let unpacking = {
            let mut by_path: HashMap<String, TreeFile> =
                wanted.into_iter().map(|f| (f.path.clone(), f)).collect();
            tokio::task::spawn_blocking(move || {
                let unpacked =
                    github::archive::unpack(received, &mut by_path, &delivered, max_file_bytes);
                if let Err(error) = unpacked {
                    tracing::info!(%error, "the archive ended early; the rest by blobs");
                }
                by_path.into_values().collect::<Vec<_>>()
            })
        };
        let mut ticks = tokio::time::interval(REPORT_EVERY);
        loop {
            tokio::select! {
                next = found.recv() => match next {
                    Some((file, bytes)) => {
                        self.progress.fetched += 1;
                        self.keep(&file, bytes).await?;
                    }
                    None => break,
                },
                _ = ticks.tick() => {
                    self.checkpoint().await?;
                    self.progress.eta_secs =
                        eta(started, self.progress.fetched, self.progress.to_fetch);
                    self.report().await?;
                }
            }
        }
        let missing = unpacking
            .await
            .map_err(|e| JobFailure::Retry(format!("unpacking the archive: {e}")))?;
        drop(downloading);
        if !missing.is_empty() {
            tracing::info!(
                missing = missing.len(),
                "the archive broke off; the rest by blobs"
            );
            self.import(&missing).await?;
        }
        Ok(())
    }

    /// The branch answered 304: the last sync's state is current. One request, nothing else.
    async fn unchanged(&mut self) -> Result<(), JobFailure> {
        let active = self.active_files().await?;
        self.progress.counts.unchanged = u32::try_from(active.len()).unwrap_or(u32::MAX);
        self.progress.phase = SyncPhase::Finalize;
        self.progress.github_requests = self.github.requests_used();
        let result = SyncResult {
            head_sha: self.plan.last_head.clone().unwrap_or_default(),
            etag: self.plan.last_etag.clone(),
            progress: Some(self.progress.clone()),
            ..SyncResult::default()
        };
        self.finalize(result).await
    }

    /// The branch is not on GitHub. An empty repository (no branch at all) is a completed sync
    /// with nothing in it; a missing branch of a repository that has others is an error.
    async fn branch_missing(&mut self, what: String) -> Result<(), JobFailure> {
        let repo = self.plan.repo.clone();
        let page = match self.github.branches(&repo, 1).await {
            Ok(page) => page,
            Err(error) => return Err(github_failure(error)),
        };
        if !page.branches.is_empty() {
            return Err(JobFailure::Fatal(GitHubError::NotFound(what).to_string()));
        }
        let active = self.active_files().await?;
        self.progress.counts.removed = u32::try_from(active.len()).unwrap_or(u32::MAX);
        self.progress.phase = SyncPhase::Finalize;
        self.progress.github_requests = self.github.requests_used();
        let result = SyncResult {
            superseded: active.into_iter().map(|a| a.id).collect(),
            progress: Some(self.progress.clone()),
            ..SyncResult::default()
        };
        self.finalize(result).await
    }

    /// The project's file entries as they are now.
    async fn active_files(&self) -> Result<Vec<ActiveFile>, JobFailure> {
        let project = self.plan.project_id;
        self.db
            .transact(&self.ctx, async |tx| syncs::active_files(tx, project).await)
            .await
            .map_err(DomainError::into_job_failure)
    }

    /// Makes `result` current, in one transaction.
    async fn finalize(&self, result: SyncResult) -> Result<(), JobFailure> {
        let plan = &self.plan;
        self.db
            .transact(&self.ctx, async |tx| {
                syncs::finalize(tx, plan, result).await
            })
            .await
            .map_err(DomainError::into_job_failure)
    }

    /// Saves and announces the progress.
    async fn report(&mut self) -> Result<(), JobFailure> {
        self.progress.github_requests = self.github.requests_used();
        self.progress.rate_limit_remaining = self.github.rate_limit().map(|r| r.remaining);
        let (id, progress) = (self.plan.sync_id, self.progress.clone());
        self.db
            .transact(&self.ctx, async |tx| {
                syncs::record_progress(tx, id, &progress).await
            })
            .await
            .map_err(DomainError::into_job_failure)?;
        self.last_report = Instant::now();
        Ok(())
    }

    /// Stops here when a cancel was asked for.
    async fn checkpoint(&self) -> Result<(), JobFailure> {
        match self.job.cancelled().await {
            Ok(true) => Err(JobFailure::Cancelled),
            Ok(false) => Ok(()),
            Err(error) => Err(JobFailure::Retry(error.to_string())),
        }
    }

    /// Waits out a rate limit that resets soon enough (saying so on the banner), or fails with
    /// what GitHub said.
    async fn wait_out(&mut self, error: GitHubError) -> Result<(), JobFailure> {
        let GitHubError::RateLimited { until } = error else {
            return Err(github_failure(error));
        };
        let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
        if wait > Duration::from_secs(self.settings.max_rate_limit_wait_secs) {
            if self.tokenless {
                // The instance's allowance without a token: every tokenless sync shares it, and
                // it comes back within the hour. Wait for it in the queue, not here.
                return Err(self.postpone(until).await);
            }
            // Retrying sooner than the reset would only spend attempts: the sync fails, saying
            // when GitHub will answer again.
            return Err(JobFailure::Fatal(format!(
                "GitHub's rate limit is reached until {} UTC",
                until.format("%H:%M")
            )));
        }
        tracing::info!(until = %until, "waiting for GitHub's rate limit");
        self.progress.waiting_until = Some(until.to_rfc3339());
        self.report().await?;
        let resume = Instant::now() + wait;
        while Instant::now() < resume {
            self.checkpoint().await?;
            tokio::time::sleep((resume - Instant::now()).min(Duration::from_secs(1))).await;
        }
        self.progress.waiting_until = None;
        self.report().await
    }
}

impl Run<'_> {
    /// Puts the sync back in the queue until `until`, saying so on its progress. The outcome to
    /// return (a failure to record it is one to retry).
    async fn postpone(&mut self, until: chrono::DateTime<chrono::Utc>) -> JobFailure {
        tracing::info!(until = %until, "no requests without a token left: the sync waits");
        // What GitHub said is written back by `run` once the sync returns this.
        // What was fetched stays fetched: the next attempt finds these blobs stored.
        if let Err(failure) = self.store_pending().await {
            return failure;
        }
        self.progress.phase = SyncPhase::Prepare;
        self.progress.waiting_until = Some(until.to_rfc3339());
        self.progress.github_requests = self.github.requests_used();
        let (id, progress) = (self.plan.sync_id, self.progress.clone());
        let recorded = self
            .db
            .transact(&self.ctx, async |tx| {
                syncs::postpone(tx, id, &progress).await
            })
            .await;
        if let Err(error) = recorded {
            return error.into_job_failure();
        }
        JobFailure::Postpone {
            until,
            reason: format!(
                "GitHub's hourly allowance for requests without a token is used up until {} \
                 UTC: the sync waits for it (a token for the project lifts the limit)",
                until.format("%H:%M")
            ),
        }
    }

    /// Writes back what GitHub last said is left of the allowance without a token.
    async fn note_quota(&self) {
        let Some(limit) = self.github.rate_limit() else {
            return;
        };
        let noted = self
            .db
            .transact(&self.ctx, async |tx| {
                github_quota::heard(tx, limit.remaining, limit.reset).await
            })
            .await;
        if let Err(error) = noted {
            tracing::warn!(%error, "recording GitHub's allowance");
        }
    }
}

/// A GitHub failure as the job's outcome: worth another attempt when GitHub was unavailable,
/// final when it is about the token or the repository.
fn github_failure(error: GitHubError) -> JobFailure {
    match error {
        GitHubError::Unavailable(_) | GitHubError::Unexpected(_) => {
            JobFailure::Retry(error.to_string())
        }
        GitHubError::RateLimited { until } => JobFailure::Fatal(format!(
            "GitHub's rate limit is reached until {} UTC",
            until.format("%H:%M")
        )),
        GitHubError::Unauthorized | GitHubError::Forbidden(_) | GitHubError::NotFound(_) => {
            JobFailure::Fatal(error.to_string())
        }
    }
}

/// Aborts a spawned task when dropped: a run that gives up stops its download too.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
