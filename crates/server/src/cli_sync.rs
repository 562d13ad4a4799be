//! `cairn sync PROJECT_ID [--branch B]`: queues a sync on the configured database, as the Sync
//! button does, and follows it with a progress bar until it ends, saying each attempt as it starts
//! and fails. The command also takes part in running jobs while it waits, so a sync runs even when
//! no `cairn serve` or `cairn worker` is up; when one is, whichever claims the job first runs it.
//!
//! It exits 0 when the sync completed, 1 with the reason when it failed or was cancelled, and 1
//! when it has waited as long as any run of the sync can last (`jobs::lifetime`) or its own job
//! runtime stopped: it never waits without end.

use crate::config::Settings;
use api::github::BranchName;
use api::ids::ProjectId;
use api::jobs::{JobEventBody, JobStatus};
use api::syncs::{SyncPhase, SyncProgress};
use domain::{job_runs, syncs};
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;
use std::time::Duration;

/// Runs the command.
pub async fn run(
    settings: Settings,
    project: &str,
    branch: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let project = ProjectId::parse(project).map_err(|e| anyhow::anyhow!("PROJECT_ID: {e}"))?;
    let branch = branch
        .map(BranchName::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--branch: {e}"))?;
    crate::cli::following_jobs::<syncs::ProjectSyncJob, _, _>(
        settings,
        "sync",
        async |context, lifetime| follow(&context.db, project, branch, lifetime).await,
    )
    .await
}

async fn follow(
    db: &domain::Db,
    project: ProjectId,
    branch: Option<BranchName>,
    lifetime: Duration,
) -> anyhow::Result<ExitCode> {
    let (ctx, sync) = match syncs::start_from_command_line(db, project, branch).await {
        Ok(started) => started,
        Err(domain::DomainError::NotFound) => {
            eprintln!("no project {project}");
            return Ok(ExitCode::from(2));
        }
        Err(error) => {
            eprintln!("{error}");
            return Ok(ExitCode::from(2));
        }
    };
    eprintln!(
        "sync {} of {} ({}{})",
        sync.id,
        project,
        sync.branch,
        if sync.scan_path.is_empty() {
            String::new()
        } else {
            format!(", /{}", sync.scan_path)
        }
    );
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix:9} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    // However the run goes (attempts, their timeouts, a worker dying and the reaper taking the
    // job back), it is over by then.
    let give_up_at = tokio::time::Instant::now() + syncs::PUSH_DEBOUNCE + lifetime;
    let mut seen_event = 0;
    loop {
        let (now, progress, events) = db
            .transact(&ctx, async |tx| {
                let now = syncs::get(tx, sync.id).await?;
                let events = match now.job_id {
                    Some(job) => job_runs::events_after(tx, job, seen_event, 100).await?,
                    None => Vec::new(),
                };
                Ok((now, syncs::progress(tx, sync.id).await?, events))
            })
            .await?;
        for event in &events {
            seen_event = seen_event.max(event.id);
            if let Some(line) = attempt_line(&event.body) {
                // Above the bar on a terminal; as a plain line otherwise (the bar is hidden then).
                bar.suspend(|| eprintln!("{line}"));
            }
        }
        if let Some(progress) = &progress {
            show(&bar, progress);
        }
        match now.status {
            JobStatus::Completed => {
                bar.finish_and_clear();
                println!(
                    "completed: {}; {}; head {}",
                    now.counts.summary(),
                    api::count(now.github_requests, "GitHub request", "GitHub requests"),
                    now.head_sha.as_deref().unwrap_or("-"),
                );
                return Ok(ExitCode::SUCCESS);
            }
            JobStatus::Failed | JobStatus::Cancelled => {
                bar.abandon();
                eprintln!(
                    "{}: {}",
                    if now.status == JobStatus::Failed {
                        "failed"
                    } else {
                        "cancelled"
                    },
                    now.error.as_deref().unwrap_or("no reason given")
                );
                eprintln!("{}", now.outcome());
                return Ok(ExitCode::FAILURE);
            }
            // Put back in the queue until GitHub's allowance without a token comes back: it runs
            // by itself then; this command does not wait an hour for it.
            JobStatus::Queued
                if let Some(until) = progress.as_ref().and_then(|p| p.waiting_until.as_ref()) =>
            {
                bar.abandon();
                eprintln!(
                    "waiting: GitHub's hourly allowance for requests without a token is used up until {until}; \
                     sync {} stays queued and runs by itself then (a token for the project lifts the limit)",
                    sync.id
                );
                return Ok(ExitCode::FAILURE);
            }
            JobStatus::Queued | JobStatus::Running => {}
        }
        if tokio::time::Instant::now() >= give_up_at {
            bar.abandon();
            eprintln!(
                "gave up waiting: sync {} has been {} for longer than any run of it can last; see its history",
                sync.id,
                status_word(now.status),
            );
            return Ok(ExitCode::FAILURE);
        }
        tokio::select! {
            _ = &mut interrupted => {
                bar.set_message("cancelling…");
                db.transact(&ctx, async |tx| syncs::cancel(tx, sync.id).await).await?;
            }
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

fn status_word(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Queued => "queued",
        JobStatus::Running => "running",
        JobStatus::Completed => "completed",
        JobStatus::Failed => "failed",
        JobStatus::Cancelled => "cancelled",
    }
}

/// A line for each attempt that starts or fails, from the job's status events.
fn attempt_line(event: &JobEventBody) -> Option<String> {
    let JobEventBody::Status {
        status,
        attempt,
        max_attempts,
        error,
    } = event
    else {
        return None;
    };
    let error = error.as_deref().unwrap_or("no reason given");
    match status {
        JobStatus::Running => Some(format!("attempt {attempt} of {max_attempts} started")),
        // Queued again after an attempt: it failed, and another will follow.
        JobStatus::Queued if *attempt > 0 => Some(format!(
            "attempt {attempt} of {max_attempts} failed: {error}; it will be tried again"
        )),
        JobStatus::Failed => Some(format!(
            "attempt {attempt} of {max_attempts} failed: {error}"
        )),
        JobStatus::Queued | JobStatus::Completed | JobStatus::Cancelled => None,
    }
}

fn show(bar: &ProgressBar, progress: &SyncProgress) {
    bar.set_prefix(match progress.phase {
        SyncPhase::Prepare => "prepare",
        SyncPhase::Scan => "scan",
        SyncPhase::Import => "import",
        SyncPhase::Finalize => "finalize",
    });
    bar.set_length(u64::from(progress.to_fetch.max(1)));
    bar.set_position(u64::from(progress.fetched));
    let mut message = format!(
        "{} scanned · {}",
        progress.counts.scanned,
        api::count(
            progress.github_requests,
            "GitHub request",
            "GitHub requests"
        )
    );
    if let Some(eta) = progress
        .eta_secs
        .filter(|_| progress.phase == SyncPhase::Import)
    {
        message.push_str(&format!(" · about {eta} s left"));
    }
    if let Some(until) = &progress.waiting_until {
        message.push_str(&format!(" · waiting for GitHub's rate limit until {until}"));
    }
    bar.set_message(message);
}
