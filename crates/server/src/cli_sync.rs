//! `cairn sync PROJECT_ID [--branch B]`: queues a sync on the configured database, as the Sync
//! button does, and follows it with a progress bar until it ends. The command also takes part in
//! running jobs while it waits, so a sync runs even when no `cairn serve` or `cairn worker` is up;
//! when one is, whichever claims the job first runs it.

use crate::config::Settings;
use crate::startup::Application;
use anyhow::Context;
use api::github::BranchName;
use api::ids::ProjectId;
use api::jobs::JobStatus;
use api::syncs::{SyncPhase, SyncProgress};
use domain::syncs;
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;
use std::time::Duration;

/// Runs the command.
pub async fn run(
    mut settings: Settings,
    project: &str,
    branch: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let project = ProjectId::parse(project).map_err(|e| anyhow::anyhow!("PROJECT_ID: {e}"))?;
    let branch = branch
        .map(BranchName::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--branch: {e}"))?;
    // Answers no requests: any free port.
    settings.server.port = 0;
    let app = Application::build(settings).await?;
    let db = app.state().db.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(app.run_worker_until_stopped(async {
        let _ = stopped.await;
    }));
    let followed = follow(&db, project, branch).await;
    let _ = stop.send(());
    worker.await.context("the job runtime")??;
    followed
}

async fn follow(
    db: &domain::Db,
    project: ProjectId,
    branch: Option<BranchName>,
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
    loop {
        let (now, progress) = db
            .transact(&ctx, async |tx| {
                Ok((
                    syncs::get(tx, sync.id).await?,
                    syncs::progress(tx, sync.id).await?,
                ))
            })
            .await?;
        if let Some(progress) = &progress {
            show(&bar, progress);
        }
        match now.status {
            JobStatus::Completed => {
                bar.finish_and_clear();
                let c = &now.counts;
                println!(
                    "completed: {} added, {} changed, {} moved, {} removed, {} unchanged, {} skipped; {} GitHub requests; head {}",
                    c.added,
                    c.changed,
                    c.moved,
                    c.removed,
                    c.unchanged,
                    c.skipped.values().sum::<u32>(),
                    now.github_requests,
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
                return Ok(ExitCode::FAILURE);
            }
            JobStatus::Queued | JobStatus::Running => {}
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
        "{} scanned · {} GitHub requests",
        progress.counts.scanned, progress.github_requests
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
