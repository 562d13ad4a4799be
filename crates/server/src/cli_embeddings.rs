//! `cairn embeddings …`: the operator's hand on a team's search index.
//!
//! - `backfill [--team TEAM] [--space SPACE]` queues the team's indexing and follows it with a
//!   progress bar (chunks embedded of all, the rate and the time left as indicatif reckons them),
//!   taking part in running jobs meanwhile, so it works with no `cairn serve` up. It exits 0 once
//!   the space (the one building, else the active one) has a vector for every chunk, 1 when the
//!   indexing fails (with the reason), 2 when the team or space does not exist or has no model.
//!   Without `--team`, it does so for every team with an embedding model, one after another, and
//!   exits with the worst of their outcomes.
//! - `drop-space SPACE` removes a retired space with its vectors, saying how many; 2 when the space
//!   is not retired (in use) or does not exist.

use crate::config::Settings;
use api::ids::{EmbeddingSpaceId, TenantId};
use api::knowledge::{EmbeddingSpace, IndexingState, SpaceStatus};
use domain::knowledge::{self, KnowledgeIndexJob};
use domain::{DomainError, TenantCtx};
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;
use std::time::Duration;

/// `cairn embeddings backfill`.
pub async fn backfill(
    settings: Settings,
    team: Option<&str>,
    space: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let team = team
        .map(TenantId::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--team: {e}"))?;
    let space = space
        .map(EmbeddingSpaceId::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--space: {e}"))?;
    if team.is_none() && space.is_some() {
        anyhow::bail!("--space names one team's space: give its --team too");
    }
    crate::cli::following_jobs::<KnowledgeIndexJob, _, _>(
        settings,
        "indexing",
        async |context, lifetime| {
            let teams = match team {
                Some(team) => vec![team],
                None => knowledge::teams_with_spaces(&context.db).await?,
            };
            if teams.is_empty() {
                println!("no team has an embedding model: nothing to index");
                return Ok(ExitCode::SUCCESS);
            }
            // 0 done, 1 failed, 2 nothing to fill: the worst of the teams'.
            let mut worst = 0;
            for team in teams {
                worst = worst.max(follow(&context, team, space, lifetime).await?);
            }
            Ok(ExitCode::from(worst))
        },
    )
    .await
}

async fn follow(
    context: &services::AppContext,
    team: TenantId,
    wanted: Option<EmbeddingSpaceId>,
    lifetime: Duration,
) -> anyhow::Result<u8> {
    let ctx = match TenantCtx::for_operator(&context.db, team, "cli").await {
        Ok(ctx) => ctx,
        Err(DomainError::NotFound) => {
            eprintln!("no team {team}");
            return Ok(2);
        }
        Err(error) => return Err(error.into()),
    };
    let spaces = context
        .db
        .transact(&ctx, async |tx| {
            knowledge::queue_indexing(tx).await?;
            knowledge::spaces(tx).await
        })
        .await?;
    let Some(space) = chosen(&spaces, wanted) else {
        eprintln!(
            "{}",
            match wanted {
                Some(id) => format!("team {team} has no embedding space {id} in use"),
                None => format!("team {team} has no embedding model: choose one on the AI page"),
            }
        );
        return Ok(2);
    };
    eprintln!(
        "indexing {}/{} ({} dimensions, {}) for team {team}",
        space.provider,
        space.model,
        space.dimensions,
        space.status.as_str()
    );
    let bar = ProgressBar::new(space.chunks.max(1));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{bar:30}] {pos}/{len} chunks · {per_sec} · {eta} left {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let give_up_at = tokio::time::Instant::now() + lifetime;
    loop {
        let (now, indexing) = context
            .db
            .transact(&ctx, async |tx| {
                let now = knowledge::spaces(tx).await?;
                let indexing = knowledge::indexing_state(tx).await?;
                Ok((now, indexing))
            })
            .await?;
        let Some(now) = now.into_iter().find(|s| s.id == space.id) else {
            bar.abandon();
            eprintln!("the space was replaced while it was being built");
            return Ok(1);
        };
        bar.set_length(now.chunks.max(1));
        bar.set_position(now.vectors);
        let complete = now.vectors >= now.chunks && now.status == SpaceStatus::Active;
        match indexing {
            IndexingState::Idle if complete => {
                bar.finish_and_clear();
                println!(
                    "{}/{}: {} of {} chunks embedded; search uses it",
                    now.provider, now.model, now.vectors, now.chunks
                );
                return Ok(0);
            }
            IndexingState::Failed { reason } if !complete => {
                bar.abandon();
                eprintln!("indexing failed: {reason}");
                return Ok(1);
            }
            IndexingState::Waiting { reason, retry_at } => {
                bar.set_message(format!("waiting until {retry_at}: {reason}"));
            }
            _ => bar.set_message(""),
        }
        if tokio::time::Instant::now() >= give_up_at {
            bar.abandon();
            eprintln!("gave up waiting: the indexing has run longer than any attempt of it can");
            return Ok(1);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The space to fill: the one asked for, else the team's building one, else its active one.
fn chosen(spaces: &[EmbeddingSpace], wanted: Option<EmbeddingSpaceId>) -> Option<EmbeddingSpace> {
    let live = |s: &&EmbeddingSpace| s.status != SpaceStatus::Retired;
    match wanted {
        Some(id) => spaces.iter().filter(live).find(|s| s.id == id).cloned(),
        None => spaces
            .iter()
            .find(|s| s.status == SpaceStatus::Building)
            .or_else(|| spaces.iter().find(|s| s.status == SpaceStatus::Active))
            .cloned(),
    }
}

/// `cairn embeddings drop-space`.
pub async fn drop_space(settings: Settings, space: &str) -> anyhow::Result<ExitCode> {
    let space = EmbeddingSpaceId::parse(space).map_err(|e| anyhow::anyhow!("SPACE: {e}"))?;
    crate::cli::following_jobs::<KnowledgeIndexJob, _, _>(
        settings,
        "removal",
        async |context, _| {
            let ctx = match TenantCtx::for_operator_owning(
                &context.db,
                "cairn_space_tenant",
                space.into_uuid(),
                "cli",
            )
            .await
            {
                Ok(ctx) => ctx,
                Err(DomainError::NotFound) => {
                    eprintln!("no embedding space {space}");
                    return Ok(ExitCode::from(2));
                }
                Err(error) => return Err(error.into()),
            };
            match context
                .db
                .transact(&ctx, async |tx| knowledge::drop_space(tx, space).await)
                .await
            {
                Ok(removed) => {
                    println!("removed embedding space {space} and its {removed} vectors");
                    Ok(ExitCode::SUCCESS)
                }
                Err(DomainError::Conflict(why)) => {
                    eprintln!("{why}");
                    Ok(ExitCode::from(2))
                }
                Err(error) => Err(error.into()),
            }
        },
    )
    .await
}
