//! The team's knowledge kept searchable: the `knowledge.index` job (chunk what changed, embed what
//! has no vector, switch to a new model's space once it is complete), choosing an embedding model
//! (its dimensions measured by asking it), and search (words, and meaning when the team has an
//! active space: the query is embedded by the same model).
//!
//! No database connection is held while a provider answers.

use crate::AppContext;
use crate::ai::{Prepared, prepare};
use api::ApiError;
use api::knowledge::{SearchBy, SearchMode, SearchQuery, SearchResults};
use domain::knowledge::{self as store, KnowledgeIndexPayload, SpaceRow};
use domain::{DomainError, TenantCtx, TenantTxn};
use jobs::{JobCtx, JobFailure};
use uuid::Uuid;

/// Sources chunked per transaction.
const SOURCES_PER_ROUND: u64 = 100;
/// Texts sent per embedding request (providers take at least this many inputs at once).
pub const TEXTS_PER_REQUEST: u64 = 64;

/// Runs the `knowledge.index` job for its team.
pub async fn index(
    app: AppContext,
    job: JobCtx,
    _payload: KnowledgeIndexPayload,
) -> Result<(), JobFailure> {
    let ctx = TenantCtx::for_job(&app.db, &job)
        .await
        .map_err(DomainError::into_job_failure)?;
    chunk_changes(&app, &ctx, &job).await?;
    let tx = app
        .db
        .enter(&ctx)
        .await
        .map_err(DomainError::into_job_failure)?;
    let spaces = store::live_spaces(&tx)
        .await
        .map_err(DomainError::into_job_failure)?;
    if spaces.is_empty() {
        // Full-text search needs the chunks only.
        return Ok(());
    }
    let prepared = match prepare(&app, &tx).await {
        Ok(prepared) => prepared,
        Err(error) => return Err(JobFailure::Fatal(error.user_message())),
    };
    tx.end_read();
    for space in &spaces {
        embed_missing(&app, &ctx, &job, &prepared, space).await?;
    }
    Ok(())
}

/// Chunks every source whose text changed and drops the chunks of sources that are gone.
async fn chunk_changes(app: &AppContext, ctx: &TenantCtx, job: &JobCtx) -> Result<(), JobFailure> {
    let mut chunked = 0usize;
    loop {
        stop_if_cancelled(job).await?;
        let round = app
            .db
            .transact(ctx, async |tx| {
                let changed = store::changed_sources(tx, SOURCES_PER_ROUND).await?;
                for source in &changed {
                    store::rechunk(tx, source).await?;
                }
                if changed.len() < SOURCES_PER_ROUND as usize {
                    // A changed file is a new entry whose chunks are new rows: those whose text
                    // the old entry had take its vectors before the old entry's go with it.
                    for space in store::live_spaces(tx).await? {
                        store::copy_known_vectors(tx, &space).await?;
                    }
                    store::remove_gone_sources(tx).await?;
                }
                domain::job_runs::report_progress(
                    tx,
                    &serde_json::json!({"phase": "chunk", "sources": chunked + changed.len()}),
                )
                .await?;
                Ok(changed.len())
            })
            .await
            .map_err(DomainError::into_job_failure)?;
        chunked += round;
        if round < SOURCES_PER_ROUND as usize {
            return Ok(());
        }
    }
}

async fn stop_if_cancelled(job: &JobCtx) -> Result<(), JobFailure> {
    match job.cancelled().await {
        Ok(true) => Err(JobFailure::Cancelled),
        Ok(false) => Ok(()),
        Err(error) => Err(JobFailure::Retry(error.to_string())),
    }
}

/// Embeds, request by request, every text of the team that has no vector in `space`, storing each
/// request's vectors as they come (a failure loses at most the request under way); then makes a
/// complete building space the active one.
async fn embed_missing(
    app: &AppContext,
    ctx: &TenantCtx,
    job: &JobCtx,
    prepared: &Prepared,
    space: &SpaceRow,
) -> Result<(), JobFailure> {
    loop {
        stop_if_cancelled(job).await?;
        // Texts another chunk had a vector for got it when the changes were chunked, and each
        // request's vectors go to every chunk of the same text: what is left is unknown.
        let texts = app
            .db
            .transact(ctx, async |tx| {
                store::texts_to_embed(tx, space, TEXTS_PER_REQUEST).await
            })
            .await
            .map_err(DomainError::into_job_failure)?;
        if texts.is_empty() {
            break;
        }
        let inputs: Vec<String> = texts.iter().map(|(_, text)| text.clone()).collect();
        let embedded = prepared
            .router()
            .embed(
                &space.model,
                std::slice::from_ref(&space.provider),
                &inputs,
                llm::EmbedFor::Document,
            )
            .await;
        let tx = app
            .db
            .enter(ctx)
            .await
            .map_err(DomainError::into_job_failure)?;
        let attempts = match &embedded {
            Ok(done) => done.attempts.as_slice(),
            Err(failed) => failed.attempts.as_slice(),
        };
        domain::ai::settle_spend(&tx, Uuid::now_v7(), attempts)
            .await
            .map_err(DomainError::into_job_failure)?;
        prepared
            .save_states(&tx)
            .await
            .map_err(|e| JobFailure::Retry(e.user_message()))?;
        let done = match embedded {
            Ok(done) => done,
            Err(failed) => {
                tx.commit().await.map_err(DomainError::into_job_failure)?;
                // What was stored stays; the next attempt starts from the first text without a
                // vector. A rate limit (the router has waited out the short ones) is waited out
                // in the queue without counting as an attempt: a large backfill meets many.
                if let Some(until) = rate_limited(prepared, space, &failed) {
                    return Err(JobFailure::Postpone {
                        until,
                        reason: format!(
                            "{}/{} is rate limited: {}",
                            space.provider, space.model, failed.reason
                        ),
                    });
                }
                return Err(JobFailure::Retry(format!(
                    "{}/{}: {}",
                    space.provider, space.model, failed.reason
                )));
            }
        };
        if done.vectors.len() != texts.len() {
            return Err(JobFailure::Retry(format!(
                "{} answered {} vectors for {} texts",
                space.model,
                done.vectors.len(),
                texts.len()
            )));
        }
        let pairs: Vec<(String, Vec<f32>)> = texts
            .into_iter()
            .map(|(hash, _)| hash)
            .zip(done.vectors)
            .collect();
        store::store_vectors(&tx, space, &pairs)
            .await
            .map_err(|e| match e {
                // A model that changed its vectors' size under the same name: retrying asks the
                // same; the team chooses the model again.
                DomainError::Invalid { reason, .. } => JobFailure::Fatal(reason),
                other => other.into_job_failure(),
            })?;
        let (vectors, chunks) = store::fill(&tx, space)
            .await
            .map_err(DomainError::into_job_failure)?;
        domain::job_runs::report_progress(
            &tx,
            &serde_json::json!({"phase": "embed", "space": space.id, "model": space.model,
                                "vectors": vectors, "chunks": chunks}),
        )
        .await
        .map_err(DomainError::into_job_failure)?;
        tx.commit().await.map_err(DomainError::into_job_failure)?;
    }
    app.db
        .transact(ctx, async |tx| store::activate_if_complete(tx, space).await)
        .await
        .map_err(DomainError::into_job_failure)?;
    Ok(())
}

/// When to try again after `failed`, if a rate limit ended it: when the provider's cooling ends
/// (a `Retry-After` longer than the router waits), else in [`RATE_LIMIT_PAUSE`].
fn rate_limited(
    prepared: &Prepared,
    space: &SpaceRow,
    failed: &llm::CallFailed,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let now = std::time::SystemTime::now();
    let cooling = prepared
        .router()
        .health(&space.provider)
        .cooling_until
        .filter(|until| *until > now);
    if cooling.is_none() && failed.class != Some(api::ai::FailureClass::RateLimited) {
        return None;
    }
    Some(match cooling {
        Some(until) => until.into(),
        None => chrono::Utc::now() + RATE_LIMIT_PAUSE,
    })
}

/// The wait after a rate limit that named no time.
const RATE_LIMIT_PAUSE: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

/// Chooses `model` of `provider` as the team's embedding model: asks it once to learn its
/// vectors' size, then makes its space (building beside the current one) and queues the backfill.
pub async fn choose_model(
    app: &AppContext,
    tx: TenantTxn,
    choice: api::knowledge::EmbeddingChoice,
) -> Result<api::knowledge::EmbeddingSpace, ApiError> {
    tx.ctx().require(api::tenants::Permission::ManageAi)?;
    let provider = choice.provider.trim().to_owned();
    let model = choice.model.trim().to_owned();
    if provider.is_empty() || model.is_empty() {
        return Err(ApiError::invalid("model", "choose a provider's model"));
    }
    let prepared = prepare(app, &tx).await?;
    if !prepared.router().has_provider(&provider) {
        return Err(ApiError::invalid(
            "provider",
            format!("{provider} is not one of the team's providers"),
        ));
    }
    let ctx = *tx.ctx();
    tx.end_read();
    let probe = prepared
        .router()
        .embed(
            &model,
            std::slice::from_ref(&provider),
            &["Cairn".to_owned()],
            llm::EmbedFor::Document,
        )
        .await;
    let dimensions = match probe {
        Ok(done) => done.vectors.first().map_or(0, Vec::len),
        Err(failed) => {
            return Err(ApiError::invalid(
                "model",
                format!("{provider}/{model} gave no embedding: {}", failed.reason),
            ));
        }
    };
    let tx = app.db.enter(&ctx).await?;
    let id = store::create_space(
        &tx,
        &provider,
        &model,
        u32::try_from(dimensions).unwrap_or(u32::MAX),
    )
    .await?;
    let space = store::spaces(&tx)
        .await?
        .into_iter()
        .find(|s| s.id == id)
        .ok_or(ApiError::Internal)?;
    tx.commit().await?;
    Ok(space)
}

/// Searches the team's knowledge: words always; meaning too when the team has an active space and
/// its model embeds the query (if it fails, the answer says so and ranks by words).
pub async fn search(
    app: &AppContext,
    tx: TenantTxn,
    query: SearchQuery,
) -> Result<SearchResults, ApiError> {
    let query = query.validated()?;
    let space = match query.by {
        SearchBy::Words => None,
        SearchBy::Both | SearchBy::Meaning => store::active_space(&tx).await?,
    };
    let Some(space) = space else {
        if query.by == SearchBy::Meaning {
            return Err(ApiError::invalid(
                "by",
                "searching by meaning needs an embedding model: an owner or admin chooses one \
                 on the AI page",
            ));
        }
        if query.by == SearchBy::Words {
            let hits = store::search(&tx, &query, None).await?;
            return Ok(SearchResults {
                hits,
                mode: SearchMode::FullText,
                note: None,
            });
        }
        let note = match store::live_spaces(&tx).await?.first() {
            Some(building) => format!(
                "{}/{} is still being indexed: words only until it is complete.",
                building.provider, building.model
            ),
            None => "No embedding model is chosen: words only. An owner or admin chooses one on \
                     the AI page."
                .to_owned(),
        };
        let hits = store::search(&tx, &query, None).await?;
        return Ok(SearchResults {
            hits,
            mode: SearchMode::FullText,
            note: Some(note),
        });
    };
    let prepared = prepare(app, &tx).await?;
    let ctx = *tx.ctx();
    tx.end_read();
    let embedded = prepared
        .router()
        .embed(
            &space.model,
            std::slice::from_ref(&space.provider),
            std::slice::from_ref(&query.text),
            llm::EmbedFor::Query,
        )
        .await;
    let tx = app.db.enter(&ctx).await?;
    let attempts = match &embedded {
        Ok(done) => done.attempts.as_slice(),
        Err(failed) => failed.attempts.as_slice(),
    };
    domain::ai::settle_spend(&tx, Uuid::now_v7(), attempts).await?;
    let (vector, note) = match embedded {
        Ok(mut done) if !done.vectors.is_empty() => (Some(done.vectors.swap_remove(0)), None),
        Ok(_) => (
            None,
            Some("The embedding model answered nothing: words only.".to_owned()),
        ),
        Err(failed) => (
            None,
            Some(format!(
                "{}/{} could not embed the query ({}): words only.",
                space.provider, space.model, failed.reason
            )),
        ),
    };
    let hits = store::search(
        &tx,
        &query,
        vector.as_deref().map(|vector| (&space, vector)),
    )
    .await?;
    tx.commit().await?;
    Ok(SearchResults {
        hits,
        mode: match (vector.is_some(), query.by) {
            (true, SearchBy::Meaning) => SearchMode::Meaning,
            (true, _) => SearchMode::Hybrid,
            (false, _) => SearchMode::FullText,
        },
        note,
    })
}

/// The knowledge to send with a question about `note`: its project's best chunks for the question
/// (and, with an active space, for its meaning), numbered. Never fails the question: a failure to
/// retrieve is logged and the question goes without.
pub async fn context_for(
    app: &AppContext,
    ctx: &TenantCtx,
    prepared: &Prepared,
    note: &api::notes::Note,
    question: &str,
) -> Vec<api::knowledge::CitedSource> {
    match retrieve(app, ctx, prepared, note, question).await {
        Ok(sources) => sources,
        Err(error) => {
            tracing::warn!(note = %note.id, %error, "no knowledge was retrieved for a question");
            Vec::new()
        }
    }
}

async fn retrieve(
    app: &AppContext,
    ctx: &TenantCtx,
    prepared: &Prepared,
    note: &api::notes::Note,
    question: &str,
) -> Result<Vec<api::knowledge::CitedSource>, DomainError> {
    let tx = app.db.enter(ctx).await?;
    let space = store::active_space(&tx).await?;
    tx.end_read();
    let wanted = format!("{}\n{question}", note.title);
    let embedded = match &space {
        Some(space) => Some(
            prepared
                .router()
                .embed(
                    &space.model,
                    std::slice::from_ref(&space.provider),
                    std::slice::from_ref(&wanted),
                    llm::EmbedFor::Query,
                )
                .await,
        ),
        None => None,
    };
    let tx = app.db.enter(ctx).await?;
    let vector = match embedded {
        Some(Ok(mut done)) => {
            domain::ai::settle_spend(&tx, Uuid::now_v7(), &done.attempts).await?;
            (!done.vectors.is_empty()).then(|| done.vectors.swap_remove(0))
        }
        Some(Err(failed)) => {
            domain::ai::settle_spend(&tx, Uuid::now_v7(), &failed.attempts).await?;
            None
        }
        None => None,
    };
    let meaning = match (&space, &vector) {
        (Some(space), Some(vector)) => Some((space, vector.as_slice())),
        _ => None,
    };
    let sources =
        store::retrieve(&tx, note.project_id, note.id.into_uuid(), &wanted, meaning).await?;
    tx.commit().await?;
    Ok(sources)
}
