//! Workflow runs: a template's steps asked in order on a note, each step (each fan-out item) stored
//! when it is answered, so a run that is retried, taken over after a crash or resumed after a
//! failure starts after its last stored step and pays nothing twice.
//!
//! Each ask goes down the step's chain through the router (failover, schema checks, an empty
//! answer never a success), reserves its worst case of the team's month first, and stores its
//! attempts, tokens and cost with its output. A fan-out step asks once per item of an earlier
//! step's list, a few at once; an item's output must name the item's id, and an item whose
//! answer never comes (or never names it) is asked again up to [`MAX_REASKS`] times, then fails
//! the run naming it: a run never ends "completed" with an item unplanned.

use crate::AppContext;
use crate::ai::{Prepared, image_inputs, note_images, prepare};
use api::ApiError;
use api::ai::{Attempt, FailureClass};
use api::ids::NoteId;
use api::tenants::Permission;
use api::workflows::{
    PREVIEW_CHARS, Piece, Reference, StepDef, StepOutput, StepPreview, WorkflowDefinition,
    WorkflowRun,
};
use domain::workflows::{self as store, RunEnd, StepRecord, WorkflowRunPayload};
use domain::{DomainError, TenantCtx, TenantTxn};
use futures_util::StreamExt;
use jobs::{JobCtx, JobFailure};
use llm::{Chain, ChatRequest, ImageInput, Output, Preview};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// An item whose answer never comes, or never names it, is asked this many more times.
pub const MAX_REASKS: usize = 2;

/// How often a step's answer under way is shown on its run's stream (an answer that comes sooner
/// is never shown before it is stored).
const PREVIEW_EVERY: Duration = Duration::from_millis(500);

/// About four bytes a token, for estimates.
fn tokens_of(text: &str) -> u64 {
    text.len() as u64 / 4 + 1
}

/// Starts a run of the template `template_name` on the note: the template checked, its worst
/// case estimated (each step's prompt and `max_tokens` at its chain's first model's price, a
/// fan-out's as many times as it may have items) and refused when it exceeds what is left of
/// the team's month. The run's job is queued in the same transaction.
pub async fn start(
    app: &AppContext,
    tx: TenantTxn,
    note_id: NoteId,
    template_name: &str,
    confirmed: bool,
) -> Result<WorkflowRun, ApiError> {
    tx.ctx().require(Permission::AskAi)?;
    let template = store::template(&tx, template_name).await?;
    template.definition.check()?;
    let note = domain::notes::get(&tx, note_id).await?;
    let prepared = prepare(app, &tx).await?;
    let estimate = estimate(&prepared, &template.definition, &note)?;
    if let Some(limit) = prepared.limit_usd {
        let left = limit - domain::ai::spent_this_month(&tx).await?;
        if estimate > left {
            return Err(ApiError::Conflict {
                message: format!(
                    "this run may cost up to ${estimate:.2}, and the team has ${:.2} left of its \
                     AI budget this month",
                    left.max(0.0)
                ),
            });
        }
    }
    let settings = domain::ai::settings(&tx).await?;
    if let Some(above) = settings.run_confirm_above_usd
        && estimate > above
        && !confirmed
    {
        return Err(ApiError::Conflict {
            message: format!(
                "{} this run may cost up to ${estimate:.2}, more than the ${above:.2} \
                 a run may cost without one",
                api::workflows::CONFIRM_PREFIX
            ),
        });
    }
    let run = store::start_run(&tx, note_id, &template, estimate).await?;
    tx.commit().await?;
    Ok(run)
}

/// A step's chain: its own models, else the team's.
fn chain_of(prepared: &Prepared, step: &StepDef) -> Result<Chain, ApiError> {
    if step.chain.is_empty() {
        return Ok(prepared.chain.clone());
    }
    let mut chain = Chain::parse(step.chain.iter().map(String::as_str))
        .map_err(|why| ApiError::invalid(format!("{}.chain", step.key), why))?;
    chain.fall_over_on_refusal = prepared.chain.fall_over_on_refusal;
    Ok(chain)
}

/// The run's worst case in USD (see [`start`]).
fn estimate(
    prepared: &Prepared,
    definition: &WorkflowDefinition,
    note: &api::notes::Note,
) -> Result<f64, ApiError> {
    let router = prepared.router();
    let note_tokens = tokens_of(&note.title) + tokens_of(&note.body);
    // The most each step's output can hold, in tokens (a fan-out's items together).
    let mut outputs: HashMap<&str, u64> = HashMap::new();
    let mut total = 0.0;
    for step in &definition.steps {
        let items = step.fan_out.as_ref().map_or(1, |f| u64::from(f.max_items));
        let mut prompt = tokens_of(&step.prompt);
        for piece in api::workflows::pieces(&step.prompt).unwrap_or_default() {
            prompt += match piece {
                Piece::Ref(Reference::NoteBody | Reference::NoteTitle) => note_tokens,
                Piece::Ref(Reference::StepOutput(key)) => {
                    outputs.get(key.as_str()).copied().unwrap_or(0)
                }
                // An item is a part of its list.
                Piece::Ref(Reference::Item | Reference::ItemField(_)) => 256,
                Piece::Ref(_) => 64,
                Piece::Text(_) => 0,
            };
        }
        let chain = chain_of(prepared, step)?;
        if let Some(first) = chain.steps.first()
            && let Some(kind) = router.kind_of(&first.provider)
        {
            let model = router.catalog().get_or_unknown(kind, &first.model);
            total += model.cost(u32::try_from(prompt).unwrap_or(u32::MAX), step.max_tokens)
                * items as f64;
        }
        outputs.insert(&step.key, u64::from(step.max_tokens) * items);
    }
    Ok(total)
}

/// Why a run stopped before its end.
enum Stop {
    /// A step found no answer: the run fails, saying why, with that step's attempts.
    Failed {
        reason: String,
        attempts: Vec<Attempt>,
    },
    /// Its cancel was seen at a step boundary.
    Cancelled,
    /// The job itself failed (the database, a lost lease): retried by the runtime.
    Job(JobFailure),
}

impl From<DomainError> for Stop {
    fn from(error: DomainError) -> Self {
        Self::Job(error.into_job_failure())
    }
}

impl From<ApiError> for Stop {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Unavailable { service, .. } => {
                Self::Job(JobFailure::Retry(format!("{service} is unavailable")))
            }
            other => Self::Failed {
                reason: other.to_string(),
                attempts: Vec::new(),
            },
        }
    }
}

/// Runs the run: the `workflow.run` job.
pub async fn run(
    app: AppContext,
    job: JobCtx,
    payload: WorkflowRunPayload,
) -> Result<(), JobFailure> {
    let ctx = TenantCtx::for_job(&app.db, &job)
        .await
        .map_err(DomainError::into_job_failure)?;
    let run = match app
        .db
        .transact(&ctx, async |tx| store::begin_run(tx, payload.run_id).await)
        .await
    {
        Ok(run) => run,
        // Cancelled while it waited, or over already.
        Err(DomainError::Conflict(_)) => return Ok(()),
        Err(error) => return Err(error.into_job_failure()),
    };
    let runner = match Runner::load(&app, ctx, &job, &run).await {
        Ok(runner) => runner,
        Err(stop) => return end(&app, &ctx, &run, stop).await,
    };
    match runner.run_steps().await {
        Ok(()) => {
            app.db
                .transact(&ctx, async |tx| store::complete_run(tx, run.id).await)
                .await
                .map_err(DomainError::into_job_failure)?;
            Ok(())
        }
        Err(stop) => end(&app, &ctx, &run, stop).await,
    }
}

/// Records how the run stopped, and tells the runtime.
async fn end(
    app: &AppContext,
    ctx: &TenantCtx,
    run: &WorkflowRun,
    stop: Stop,
) -> Result<(), JobFailure> {
    let (ending, failure) = match &stop {
        Stop::Job(failure) => return Err(failure.clone()),
        Stop::Cancelled => (RunEnd::Cancelled, JobFailure::Cancelled),
        Stop::Failed { reason, attempts } => (
            RunEnd::Failed { reason, attempts },
            // The chain was tried already (and each item asked again): another attempt of the
            // job would ask the same. The user resumes it when the cause is fixed.
            JobFailure::Fatal(reason.clone()),
        ),
    };
    app.db
        .transact(ctx, async |tx| store::finish_run(tx, run.id, ending).await)
        .await
        .map_err(DomainError::into_job_failure)?;
    Err(failure)
}

/// A run under way: what its prompts may refer to, and what its steps answered so far.
struct Runner<'a> {
    app: &'a AppContext,
    ctx: TenantCtx,
    job: &'a JobCtx,
    run: &'a WorkflowRun,
    note: api::notes::Note,
    project: api::projects::Project,
    images: Vec<ImageInput>,
    prepared: Prepared,
    /// Stored outputs by (step key, item id; '' for none).
    stored: HashMap<(String, String), String>,
    /// Each fan-out step's items' ids, in list order.
    items_of: HashMap<String, Vec<String>>,
    /// The project's knowledge for the note, numbered, when a prompt uses `{{context}}`.
    sources: Vec<api::knowledge::CitedSource>,
}

impl<'a> Runner<'a> {
    async fn load(
        app: &'a AppContext,
        ctx: TenantCtx,
        job: &'a JobCtx,
        run: &'a WorkflowRun,
    ) -> Result<Self, Stop> {
        let tx = app.db.enter(&ctx).await?;
        let note = domain::notes::get(&tx, run.note_id).await?;
        let project = domain::projects::get(&tx, run.project_id).await?;
        let uses_images = run.definition.steps.iter().any(|step| {
            api::workflows::pieces(&step.prompt)
                .unwrap_or_default()
                .contains(&Piece::Ref(Reference::NoteImages))
        });
        let stored_images = if uses_images {
            note_images(&tx, &note).await?
        } else {
            Vec::new()
        };
        let prepared = prepare(app, &tx).await?;
        tx.end_read();
        let images = image_inputs(app, &stored_images).await;
        let uses_context = run.definition.steps.iter().any(|step| {
            api::workflows::pieces(&step.prompt)
                .unwrap_or_default()
                .contains(&Piece::Ref(Reference::Context))
        });
        // Retrieved once per run and kept: a resumed run sends what the first attempt sent.
        let sources = if uses_context && run.sources.is_empty() {
            let found =
                crate::knowledge::context_for(app, &ctx, &prepared, &note, &note.body).await;
            app.db
                .transact(&ctx, async |tx| {
                    store::record_sources(tx, run.id, &found).await
                })
                .await?;
            found
        } else {
            run.sources.clone()
        };
        let stored = run
            .steps
            .iter()
            .map(|step| {
                (
                    (step.step_key.clone(), step.item.clone().unwrap_or_default()),
                    step.output.clone(),
                )
            })
            .collect();
        Ok(Self {
            app,
            ctx,
            job,
            run,
            note,
            project,
            images,
            prepared,
            stored,
            items_of: HashMap::new(),
            sources,
        })
    }

    async fn stop_if_cancelled(&self) -> Result<(), Stop> {
        match self.job.cancelled().await {
            Ok(true) => Err(Stop::Cancelled),
            Ok(false) => Ok(()),
            Err(error) => Err(Stop::Job(JobFailure::Retry(error.to_string()))),
        }
    }

    async fn run_steps(mut self) -> Result<(), Stop> {
        for (seq, step) in self.run.definition.steps.iter().enumerate() {
            self.stop_if_cancelled().await?;
            let seq = u32::try_from(seq).unwrap_or(u32::MAX);
            match &step.fan_out {
                None => {
                    let output = self.ask(seq, step, None).await?;
                    self.stored
                        .insert((step.key.clone(), String::new()), output);
                }
                Some(fan_out) => {
                    let items = self.items(step, fan_out)?;
                    let ids: Vec<String> = items.iter().map(|(id, _)| id.clone()).collect();
                    // The page counts from here: items stored by an earlier attempt, of all.
                    let stored = ids
                        .iter()
                        .filter(|id| self.stored.contains_key(&(step.key.clone(), (*id).clone())))
                        .count();
                    self.app
                        .db
                        .transact(&self.ctx, async |tx| {
                            store::record_traced(tx, self.run.id, stored, ids.len()).await
                        })
                        .await?;
                    let this = &self;
                    let answers: Vec<(String, Result<String, Stop>)> =
                        futures_util::stream::iter(items)
                            .map(|(id, item)| async move {
                                if let Err(stop) = this.stop_if_cancelled().await {
                                    return (id, Err(stop));
                                }
                                let answer = this.ask(seq, step, Some((&id, &item))).await;
                                (id, answer)
                            })
                            .buffer_unordered(fan_out.concurrency.max(1) as usize)
                            .collect()
                            .await;
                    let mut missing = Vec::new();
                    let mut last_failure = None;
                    let mut done = 0;
                    for (id, answer) in answers {
                        match answer {
                            Ok(output) => {
                                done += 1;
                                self.stored.insert((step.key.clone(), id), output);
                            }
                            Err(Stop::Failed { reason, attempts }) => {
                                missing.push(id);
                                last_failure = Some((reason, attempts));
                            }
                            Err(other) => return Err(other),
                        }
                    }
                    let traced = (done, ids.len());
                    self.app
                        .db
                        .transact(&self.ctx, async |tx| {
                            store::record_traced(tx, self.run.id, traced.0, traced.1).await
                        })
                        .await?;
                    if !missing.is_empty() {
                        missing.sort_by_key(|id| ids.iter().position(|i| i == id));
                        let (reason, attempts) = last_failure.unwrap_or_default();
                        return Err(Stop::Failed {
                            reason: format!(
                                "{}: {} of {} planned; no answer for {} after {} asks each \
                                 (last: {reason})",
                                step.name,
                                done,
                                ids.len(),
                                missing.join(", "),
                                MAX_REASKS + 1
                            ),
                            attempts,
                        });
                    }
                    self.items_of.insert(step.key.clone(), ids);
                }
            }
        }
        Ok(())
    }

    /// The fan-out's items: the list in the earlier step's JSON output, each with its id.
    fn items(
        &self,
        step: &StepDef,
        fan_out: &api::workflows::FanOut,
    ) -> Result<Vec<(String, Value)>, Stop> {
        let failed = |reason: String| Stop::Failed {
            reason: format!("{}: {reason}", step.name),
            attempts: Vec::new(),
        };
        let source = self
            .stored
            .get(&(fan_out.over.clone(), String::new()))
            .ok_or_else(|| failed(format!("step {:?} has no output", fan_out.over)))?;
        let value = llm::json_answer(source).map_err(failed)?;
        let list = value
            .get(&fan_out.list)
            .and_then(Value::as_array)
            .ok_or_else(|| {
                failed(format!(
                    "{:?} holds no list {:?}",
                    fan_out.over, fan_out.list
                ))
            })?;
        if list.len() > fan_out.max_items as usize {
            return Err(failed(format!(
                "the list holds {} items, more than the step's limit of {}",
                list.len(),
                fan_out.max_items
            )));
        }
        let mut seen = HashSet::new();
        let mut items = Vec::with_capacity(list.len());
        for (n, item) in list.iter().enumerate() {
            let id = match item.get(&fan_out.id_field) {
                Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_owned(),
                Some(Value::Number(id)) => id.to_string(),
                _ => {
                    return Err(failed(format!(
                        "item {} has no {:?}",
                        n + 1,
                        fan_out.id_field
                    )));
                }
            };
            if !seen.insert(id.clone()) {
                return Err(failed(format!("two items have the id {id:?}")));
            }
            items.push((id, item.clone()));
        }
        Ok(items)
    }

    /// The step's output for `item` (or the step's own): the stored one, else asked (and stored).
    async fn ask(
        &self,
        seq: u32,
        step: &StepDef,
        item: Option<(&String, &Value)>,
    ) -> Result<String, Stop> {
        let item_id = item.map_or(String::new(), |(id, _)| id.clone());
        if let Some(output) = self.stored.get(&(step.key.clone(), item_id.clone())) {
            return Ok(output.clone());
        }
        let (prompt, with_images) = self.render(step, item.map(|(_, value)| value));
        let request = ChatRequest {
            system: None,
            user: prompt,
            images: if with_images {
                self.images.clone()
            } else {
                Vec::new()
            },
            earlier: Vec::new(),
            max_tokens: step.max_tokens,
            output: match &step.output {
                StepOutput::Text => Output::Text,
                StepOutput::Json { schema } => Output::JsonSchema {
                    name: step.key.clone(),
                    schema: schema.clone(),
                },
            },
        };
        let chain = chain_of(&self.prepared, step)?;
        let router = self.prepared.router();
        // An item's answer must come and name it; a step's own answer is the chain's.
        let asks = if item.is_some() { MAX_REASKS + 1 } else { 1 };
        let mut attempts = Vec::new();
        let mut last_reason = String::new();
        let started = Instant::now();
        for _ in 0..asks {
            // The ask's reservation and charges are filed under an id of its own.
            let call = Uuid::now_v7();
            let budget = self
                .prepared
                .reserve(&self.app.db, &self.ctx, call, &chain, &request)
                .await?;
            let live = Mutex::new(Live::default());
            let outcome = {
                let mut watch = |preview: Preview<'_>| {
                    live.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .hear(preview);
                };
                let asking = router.chat_previewed(&chain, &request, budget, &mut watch);
                tokio::select! {
                    outcome = asking => outcome,
                    never = self.show_live(&live, &step.key, item.map(|(id, _)| id.as_str())) => {
                        match never {}
                    }
                }
            };
            let tx = self.app.db.enter(&self.ctx).await?;
            let asked = match &outcome {
                Ok(answer) => answer.attempts.as_slice(),
                Err(failed) => failed.attempts.as_slice(),
            };
            domain::ai::settle_spend(&tx, call, asked).await?;
            self.prepared.save_states(&tx).await?;
            match outcome {
                Ok(answer) if item.is_none() || answer.text.contains(&item_id) => {
                    attempts.extend(answer.attempts);
                    let stored_now = store::record_step(
                        &tx,
                        self.run.id,
                        &StepRecord {
                            seq,
                            step_key: &step.key,
                            item: &item_id,
                            output: &answer.text,
                            provider: &answer.provider,
                            model: &answer.model,
                            attempts: &attempts,
                            duration_ms: u32::try_from(started.elapsed().as_millis())
                                .unwrap_or(u32::MAX),
                        },
                    )
                    .await?;
                    if stored_now && step.produces_insights {
                        // The answer matched the step's schema: its insights are a list.
                        let found = llm::json_answer(&answer.text)
                            .ok()
                            .and_then(|value| {
                                value.get("insights").and_then(Value::as_array).cloned()
                            })
                            .unwrap_or_default();
                        store::record_insights(&tx, self.run, &step.key, &found).await?;
                    }
                    tx.commit().await?;
                    return Ok(answer.text);
                }
                Ok(answer) => {
                    // An answer that does not say which item it is for cannot be traced to it.
                    let mut unnamed = answer.attempts;
                    if let Some(last) = unnamed.last_mut() {
                        last.class = Some(FailureClass::InvalidOutput);
                        last.error = Some(format!("the answer does not name {item_id}"));
                    }
                    attempts.extend(unnamed);
                    last_reason = format!("the answer does not name {item_id}");
                }
                Err(failed) => {
                    attempts.extend(failed.attempts);
                    last_reason = failed.reason;
                }
            }
            tx.commit().await?;
        }
        let what = if item.is_some() {
            last_reason
        } else {
            format!("{}: {last_reason}", step.name)
        };
        Err(Stop::Failed {
            reason: what,
            attempts,
        })
    }

    /// Shows the answer under way on the run's stream every [`PREVIEW_EVERY`] while it grows;
    /// ends only when dropped (when the answer is in). Showing is best effort: a failure to
    /// write it is logged, and the ask goes on.
    async fn show_live(
        &self,
        live: &Mutex<Live>,
        step_key: &str,
        item: Option<&str>,
    ) -> std::convert::Infallible {
        let slot = StepPreview::slot(step_key, item);
        loop {
            tokio::time::sleep(PREVIEW_EVERY).await;
            let shown = live
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(step_key, item);
            let Some(preview) = shown else { continue };
            let report = serde_json::to_value(&preview).unwrap_or_default();
            let written = self
                .app
                .db
                .transact(&self.ctx, async |tx| {
                    domain::job_runs::report_live(tx, &slot, &report).await
                })
                .await;
            if let Err(error) = written {
                tracing::warn!(run = %self.run.id, step = step_key, %error, "a step's preview was not shown");
            }
        }
    }

    /// The step's prompt with its references filled in, and whether the note's images go with it.
    fn render(&self, step: &StepDef, item: Option<&Value>) -> (String, bool) {
        let mut text = String::with_capacity(step.prompt.len() * 2);
        let mut with_images = false;
        // Checked when the template was saved or the run started: every reference is known.
        for piece in api::workflows::pieces(&step.prompt).unwrap_or_default() {
            match piece {
                Piece::Text(written) => text.push_str(written),
                Piece::Ref(reference) => match reference {
                    Reference::NoteTitle => text.push_str(&self.note.title),
                    Reference::NoteBody => text.push_str(&self.note.body),
                    Reference::NoteCaptions => {
                        for (n, image) in self.note.images.iter().enumerate() {
                            let caption = image.description.trim();
                            text.push_str(&format!(
                                "{}. {}\n",
                                n + 1,
                                if caption.is_empty() {
                                    "(no caption)"
                                } else {
                                    caption
                                }
                            ));
                        }
                    }
                    Reference::NoteImages => {
                        with_images = true;
                        text.push_str(&format!("{} attached", self.images.len()));
                    }
                    Reference::ProjectName => text.push_str(&self.project.name),
                    Reference::ProjectDescription => text.push_str(&self.project.description),
                    Reference::Context => {
                        if self.sources.is_empty() {
                            text.push_str("(nothing in the project matches this note)");
                        } else {
                            text.push_str(&api::knowledge::sources_prompt(&self.sources));
                        }
                    }
                    Reference::StepOutput(key) => match self.items_of.get(&key) {
                        Some(ids) => {
                            for id in ids {
                                if let Some(output) = self.stored.get(&(key.clone(), id.clone())) {
                                    text.push_str(&format!("### {id}\n\n{output}\n\n"));
                                }
                            }
                        }
                        None => {
                            if let Some(output) = self.stored.get(&(key, String::new())) {
                                text.push_str(output);
                            }
                        }
                    },
                    Reference::Item => {
                        if let Some(item) = item {
                            text.push_str(&serde_json::to_string_pretty(item).unwrap_or_default());
                        }
                    }
                    Reference::ItemField(field) => match item.and_then(|i| i.get(&field)) {
                        Some(Value::String(value)) => text.push_str(value),
                        Some(other) => text.push_str(&other.to_string()),
                        None => {}
                    },
                },
            }
        }
        (text, with_images)
    }
}

/// What the attempt under way has answered so far, and whether it changed since last shown.
#[derive(Default)]
struct Live {
    provider: String,
    model: String,
    text: String,
    changed: bool,
}

impl Live {
    fn hear(&mut self, preview: Preview<'_>) {
        match preview {
            Preview::Attempt {
                provider, model, ..
            } => {
                provider.clone_into(&mut self.provider);
                model.clone_into(&mut self.model);
                self.text.clear();
            }
            Preview::Text(piece) => self.text.push_str(piece),
        }
        self.changed = true;
    }

    /// The preview to show, if there is news since the last one.
    fn take(&mut self, step_key: &str, item: Option<&str>) -> Option<StepPreview> {
        if !std::mem::take(&mut self.changed) {
            return None;
        }
        let start = self
            .text
            .char_indices()
            .rev()
            .nth(PREVIEW_CHARS.saturating_sub(1))
            .map_or(0, |(at, _)| at);
        Some(StepPreview {
            step_key: step_key.to_owned(),
            item: item.map(str::to_owned),
            provider: self.provider.clone(),
            model: self.model.clone(),
            text: self.text[start..].to_owned(),
            clipped: start > 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_shows_the_attempt_under_way_and_its_last_characters_only() {
        let mut live = Live::default();
        assert!(live.take("plans", Some("AP-1")).is_none());
        live.hear(Preview::Attempt {
            provider: "anthropic",
            kind: "Anthropic",
            model: "claude",
            after: None,
        });
        live.hear(Preview::Text("broken "));
        live.hear(Preview::Attempt {
            provider: "local",
            kind: "Custom",
            model: "qwen",
            after: None,
        });
        live.hear(Preview::Text("é"));
        live.hear(Preview::Text(&"x".repeat(PREVIEW_CHARS)));
        let shown = live.take("plans", Some("AP-1")).expect("news");
        assert_eq!(
            (shown.provider.as_str(), shown.model.as_str()),
            ("local", "qwen")
        );
        assert_eq!(shown.text.chars().count(), PREVIEW_CHARS);
        assert!(shown.clipped && !shown.text.contains("broken"));
        assert!(live.take("plans", Some("AP-1")).is_none(), "nothing new");
    }
}
