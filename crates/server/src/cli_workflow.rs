//! `cairn workflow run --note NOTE_ID [--template NAME] [--report FILE]`: queues a run of a workflow
//! template on a note (as the note page's Run workflow does, Cairn acting in the note's team), and
//! follows it with a progress bar (steps and fan-out items stored, the step under way), printing a
//! line per stored step. The command takes part in running jobs while it waits, so the run goes on
//! even when no `cairn serve` or `cairn worker` is up.
//!
//! It exits 0 when the run completed, writing its report (Markdown) and printing the file's path;
//! 1 with the reason when it failed or was cancelled (Ctrl-C cancels it) or its job runtime
//! stopped; 2 when the note or the template does not exist or the run was refused (its budget).

use crate::config::Settings;
use anyhow::Context;
use api::ids::NoteId;
use api::jobs::JobStatus;
use api::workflows::{IMAGE_TO_IMPLEMENTATION, WorkflowRun};
use domain::workflows;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Runs the command.
pub async fn run(
    settings: Settings,
    note: &str,
    template: Option<&str>,
    report: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let note = NoteId::parse(note).map_err(|e| anyhow::anyhow!("--note: {e}"))?;
    let template = template.unwrap_or(IMAGE_TO_IMPLEMENTATION).to_owned();
    crate::cli::following_jobs::<workflows::WorkflowRunJob, _, _>(
        settings,
        "run",
        async |context, lifetime| follow(&context, note, &template, report, lifetime).await,
    )
    .await
}

async fn follow(
    context: &services::AppContext,
    note: NoteId,
    template: &str,
    report: Option<PathBuf>,
    lifetime: Duration,
) -> anyhow::Result<ExitCode> {
    let ctx = match workflows::context_for_note(&context.db, note).await {
        Ok(ctx) => ctx,
        Err(domain::DomainError::NotFound) => {
            eprintln!("no note {note}");
            return Ok(ExitCode::from(2));
        }
        Err(error) => return Err(error.into()),
    };
    let tx = context.db.enter(&ctx).await?;
    // The operator asked for it on the command line: that is the confirmation.
    let run = match services::workflows::start(context, tx, note, template, true).await {
        Ok(run) => run,
        Err(error) => {
            eprintln!("{template}: {error}");
            return Ok(ExitCode::from(2));
        }
    };
    eprintln!("run {} of \"{}\" on note {note}", run.id, run.template);
    let bar = ProgressBar::new(steps_expected(&run));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let give_up_at = tokio::time::Instant::now() + lifetime;
    let mut printed = 0;
    loop {
        let now = context
            .db
            .transact(&ctx, async |tx| workflows::get_run(tx, run.id).await)
            .await?;
        for step in now.steps.iter().skip(printed) {
            let line = format!(
                "stored {}{}: {}/{} · {} attempt{} · ${:.4} · {} ms",
                step.step_key,
                step.item
                    .as_deref()
                    .map(|i| format!(" {i}"))
                    .unwrap_or_default(),
                step.provider.as_deref().unwrap_or("?"),
                step.model.as_deref().unwrap_or("?"),
                step.attempts.len(),
                if step.attempts.len() == 1 { "" } else { "s" },
                step.cost_usd,
                step.duration_ms,
            );
            bar.suspend(|| eprintln!("{line}"));
        }
        printed = now.steps.len();
        bar.set_length(steps_expected(&now).max(printed as u64));
        bar.set_position(printed as u64);
        bar.set_message(under_way(&now));
        match now.status {
            JobStatus::Completed => {
                bar.finish_and_clear();
                let text = context
                    .db
                    .transact(&ctx, async |tx| workflows::report(tx, run.id).await)
                    .await?;
                let path = report
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(format!("workflow-run-{}.md", run.id)));
                std::fs::write(&path, text)
                    .with_context(|| format!("writing the report to {}", path.display()))?;
                let traced = now
                    .traced
                    .map(|(done, of)| format!("{done} / {of} planned; "))
                    .unwrap_or_default();
                println!(
                    "completed: {traced}{} steps; ${:.4}; report {}",
                    now.steps.len(),
                    now.cost_usd,
                    path.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            JobStatus::Failed | JobStatus::Cancelled => {
                bar.abandon();
                eprintln!(
                    "{}: {}",
                    now.status.as_str(),
                    now.error.as_deref().unwrap_or("no reason given")
                );
                return Ok(ExitCode::FAILURE);
            }
            JobStatus::Queued | JobStatus::Running => {}
        }
        if tokio::time::Instant::now() >= give_up_at {
            bar.abandon();
            eprintln!(
                "gave up waiting: run {} has been {} for longer than any attempt of it can last",
                run.id,
                now.status.as_str()
            );
            return Ok(ExitCode::FAILURE);
        }
        tokio::select! {
            _ = &mut interrupted => {
                bar.set_message("cancelling…");
                if let Some(job) = now.job_id {
                    context.db.transact(&ctx, async |tx| domain::job_runs::cancel(tx, job).await).await?;
                }
            }
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// Steps a run will store: one per step, and for a fan-out its items (known once counted, else its
/// `max_items`).
fn steps_expected(run: &WorkflowRun) -> u64 {
    run.definition
        .steps
        .iter()
        .map(|step| match (&step.fan_out, run.traced) {
            (None, _) => 1,
            (Some(_), Some((_, of))) => u64::from(of),
            (Some(fan_out), None) => u64::from(fan_out.max_items),
        })
        .sum()
}

/// The step under way: the first without all its outputs.
fn under_way(run: &WorkflowRun) -> String {
    let Some(next) = run.next_step() else {
        return "finishing".into();
    };
    let step = &run.definition.steps[next];
    match (&step.fan_out, run.traced) {
        (Some(_), Some((done, of))) => format!("{} · {done} / {of}", step.name),
        _ => step.name.clone(),
    }
}
