//! Asking a model from the app: the team's router (its own providers, or else the instance's from
//! `cairn.toml`), its chain and what is left of its budget. No database connection is held while a
//! model answers; after each call the answer, its attempts and the providers' states are saved in
//! one transaction, so every instance skips a provider that ran out of credit.

use crate::AppContext;
use crate::in_flight::{Full, InFlight};
use api::ApiError;
use api::ai::NoteAnswer;
use api::ids::{NoteId, TenantId};
use base64::Engine;
use domain::ai::{AnswerOutcome, ProviderState};
use domain::{TenantTxn, images};
use futures_util::StreamExt;
use llm::{Budget, Catalog, Chain, ChatRequest, Health, ImageInput, ProviderConfig, Router};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Providers and a chain every team without its own uses (`[llm]` in `cairn.toml`).
pub struct InstanceAi {
    /// The router over the instance's providers (their states live in this process).
    pub router: Router,
    /// The instance's chain.
    pub chain: Chain,
}

/// What the app knows of AI: the catalog, how patient calls are, the instance's providers.
#[derive(Clone)]
pub struct AiConfig {
    /// The model catalog.
    pub catalog: Arc<Catalog>,
    /// Timeouts and retries.
    pub settings: llm::RouterSettings,
    /// The HTTP client the instance's providers share: any address.
    pub transport: llm::Transport,
    /// The HTTP client teams' own providers share: public addresses, and those
    /// `llm.allowed_private_hosts` allows.
    pub team_transport: llm::Transport,
    /// The instance-wide providers, if configured.
    pub instance: Option<Arc<InstanceAi>>,
    /// Asks in flight, per team and in all.
    pub asks: AskSlots,
    /// What a team without providers of its own may spend a month on the instance's (USD); 0
    /// keeps the instance's providers to the instance.
    pub team_monthly_budget_usd: f64,
}

/// Asks in flight, counted per team and for the instance, so that no team (and no crowd of them)
/// holds every worker and every connection to the providers. An ask takes a slot before anything
/// is read and gives it back when its answer is stored (or it fails).
#[derive(Clone)]
pub struct AskSlots(InFlight<TenantId>);

/// One ask's slot, given back when dropped.
pub type AskSlot = crate::in_flight::Slot<TenantId>;

/// How long a refused ask is told to wait: an ask usually takes seconds.
const ASK_RETRY_AFTER_SECS: u64 = 5;

impl AskSlots {
    /// At most `per_team` asks of one team and `in_all` of the instance at once (each at least 1).
    pub fn new(per_team: usize, in_all: usize) -> Self {
        Self(InFlight::new(per_team, in_all))
    }

    /// A slot for `team`'s ask: 429 when the team has its share in flight, 503 when the instance
    /// has, both with `Retry-After`.
    pub fn take(&self, team: TenantId) -> Result<AskSlot, ApiError> {
        self.0.take(team).map_err(|full| match full {
            Full::Key => ApiError::RateLimited {
                retry_after_secs: ASK_RETRY_AFTER_SECS,
            },
            Full::All => ApiError::Unavailable {
                service: "answering (every answer slot of this instance is busy)".into(),
                retry_after_secs: Some(ASK_RETRY_AFTER_SECS),
            },
        })
    }
}

enum Routing {
    /// The team's own providers, built for this call; their states are saved after it.
    Team(Box<Router>),
    /// The instance's.
    Instance(Arc<InstanceAi>),
}

/// A router ready for one call of a team.
pub struct Prepared {
    routing: Routing,
    /// The chain the call goes down.
    pub chain: Chain,
    /// The team's monthly limit for this call, when one applies: its own budget, and for the
    /// instance's providers at most `llm.team_monthly_budget_usd`.
    pub limit_usd: Option<f64>,
}

/// The images sent with a question: at most this many, of at most this many bytes in all.
const MAX_IMAGES: usize = 8;
const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;

const SYSTEM_PROMPT: &str = "You answer questions about one note from a software team's knowledge \
base. Answer from the note, its images and the numbered sources from the project, if any; when they \
do not say, say so. Cite a source you use as [n], its number. Be brief and concrete.";

fn no_provider() -> ApiError {
    ApiError::Conflict {
        message: "no AI provider is configured: an owner or admin adds one on the team's AI page"
            .into(),
    }
}

fn to_system(at: Option<chrono::DateTime<chrono::Utc>>) -> Option<SystemTime> {
    at.map(SystemTime::from)
}

fn to_utc(at: Option<SystemTime>) -> Option<chrono::DateTime<chrono::Utc>> {
    at.map(chrono::DateTime::<chrono::Utc>::from)
}

/// The catalog with the models a team added to its providers.
pub fn team_catalog<'a>(
    base: &Catalog,
    added: impl IntoIterator<Item = (api::ai::ProviderKind, &'a [api::ai::CustomModel])>,
) -> Catalog {
    let mut catalog = base.clone();
    for (kind, models) in added {
        for model in models {
            catalog = catalog.with(llm::ModelInfo {
                provider: kind,
                id: model.id.clone(),
                context_window: model.context_window,
                max_output: model.context_window,
                price_in: model.price_in,
                price_out: model.price_out,
                price_source: "added by the team".into(),
                price_date: String::new(),
                vision: model.vision,
                fast: false,
                embedding_dimensions: None,
            });
        }
    }
    catalog
}

/// The team's router, chain and budget.
pub async fn prepare(app: &AppContext, tx: &TenantTxn) -> Result<Prepared, ApiError> {
    let providers = domain::ai::callable_providers(tx, &app.secrets).await?;
    let settings = domain::ai::settings(tx).await?;
    let limit_usd = settings.monthly_budget_usd;
    if providers.is_empty() {
        let instance = app.ai.instance.clone().ok_or_else(no_provider)?;
        // The instance's providers are the operator's money: a team spends at most its share.
        let share = app.ai.team_monthly_budget_usd;
        if share <= 0.0 {
            return Err(no_provider());
        }
        return Ok(Prepared {
            chain: instance.chain.clone(),
            routing: Routing::Instance(instance),
            limit_usd: Some(limit_usd.map_or(share, |own| own.min(share))),
        });
    }
    // The chain the team set; else each provider's first enabled model, in name order.
    let mut chain = if settings.chain.is_empty() {
        Chain {
            steps: providers
                .iter()
                .filter_map(|p| {
                    p.models.first().map(|model| llm::ChainStep {
                        provider: p.name.clone(),
                        model: model.clone(),
                    })
                })
                .collect(),
            fall_over_on_refusal: false,
        }
    } else {
        Chain::parse(settings.chain.iter().map(String::as_str))
            .map_err(|reason| ApiError::invalid("chain", reason))?
    };
    chain.fall_over_on_refusal = settings.fall_over_on_refusal;
    let catalog = team_catalog(
        &app.ai.catalog,
        providers
            .iter()
            .map(|p| (p.kind, p.custom_models.as_slice())),
    );
    let budgets: Vec<(String, f64)> = providers
        .iter()
        .filter_map(|p| p.budget_left_usd.map(|left| (p.name.clone(), left)))
        .collect();
    let states: Vec<(String, ProviderState)> = providers
        .iter()
        .map(|p| (p.name.clone(), p.state.clone()))
        .collect();
    let configs = providers
        .into_iter()
        .map(|p| ProviderConfig {
            name: p.name,
            kind: p.kind,
            base_url: p.base_url,
            api_key: p.api_key,
        })
        .collect();
    let router = Router::over(
        &app.ai.team_transport,
        configs,
        catalog,
        app.ai.settings.clone(),
    )
    .map_err(|e| ApiError::invalid("name", e.to_string()))?;
    for (name, left) in budgets {
        router.set_provider_budget(&name, left);
    }
    for (name, stored) in states {
        router.set_health(
            &name,
            Health {
                cooling_until: to_system(stored.cooling_until),
                out_of_credit_since: to_system(stored.out_of_credit_since),
                key_refused_since: to_system(stored.key_refused_since),
                last_error: stored.last_error,
            },
        );
    }
    Ok(Prepared {
        routing: Routing::Team(Box::new(router)),
        chain,
        limit_usd,
    })
}

impl Prepared {
    /// The router.
    pub fn router(&self) -> &Router {
        match &self.routing {
            Routing::Team(router) => router,
            Routing::Instance(instance) => &instance.router,
        }
    }

    /// Under the team's monthly limit, reserves the worst case of `request` down `chain` for the
    /// call `call` (the id its spend is filed under) and answers the budget the call may spend:
    /// calls made at once cannot each count on all that is left. `None` without a limit.
    pub async fn reserve(
        &self,
        db: &domain::Db,
        ctx: &domain::TenantCtx,
        call: uuid::Uuid,
        chain: &Chain,
        request: &ChatRequest,
    ) -> Result<Option<Budget>, domain::DomainError> {
        let Some(limit) = self.limit_usd else {
            return Ok(None);
        };
        let worst = self.router().worst_case(chain, request);
        let tx = db.enter(ctx).await?;
        let reserved = domain::ai::reserve_spend(&tx, call, worst, limit).await?;
        tx.commit().await?;
        Ok(Some(Budget {
            remaining_usd: reserved,
        }))
    }

    /// Saves what the call taught about the team's providers.
    pub async fn save_states(&self, tx: &TenantTxn) -> Result<(), ApiError> {
        let Routing::Team(router) = &self.routing else {
            return Ok(());
        };
        let mut names: Vec<&str> = self
            .chain
            .steps
            .iter()
            .map(|s| s.provider.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            save_state(router, tx, name).await?;
        }
        Ok(())
    }
}

/// Saves what `router` knows of the provider `name` (out of credit, key refused, cooling down).
pub async fn save_state(router: &Router, tx: &TenantTxn, name: &str) -> Result<(), ApiError> {
    let health = router.health(name);
    let stored = ProviderState {
        out_of_credit_since: to_utc(health.out_of_credit_since),
        key_refused_since: to_utc(health.key_refused_since),
        cooling_until: to_utc(health.cooling_until),
        last_error: health.last_error,
    };
    domain::ai::record_state(tx, name, &stored).await?;
    Ok(())
}

/// A question about a note, recorded and ready to be asked: everything that could refuse it (the
/// session's team, the note, a provider to ask) has been checked, and its transaction committed.
pub struct Asking {
    app: AppContext,
    ctx: domain::TenantCtx,
    answer_id: api::ids::NoteAnswerId,
    prepared: Prepared,
    note: api::notes::Note,
    images: Vec<(images::StoredImage, String)>,
    question: String,
    /// Held until the answer is stored.
    _slot: AskSlot,
}

/// Records `question` (already parsed) about the note, running, and readies the team's chain.
pub async fn begin_ask(
    app: &AppContext,
    tx: TenantTxn,
    note_id: NoteId,
    question: String,
) -> Result<Asking, ApiError> {
    // Asking spends the team's budget: not for a read-only token.
    tx.ctx().require(api::tenants::Permission::AskAi)?;
    let slot = app.ai.asks.take(tx.ctx().tenant_id())?;
    let note = domain::notes::get(&tx, note_id).await?;
    let prepared = prepare(app, &tx).await?;
    let stored = note_images(&tx, &note).await?;
    let answer_id = domain::ai::start_answer(&tx, note_id, &question).await?;
    let ctx = *tx.ctx();
    tx.commit().await?;
    Ok(Asking {
        app: app.clone(),
        ctx,
        answer_id,
        prepared,
        note,
        images: stored,
        question,
        _slot: slot,
    })
}

/// An answer as the page shows it, its Markdown rendered (sanitised, its citations linked).
pub fn shown(answer: &NoteAnswer) -> api::ai::AnswerShown {
    let mut shown = api::ai::AnswerShown::from(answer);
    if answer.status == api::ai::AnswerStatus::Answered {
        shown.html = domain::markdown::render_cited(&shown.text, &shown.sources);
    }
    shown
}

/// Who reads an answer as it is written.
pub struct Reader<'a> {
    /// Hears each attempt begin ("trying local-slow…") and each piece of the answer.
    pub hears: &'a mut (dyn FnMut(llm::Preview<'_>) + Send),
    /// Notified when the reader stops the answer (or leaves): the call ends there, and the
    /// answer is stored as stopped with what it cost.
    pub stop: &'a tokio::sync::Notify,
}

/// Asks the team's chain about a note (its text and images; models without vision get the
/// captions) and keeps the answer with every attempt. A `reader` gets the answer as it streams;
/// without one the call is not streamed. A call that finds no answer is a stored answer whose
/// status is `failed`, not an error.
pub async fn ask_note(
    app: &AppContext,
    tx: TenantTxn,
    note_id: NoteId,
    question: &str,
    reader: Option<Reader<'_>>,
) -> Result<NoteAnswer, ApiError> {
    let question = api::ai::parse_question(question)?;
    begin_ask(app, tx, note_id, question)
        .await?
        .answer(reader)
        .await
}

impl Asking {
    /// Asks the chain (no database connection held meanwhile), then stores the answer, its
    /// attempts and what the call taught about the providers, in one transaction.
    pub async fn answer(self, reader: Option<Reader<'_>>) -> Result<NoteAnswer, ApiError> {
        let Self {
            app,
            ctx,
            answer_id,
            prepared,
            note,
            images: stored,
            question,
            _slot,
        } = self;
        let app = &app;
        let started = Instant::now();
        let inputs = image_inputs(app, &stored).await;
        let sources = crate::knowledge::context_for(app, &ctx, &prepared, &note, &question).await;
        let user = if sources.is_empty() {
            format!(
                "Note: {}\n\n{}\n\nQuestion: {question}",
                note.title, note.body
            )
        } else {
            format!(
                "Note: {}\n\n{}\n\nSources from the project:\n\n{}Question: {question}",
                note.title,
                note.body,
                api::knowledge::sources_prompt(&sources)
            )
        };
        let request = ChatRequest {
            system: Some(SYSTEM_PROMPT.into()),
            user,
            images: inputs,
            // One question about the note, with nothing asked before it.
            earlier: Vec::new(),
            max_tokens: 1024,
            output: llm::Output::Text,
        };
        let router = prepared.router();
        // The question may spend no more than it reserved of the month.
        let budget = prepared
            .reserve(
                &app.db,
                &ctx,
                answer_id.into_uuid(),
                &prepared.chain,
                &request,
            )
            .await?;
        let outcome = match reader {
            Some(Reader { hears, stop }) => {
                router
                    .chat_stream(&prepared.chain, &request, budget, hears, Some(stop))
                    .await
            }
            None => router.chat(&prepared.chain, &request, None, budget).await,
        };
        let duration_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        let tx = app.db.enter(&ctx).await?;
        match &outcome {
            Ok(answer) => {
                domain::ai::finish_answer(
                    &tx,
                    answer_id,
                    AnswerOutcome::Answered {
                        text: &answer.text,
                        provider: &answer.provider,
                        model: &answer.model,
                    },
                    &answer.attempts,
                    duration_ms,
                )
                .await?;
            }
            Err(failed) => {
                domain::ai::finish_answer(
                    &tx,
                    answer_id,
                    AnswerOutcome::Failed {
                        reason: &failed.reason,
                    },
                    &failed.attempts,
                    duration_ms,
                )
                .await?;
            }
        }
        domain::ai::record_sources(&tx, answer_id, &sources).await?;
        prepared.save_states(&tx).await?;
        let answer = domain::ai::answer(&tx, answer_id).await?;
        tx.commit().await?;
        Ok(answer)
    }
}

/// A note's images to send with a question (the first [`MAX_IMAGES`]), with their captions.
pub(crate) async fn note_images(
    tx: &TenantTxn,
    note: &api::notes::Note,
) -> Result<Vec<(images::StoredImage, String)>, ApiError> {
    let mut stored = Vec::new();
    for image in note.images.iter().take(MAX_IMAGES) {
        stored.push((
            images::stored(tx, image.id).await?,
            image.description.clone(),
        ));
    }
    Ok(stored)
}

/// The images as a request carries them (data URLs, at most [`MAX_IMAGE_BYTES`] in all), each
/// with its caption for models without vision.
pub(crate) async fn image_inputs(
    app: &AppContext,
    stored: &[(images::StoredImage, String)],
) -> Vec<ImageInput> {
    let mut inputs = Vec::new();
    let mut total = 0;
    for (n, (image, description)) in stored.iter().enumerate() {
        let caption = if description.trim().is_empty() {
            format!("image {} of the note, without a caption", n + 1)
        } else {
            description.clone()
        };
        let Some(bytes) = read_image(app, image, MAX_IMAGE_BYTES - total).await else {
            continue;
        };
        total += bytes.len();
        inputs.push(ImageInput {
            url: format!(
                "data:{};base64,{}",
                image.content_type,
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            ),
            caption,
        });
    }
    inputs
}

/// An image's bytes, if they fit in `room`.
async fn read_image(app: &AppContext, image: &images::StoredImage, room: usize) -> Option<Vec<u8>> {
    if usize::try_from(image.byte_size).ok()? > room {
        return None;
    }
    let mut stream = images::open(&app.images, image).await.ok()?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.ok()?);
    }
    Some(bytes)
}

/// Refuses (422 naming `base_url`, with the reason) a team provider's base URL that leads to an
/// address teams may not reach, before anything is sent to it.
pub async fn check_base_url(app: &AppContext, base_url: &str) -> Result<(), ApiError> {
    let Some(policy) = app.ai.team_transport.policy() else {
        return Ok(());
    };
    policy
        .check_url(base_url)
        .await
        .map_err(|refused| ApiError::invalid("base_url", format!("is refused: {refused}")))
}

/// Test connection: a one-word question to the provider's first enabled model. Its attempt says
/// how it went; success clears the provider's state (the probe that ends an "out of credit"), a
/// failure records it. No database connection is held while the provider answers.
pub async fn test_provider(
    app: &AppContext,
    tx: TenantTxn,
    id: api::ids::AiProviderId,
) -> Result<api::ai::ConnectionTest, ApiError> {
    // A test calls the provider (and records what it found): not for a read-only token.
    tx.ctx().require(api::tenants::Permission::ManageAi)?;
    let provider = domain::ai::get_provider(&tx, id).await?;
    let prepared = prepare(app, &tx).await?;
    let ctx = *tx.ctx();
    tx.end_read();
    let model = provider.models.first().cloned().unwrap_or_default();
    let attempt = match prepared.router().probe(&provider.name, &model).await {
        Ok(attempt) => attempt,
        Err(failed) => failed.attempts.last().cloned().ok_or(ApiError::Internal)?,
    };
    let tx = app.db.enter(&ctx).await?;
    save_state(prepared.router(), &tx, &provider.name).await?;
    tx.commit().await?;
    Ok(api::ai::ConnectionTest::from(&attempt))
}

/// Adds a provider (`id` none) or changes one, after refusing a base URL teams may not reach.
pub async fn save_provider(
    app: &AppContext,
    tx: TenantTxn,
    id: Option<api::ids::AiProviderId>,
    form: api::ai::AiProviderForm,
) -> Result<api::ai::AiProvider, ApiError> {
    let valid = form.parse()?;
    tx.ctx().require(api::tenants::Permission::ManageAi)?;
    check_base_url(app, &valid.base_url).await?;
    let provider = match id {
        None => domain::ai::add_provider(&tx, &app.secrets, &valid).await?,
        Some(id) => domain::ai::update_provider(&tx, &app.secrets, id, &valid).await?,
    };
    tx.commit().await?;
    Ok(provider)
}

/// The models the team can pick, grouped by provider, with price, context, vision and "fast";
/// those of a provider that is out of credit or cooling down say so.
pub async fn model_choices(
    app: &AppContext,
    tx: TenantTxn,
) -> Result<Vec<api::ai::ModelChoice>, ApiError> {
    let providers = domain::ai::list_providers(&tx).await?;
    tx.end_read();
    let catalog = team_catalog(
        &app.ai.catalog,
        providers
            .iter()
            .map(|p| (p.kind, p.custom_models.as_slice())),
    );
    let mut choices = Vec::new();
    for provider in &providers {
        let unavailable = match provider.state().as_str() {
            "healthy" => None,
            state => Some(state.to_owned()),
        };
        for model in &provider.models {
            let info = catalog.get_or_unknown(provider.kind, model);
            choices.push(api::ai::ModelChoice {
                provider: provider.name.clone(),
                provider_kind: provider.kind,
                model: model.clone(),
                context_window: info.context_window,
                price_in: info.price_in,
                price_out: info.price_out,
                vision: info.vision,
                fast: info.fast,
                unavailable: unavailable.clone(),
                embedding_dimensions: info.embedding_dimensions,
            });
        }
    }
    Ok(choices)
}

/// The instance's providers and chain as the team's AI page shows them, and whether they answer
/// the team's questions; `None` without any.
pub async fn instance_ai(
    app: &AppContext,
    tx: TenantTxn,
) -> Result<Option<api::ai::InstanceAi>, ApiError> {
    let Some(instance) = &app.ai.instance else {
        return Ok(None);
    };
    let own = !domain::ai::list_providers(&tx).await?.is_empty();
    tx.end_read();
    let share = app.ai.team_monthly_budget_usd;
    let now = SystemTime::now();
    let providers = instance
        .router
        .provider_names()
        .into_iter()
        .map(|name| {
            let unavailable = instance.router.health(name).unavailable(now);
            api::ai::InstanceProvider {
                name: name.to_owned(),
                kind: instance
                    .router
                    .kind_of(name)
                    .map_or("", |kind| kind.label())
                    .to_owned(),
                models: instance
                    .chain
                    .steps
                    .iter()
                    .filter(|step| step.provider == name)
                    .map(|step| step.model.clone())
                    .collect(),
                ready: unavailable.is_none(),
                state: unavailable.unwrap_or_else(|| "ready".to_owned()),
            }
        })
        .collect();
    Ok(Some(api::ai::InstanceAi {
        providers,
        chain: instance
            .chain
            .steps
            .iter()
            .map(|step| format!("{}/{}", step.provider, step.model))
            .collect(),
        team_share: (share > 0.0).then(|| api::ai::usd(share)),
        applies: !own && share > 0.0,
    }))
}

/// Whether the team can ask AI: it has a provider of its own, or the instance has some.
pub async fn available(app: &AppContext, tx: TenantTxn) -> Result<bool, ApiError> {
    let own = !domain::ai::list_providers(&tx).await?.is_empty();
    tx.end_read();
    Ok(own || app.ai.instance.is_some())
}
