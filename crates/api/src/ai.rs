//! AI as the UI sees it: provider kinds, the model catalog's entries for the model picker, and each
//! attempt of a call through a failover chain with how it ended.

use serde::{Deserialize, Serialize};

/// Which API a provider speaks (all through their OpenAI-compatible endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI.
    OpenAi,
    /// Anthropic's OpenAI-compatible endpoint.
    Anthropic,
    /// Gemini's OpenAI-compatible endpoint.
    Gemini,
    /// OpenRouter.
    OpenRouter,
    /// A local Ollama server.
    Ollama,
    /// A local llama.cpp server.
    LlamaCpp,
    /// Any other OpenAI-compatible URL.
    Custom,
}

impl ProviderKind {
    /// Every kind, in the order forms offer them.
    pub const ALL: [Self; 7] = [
        Self::OpenAi,
        Self::Anthropic,
        Self::Gemini,
        Self::OpenRouter,
        Self::Ollama,
        Self::LlamaCpp,
        Self::Custom,
    ];

    /// As stored and written in `cairn.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAi => "open_ai",
            Self::Anthropic => "anthropic",
            Self::Gemini => "gemini",
            Self::OpenRouter => "open_router",
            Self::Ollama => "ollama",
            Self::LlamaCpp => "llama_cpp",
            Self::Custom => "custom",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// As people call it.
    pub fn label(self) -> &'static str {
        match self {
            Self::OpenAi => "OpenAI",
            Self::Anthropic => "Anthropic",
            Self::Gemini => "Gemini",
            Self::OpenRouter => "OpenRouter",
            Self::Ollama => "Ollama",
            Self::LlamaCpp => "llama.cpp",
            Self::Custom => "OpenAI-compatible",
        }
    }

    /// The endpoint used when none is given (local servers on their usual ports).
    pub fn default_base_url(self) -> Option<&'static str> {
        Some(match self {
            Self::OpenAi => "https://api.openai.com/v1",
            Self::Anthropic => "https://api.anthropic.com/v1",
            Self::Gemini => "https://generativelanguage.googleapis.com/v1beta/openai",
            Self::OpenRouter => "https://openrouter.ai/api/v1",
            Self::Ollama => "http://127.0.0.1:11434/v1",
            Self::LlamaCpp => "http://127.0.0.1:8080/v1",
            Self::Custom => return None,
        })
    }
}

/// How one attempt ended, when it did not answer. The class decides what the chain does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// 429 without a quota or billing type: retried on the same model, honouring `Retry-After`.
    RateLimited,
    /// A 5xx answer: retried, then the next model.
    ServerError,
    /// No answer in time: retried, then the next model.
    Timeout,
    /// The connection failed or dropped: retried, then the next model.
    Connection,
    /// Out of credit, billing or quota: the provider cools down until cleared, the chain moves on at
    /// once.
    OutOfCredit,
    /// The key was refused (401/403): the provider cools down, the chain moves on at once.
    Auth,
    /// The prompt does not fit the model's context window: the next model with a larger one.
    ContextWindow,
    /// The provider refused the content: the call fails with that reason (unless the chain says to
    /// fall over).
    ContentPolicy,
    /// Any other 4xx: the request is wrong, so the call fails.
    BadRequest,
    /// 200 with nothing in it (no text, whitespace, only reasoning, zero completion tokens): never a
    /// success; the chain moves on.
    EmptyOutput,
    /// An answer that fails the step's check (e.g. JSON that does not match its schema).
    InvalidOutput,
    /// The stream broke after text was shown: the call fails rather than repeat it elsewhere.
    StreamBroken,
    /// The answer grew past what the request's `max_tokens` allows (with slack): a provider that
    /// does not stop. Cut there; a whole answer moves down the chain, a streamed one ends the call.
    TooLarge,
    /// The call's overall deadline passed (`llm.ask_deadline_secs`): nothing more is tried.
    DeadlinePassed,
    /// Not sent: the provider is cooling down.
    CoolingDown,
    /// Not sent: its worst case would exceed the budget.
    OverBudget,
    /// The asker stopped the answer while it was written (or left): nothing more is asked.
    Stopped,
}

impl FailureClass {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::ServerError => "server_error",
            Self::Timeout => "timeout",
            Self::Connection => "connection",
            Self::OutOfCredit => "out_of_credit",
            Self::Auth => "auth",
            Self::ContextWindow => "context_window",
            Self::ContentPolicy => "content_policy",
            Self::BadRequest => "bad_request",
            Self::EmptyOutput => "empty_output",
            Self::InvalidOutput => "invalid_output",
            Self::StreamBroken => "stream_broken",
            Self::TooLarge => "too_large",
            Self::DeadlinePassed => "deadline_passed",
            Self::CoolingDown => "cooling_down",
            Self::OverBudget => "over_budget",
            Self::Stopped => "stopped",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::RateLimited,
            Self::ServerError,
            Self::Timeout,
            Self::Connection,
            Self::OutOfCredit,
            Self::Auth,
            Self::ContextWindow,
            Self::ContentPolicy,
            Self::BadRequest,
            Self::EmptyOutput,
            Self::InvalidOutput,
            Self::StreamBroken,
            Self::TooLarge,
            Self::DeadlinePassed,
            Self::CoolingDown,
            Self::OverBudget,
            Self::Stopped,
        ]
        .into_iter()
        .find(|class| class.as_str() == text)
    }

    /// A few words for the failover trail ("Anthropic: out of credit").
    pub fn label(self) -> &'static str {
        match self {
            Self::RateLimited => "rate limited",
            Self::ServerError => "server error",
            Self::Timeout => "timed out",
            Self::Connection => "connection failed",
            Self::OutOfCredit => "out of credit",
            Self::Auth => "key refused",
            Self::ContextWindow => "prompt too long",
            Self::ContentPolicy => "refused the content",
            Self::BadRequest => "rejected the request",
            Self::EmptyOutput => "empty",
            Self::InvalidOutput => "invalid answer",
            Self::StreamBroken => "stream broke",
            Self::TooLarge => "answer too large",
            Self::DeadlinePassed => "out of time",
            Self::CoolingDown => "cooling down",
            Self::OverBudget => "over budget",
            Self::Stopped => "stopped",
        }
    }
}

/// One attempt of a call: which model of which provider, how it ended, what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The provider's name in the chain.
    pub provider: String,
    /// Its kind, for labels.
    pub provider_kind: ProviderKind,
    /// The model asked.
    pub model: String,
    /// `None`: it answered.
    pub class: Option<FailureClass>,
    /// The HTTP status, when one came back.
    pub status: Option<u16>,
    /// What went wrong, cut short and without keys or bodies of requests.
    pub error: Option<String>,
    /// Prompt tokens, as the provider counted them.
    pub tokens_in: u32,
    /// Completion tokens.
    pub tokens_out: u32,
    /// US dollars, from the catalog's prices.
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    pub cost_usd: f64,
    /// From sending to the last byte, in milliseconds.
    pub latency_ms: u32,
    /// From sending to the first token of a streamed answer, in milliseconds.
    pub first_token_ms: Option<u32>,
}

/// A model the picker offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelChoice {
    /// The provider's name.
    pub provider: String,
    /// Its kind.
    pub provider_kind: ProviderKind,
    /// Model id.
    pub model: String,
    /// Context window in tokens.
    pub context_window: u32,
    /// USD per million prompt tokens.
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    pub price_in: f64,
    /// USD per million completion tokens.
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    pub price_out: f64,
    /// Reads images.
    pub vision: bool,
    /// Quick and cheap.
    pub fast: bool,
    /// Why it cannot be picked now (its provider is cooling down, out of credit).
    pub unavailable: Option<String>,
    /// The vector size of an embedding model, as the catalog knows it (`None`: a chat model, or
    /// a model the catalog does not know).
    #[serde(default)]
    pub embedding_dimensions: Option<u32>,
}

/// A provider's name in chains: 1–40 of `a-z`, `0-9`, `-`, `_`, starting with a letter or digit.
pub fn parse_provider_name(text: &str) -> Result<String, crate::ApiError> {
    let name = text.trim().to_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(name)
    } else {
        Err(crate::ApiError::invalid(
            "name",
            "must be 1–40 letters, digits, - or _ (it names the provider in chains: name/model)",
        ))
    }
}

/// What the provider form sends: text, parsed by [`AiProviderForm::parse`] on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AiProviderForm {
    /// Its name in chains.
    pub name: String,
    /// `ProviderKind::as_str`.
    pub kind: String,
    /// The API root; empty for the kind's default.
    pub base_url: String,
    /// A new key; empty keeps the one set (or none).
    pub api_key: String,
    /// Enabled model ids, one per line or comma-separated.
    pub models: String,
    /// USD a month this provider may cost; empty for no limit of its own.
    #[serde(default)]
    pub budget_usd: String,
}

/// A monthly budget as typed: US dollars (a leading `$` allowed), or empty for none.
pub fn parse_budget(field: &str, text: &str) -> Result<Option<f64>, crate::ApiError> {
    match text.trim() {
        "" => Ok(None),
        text => match text.trim_start_matches('$').parse::<f64>() {
            Ok(usd) if usd.is_finite() && (0.0..=1_000_000.0).contains(&usd) => Ok(Some(usd)),
            _ => Err(crate::ApiError::invalid(
                field,
                "must be a number of US dollars, or empty for no limit",
            )),
        },
    }
}

/// A provider form that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidAiProvider {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ProviderKind,
    /// API root, without a trailing slash.
    pub base_url: String,
    /// A key to set, if one was given.
    pub api_key: Option<String>,
    /// Enabled models, at least one.
    pub models: Vec<String>,
    /// Its own monthly limit, if any.
    pub monthly_budget_usd: Option<f64>,
}

impl std::fmt::Display for ValidAiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        write!(f, "{} ({})", self.name, self.kind.label())
    }
}

impl AiProviderForm {
    /// Checks every field; the first problem found is returned.
    pub fn parse(&self) -> Result<ValidAiProvider, crate::ApiError> {
        let name = parse_provider_name(&self.name)?;
        let kind = ProviderKind::parse(self.kind.trim())
            .ok_or_else(|| crate::ApiError::invalid("kind", "pick one of the kinds offered"))?;
        let base_url = match self.base_url.trim().trim_end_matches('/') {
            "" => kind.default_base_url().map(str::to_owned).ok_or_else(|| {
                crate::ApiError::invalid("base_url", "is required for an OpenAI-compatible URL")
            })?,
            url if (url.starts_with("http://") || url.starts_with("https://"))
                && url.len() <= 500
                && !url.chars().any(|c| c.is_whitespace() || c.is_control()) =>
            {
                url.to_owned()
            }
            _ => {
                return Err(crate::ApiError::invalid(
                    "base_url",
                    "must be an http(s) address such as http://127.0.0.1:8080/v1",
                ));
            }
        };
        let api_key = match self.api_key.trim() {
            "" => None,
            key if key.len() <= 500
                && !key.chars().any(|c| c.is_whitespace() || c.is_control()) =>
            {
                Some(key.to_owned())
            }
            _ => {
                return Err(crate::ApiError::invalid(
                    "api_key",
                    "must be one line of at most 500 characters without spaces",
                ));
            }
        };
        let models: Vec<String> = self
            .models
            .split([',', '\n'])
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .collect();
        if models.is_empty()
            || models.len() > 50
            || models
                .iter()
                .any(|m| m.len() > 200 || m.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(crate::ApiError::invalid(
                "models",
                "list 1–50 model ids, one per line (for example gpt-4o-mini)",
            ));
        }
        Ok(ValidAiProvider {
            name,
            kind,
            base_url,
            api_key,
            models,
            monthly_budget_usd: parse_budget("budget_usd", &self.budget_usd)?,
        })
    }
}

/// A model a team added to one of its providers because the catalog lacks it: what the catalog
/// would say of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomModel {
    /// The provider's id for it.
    pub id: String,
    /// Context window, in tokens.
    pub context_window: u32,
    /// USD per million prompt tokens.
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    pub price_in: f64,
    /// USD per million completion tokens.
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    pub price_out: f64,
    /// Reads images.
    pub vision: bool,
}

/// How a test connection went, in words written on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionTest {
    /// `None`: it answered.
    pub class: Option<FailureClass>,
    /// The HTTP status, when one came back.
    pub status: Option<u16>,
    /// "Connected: gpt-4o-mini answered in 420 ms." or what went wrong.
    pub message: String,
}

impl From<&Attempt> for ConnectionTest {
    fn from(attempt: &Attempt) -> Self {
        let message = match attempt.class {
            None => format!(
                "Connected: {} answered in {} ms.",
                attempt.model, attempt.latency_ms
            ),
            Some(class) => format!(
                "{}: {}",
                class.label(),
                attempt.error.clone().unwrap_or_default()
            ),
        };
        Self {
            class: attempt.class,
            status: attempt.status,
            message,
        }
    }
}

/// What the "add a model" form sends.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CustomModelForm {
    /// Model id.
    pub id: String,
    /// Context window in tokens.
    pub context_window: String,
    /// USD per million prompt tokens.
    pub price_in: String,
    /// USD per million completion tokens.
    pub price_out: String,
    /// Reads images.
    pub vision: bool,
}

impl CustomModelForm {
    /// Checks every field.
    pub fn parse(&self) -> Result<CustomModel, crate::ApiError> {
        let id = self.id.trim();
        if id.is_empty()
            || id.len() > 200
            || id.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(crate::ApiError::invalid(
                "model_id",
                "is the provider's id for the model, without spaces",
            ));
        }
        let context_window = match self
            .context_window
            .trim()
            .replace(['_', ','], "")
            .parse::<u32>()
        {
            Ok(n) if (1..=10_000_000).contains(&n) => n,
            _ => {
                return Err(crate::ApiError::invalid(
                    "context_window",
                    "must be a number of tokens, such as 128000",
                ));
            }
        };
        let price =
            |field: &str, text: &str| match text.trim().trim_start_matches('$').parse::<f64>() {
                Ok(usd) if usd.is_finite() && (0.0..=10_000.0).contains(&usd) => Ok(usd),
                _ => Err(crate::ApiError::invalid(
                    field,
                    "must be US dollars per million tokens, such as 0.15 (0 for a free model)",
                )),
            };
        Ok(CustomModel {
            id: id.to_owned(),
            context_window,
            price_in: price("price_in", &self.price_in)?,
            price_out: price("price_out", &self.price_out)?,
            vision: self.vision,
        })
    }
}

/// A team's provider as shown: never its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiProvider {
    /// Id.
    pub id: crate::ids::AiProviderId,
    /// Name in chains.
    pub name: String,
    /// Kind.
    pub kind: ProviderKind,
    /// API root.
    pub base_url: String,
    /// When its key was set (RFC 3339); `None`: no key.
    pub key_set_at: Option<String>,
    /// Enabled models.
    pub models: Vec<String>,
    /// Models the team added that the catalog lacks.
    #[serde(default)]
    pub custom_models: Vec<CustomModel>,
    /// Out of credit since (RFC 3339).
    pub out_of_credit_since: Option<String>,
    /// Its key was refused since (RFC 3339).
    pub key_refused_since: Option<String>,
    /// Cooling down until (RFC 3339).
    pub cooling_until: Option<String>,
    /// The last failure, sanitised.
    pub last_error: Option<String>,
    /// USD spent through it this calendar month (UTC).
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    pub spent_this_month_usd: f64,
    /// Its own monthly limit, if any.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    pub monthly_budget_usd: Option<f64>,
}

impl AiProvider {
    /// "healthy", "out of credit since …", "key refused since …", "cooling down until …".
    pub fn state(&self) -> String {
        if let Some(since) = &self.out_of_credit_since {
            format!("out of credit since {}", minute(since))
        } else if let Some(since) = &self.key_refused_since {
            format!("key refused since {}", minute(since))
        } else if let Some(until) = &self.cooling_until {
            format!("cooling down until {}", minute(until))
        } else {
            "healthy".into()
        }
    }
}

/// An RFC 3339 time to the minute, as read: "2026-11-30 02:49 UTC".
fn minute(rfc3339: &str) -> String {
    let day_and_minute = rfc3339.get(..16).unwrap_or(rfc3339).replacen('T', " ", 1);
    match rfc3339.get(rfc3339.len().saturating_sub(6)..) {
        Some("+00:00") | Some("00:00Z") => format!("{day_and_minute} UTC"),
        _ if rfc3339.ends_with('Z') => format!("{day_and_minute} UTC"),
        Some(offset) => format!("{day_and_minute} {offset}"),
        None => day_and_minute,
    }
}

/// The team's AI settings: the default chain and the monthly budget.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AiSettings {
    /// `provider/model` names, in order.
    pub chain: Vec<String>,
    /// Whether a content-policy refusal moves on to the next model.
    pub fall_over_on_refusal: bool,
    /// USD a month; `None`: no limit.
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    pub monthly_budget_usd: Option<f64>,
    /// USD spent this calendar month (UTC).
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    pub spent_this_month_usd: f64,
    /// A workflow run whose worst case is above this (USD) starts only once confirmed; `None`: no
    /// confirmation asked.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    pub run_confirm_above_usd: Option<f64>,
}

/// The team's AI settings as the form sets them.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidAiSettings {
    /// `provider/model` names, in order.
    pub chain: Vec<String>,
    /// Whether a refusal falls over.
    pub fall_over_on_refusal: bool,
    /// USD a month; `None`: no limit.
    pub monthly_budget_usd: Option<f64>,
    /// USD a workflow run may reach without a confirmation; `None`: never asked.
    pub run_confirm_above_usd: Option<f64>,
}

/// What the settings form sends.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AiSettingsForm {
    /// `provider/model` names, one per line, in order.
    pub chain: String,
    /// Whether a refusal falls over.
    pub fall_over_on_refusal: bool,
    /// USD a month; empty for no limit.
    pub monthly_budget_usd: String,
    /// USD a workflow run may reach without a confirmation; empty: never asked.
    #[serde(default)]
    pub run_confirm_above_usd: String,
}

impl AiSettingsForm {
    /// Checks the fields: the chain's names (not whether they exist: the server does).
    pub fn parse(&self) -> Result<ValidAiSettings, crate::ApiError> {
        let chain: Vec<String> = self
            .chain
            .split([',', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if chain.len() > 10
            || chain.iter().any(|step| {
                step.split_once('/')
                    .is_none_or(|(p, m)| parse_provider_name(p).is_err() || m.is_empty())
            })
        {
            return Err(crate::ApiError::invalid(
                "chain",
                "list up to 10 provider/model names, one per line",
            ));
        }
        Ok(ValidAiSettings {
            chain,
            fall_over_on_refusal: self.fall_over_on_refusal,
            monthly_budget_usd: parse_budget("monthly_budget_usd", &self.monthly_budget_usd)?,
            run_confirm_above_usd: parse_budget(
                "run_confirm_above_usd",
                &self.run_confirm_above_usd,
            )?,
        })
    }
}

/// Where an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerStatus {
    /// Being answered.
    Running,
    /// Answered (with text: never empty).
    Answered,
    /// No model answered; `error` says why.
    Failed,
}

/// An answer about a note, with its failover trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteAnswer {
    /// Id.
    pub id: crate::ids::NoteAnswerId,
    /// The note.
    pub note_id: crate::ids::NoteId,
    /// What was asked.
    pub question: String,
    /// Where it is.
    pub status: AnswerStatus,
    /// The answer, once answered.
    pub answer: Option<String>,
    /// Who answered.
    pub provider: Option<String>,
    /// With which model.
    pub model: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Prompt tokens, all attempts.
    pub tokens_in: u32,
    /// Completion tokens, all attempts.
    pub tokens_out: u32,
    /// USD, all attempts.
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    pub cost_usd: f64,
    /// From asking to the answer, in milliseconds.
    pub duration_ms: Option<u32>,
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// The team's knowledge sent with the question, as numbered in the prompt.
    #[serde(default)]
    pub sources: Vec<crate::knowledge::CitedSource>,
    /// Who asked.
    pub asked_by: Option<String>,
    /// When, RFC 3339.
    pub created_at: String,
}

/// The longest question accepted, in characters.
pub const MAX_QUESTION_CHARS: usize = 4000;

/// A question about a note, trimmed, 1–4,000 characters.
pub fn parse_question(text: &str) -> Result<String, crate::ApiError> {
    let question = text.trim();
    if question.is_empty() || question.chars().count() > MAX_QUESTION_CHARS {
        return Err(crate::ApiError::invalid(
            "question",
            format!("must be 1–{MAX_QUESTION_CHARS} characters"),
        ));
    }
    Ok(question.to_owned())
}

/// A provider as people read it: its kind ("Anthropic") when its name is only that, else its name
/// with the kind ("local-slow (llama.cpp)").
pub fn provider_label(name: &str, kind_label: &str) -> String {
    let plain = |s: &str| {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase()
    };
    if plain(name) == plain(kind_label) {
        kind_label.to_owned()
    } else {
        format!("{name} ({kind_label})")
    }
}

/// The trail of an answer: "Anthropic: out of credit → local-slow (llama.cpp): answered".
pub fn trail(attempts: &[Attempt]) -> String {
    attempts
        .iter()
        .map(Attempt::said)
        .collect::<Vec<_>>()
        .join(" → ")
}

impl Attempt {
    /// How it ended, as the trail says it: "Anthropic: out of credit".
    pub fn said(&self) -> String {
        format!(
            "{}: {}",
            provider_label(&self.provider, self.provider_kind.label()),
            self.class.map_or("answered", FailureClass::label)
        )
    }
}

/// One of the instance's providers (`[llm]` in the server's configuration), as a team sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceProvider {
    /// Its name in the instance's chain.
    pub name: String,
    /// Its kind, as people read it.
    pub kind: String,
    /// The models the instance's chain asks of it.
    pub models: Vec<String>,
    /// "ready", or why it is not called now ("out of credit").
    pub state: String,
    /// Whether it is called now.
    pub ready: bool,
}

/// The instance's AI, as the AI page shows it to a team: read-only, and whether it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceAi {
    /// Its providers.
    pub providers: Vec<InstanceProvider>,
    /// Its chain, `provider/model`.
    pub chain: Vec<String>,
    /// What a team may spend on it a month, written out ("$5.00"); `None`: nothing (the
    /// instance's providers are kept to the instance).
    pub team_share: Option<String>,
    /// Whether this team's questions go to it: it has no provider of its own and a share.
    pub applies: bool,
}

/// A model about to be asked, as an answer being written tells its reader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trying {
    /// The provider's name in the chain.
    pub provider: String,
    /// Its kind, as people read it.
    pub kind: String,
    /// The model.
    pub model: String,
    /// How the attempt before ended ("Anthropic: out of credit"), if there was one.
    pub after: Option<String>,
}

impl Trying {
    /// "Trying Anthropic claude-sonnet-4-5…", "Anthropic: out of credit — trying local-slow
    /// (llama.cpp) qwen…".
    pub fn said(&self) -> String {
        let target = format!(
            "{} {}",
            provider_label(&self.provider, &self.kind),
            self.model
        );
        match &self.after {
            Some(after) => format!("{after} — trying {target}…"),
            None => format!("Trying {target}…"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_named_by_their_name_unless_it_is_only_their_kind() {
        assert_eq!(provider_label("anthropic", "Anthropic"), "Anthropic");
        assert_eq!(provider_label("open_ai", "OpenAI"), "OpenAI");
        assert_eq!(
            provider_label("local-slow", "llama.cpp"),
            "local-slow (llama.cpp)"
        );
        let trying = Trying {
            provider: "local-slow".into(),
            kind: "llama.cpp".into(),
            model: "qwen2.5".into(),
            after: Some("Anthropic: out of credit".into()),
        };
        assert_eq!(
            trying.said(),
            "Anthropic: out of credit — trying local-slow (llama.cpp) qwen2.5…"
        );
        let first = Trying {
            provider: "anthropic".into(),
            kind: "Anthropic".into(),
            model: "claude-sonnet-4-5".into(),
            after: None,
        };
        assert_eq!(first.said(), "Trying Anthropic claude-sonnet-4-5…");
    }

    #[test]
    fn forms_parse_on_both_sides_and_name_their_fields() {
        let form = AiProviderForm {
            name: " Local ".into(),
            kind: "llama_cpp".into(),
            base_url: String::new(),
            api_key: String::new(),
            models: "smollm2-135m, qwen2.5\n".into(),
            budget_usd: String::new(),
        };
        let valid = form.parse().unwrap();
        assert_eq!(valid.name, "local");
        assert_eq!(valid.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(valid.models, vec!["smollm2-135m", "qwen2.5"]);
        assert_eq!(valid.api_key, None);
        let mut secret = form.clone();
        secret.api_key = "sk-abc".into();
        assert!(!secret.parse().unwrap().to_string().contains("sk-abc"));
        let settings = AiSettingsForm {
            chain: "local/smollm2-135m\nopen_router/openai/gpt-4o-mini".into(),
            fall_over_on_refusal: true,
            monthly_budget_usd: "$12.5".into(),
            run_confirm_above_usd: "2".into(),
        };
        let valid = settings.parse().unwrap();
        assert_eq!(valid.chain.len(), 2);
        assert!(valid.fall_over_on_refusal);
        assert_eq!(valid.monthly_budget_usd, Some(12.5));
        assert_eq!(valid.run_confirm_above_usd, Some(2.0));
        for bad in ["-1", "lots", "NaN"] {
            let form = AiSettingsForm {
                monthly_budget_usd: bad.into(),
                ..AiSettingsForm::default()
            };
            assert!(form.parse().is_err(), "{bad}");
        }
        assert!(parse_question(" ").is_err());
        assert!(parse_question(&"x".repeat(4001)).is_err());
    }

    #[test]
    fn a_state_reads_to_the_minute() {
        let provider = AiProvider {
            id: crate::ids::AiProviderId::from_uuid(uuid::Uuid::nil()),
            name: "anthropic".into(),
            kind: ProviderKind::Anthropic,
            base_url: String::new(),
            key_set_at: None,
            models: Vec::new(),
            custom_models: Vec::new(),
            out_of_credit_since: Some("2026-11-30T02:49:19.502781+00:00".into()),
            key_refused_since: None,
            cooling_until: None,
            last_error: None,
            spent_this_month_usd: 0.0,
            monthly_budget_usd: None,
        };
        assert_eq!(provider.state(), "out of credit since 2026-11-30 02:49 UTC");
    }
}

/// A model as the picker offers it: `provider/model`, a label with its price per million tokens,
/// context window, vision and "fast", and whether it can be picked now. Labels are written on the
/// server, so the browser bundle carries no number formatting or float parsing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelOption {
    /// The provider's name, to group by.
    pub provider: String,
    /// `provider/model`.
    pub value: String,
    /// "gpt-4o-mini — $0.15 in / $0.60 out per 1M · 128k context · vision · fast".
    pub label: String,
    /// Greyed out (its provider is out of credit or cooling down).
    pub disabled: bool,
}

impl From<&ModelChoice> for ModelOption {
    fn from(m: &ModelChoice) -> Self {
        let mut label = format!(
            "{} — {} in / {} out per 1M · {} context",
            m.model,
            usd(m.price_in),
            usd(m.price_out),
            tokens(m.context_window)
        );
        if m.vision {
            label.push_str(" · vision");
        }
        if m.fast {
            label.push_str(" · fast");
        }
        if let Some(why) = &m.unavailable {
            label.push_str(&format!(" ({why})"));
        }
        Self {
            provider: m.provider.clone(),
            value: format!("{}/{}", m.provider, m.model),
            label,
            disabled: m.unavailable.is_some(),
        }
    }
}

/// A provider as its card shows it (written on the server; never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderShown {
    /// Id.
    pub id: crate::ids::AiProviderId,
    /// Name.
    pub name: String,
    /// Kind, as people call it.
    pub kind: String,
    /// API root.
    pub base_url: String,
    /// "Key set on … · Models: … · Spent this month: $…".
    pub details: String,
    /// "healthy", "out of credit since …".
    pub state: String,
    /// Whether it is healthy.
    pub healthy: bool,
    /// The last failure, when it is not healthy.
    pub last_error: Option<String>,
}

impl From<&AiProvider> for ProviderShown {
    fn from(p: &AiProvider) -> Self {
        let key = match &p.key_set_at {
            Some(at) => format!("Key set on {}", at.get(..10).unwrap_or(at)),
            None => "No key".to_owned(),
        };
        let state = p.state();
        Self {
            id: p.id,
            name: p.name.clone(),
            kind: p.kind.label().to_owned(),
            base_url: p.base_url.clone(),
            details: format!(
                "{key} · Models: {} · Spent this month: {}{}",
                p.models.join(", "),
                usd(p.spent_this_month_usd),
                p.monthly_budget_usd
                    .map(|limit| format!(" of {}", usd(limit)))
                    .unwrap_or_default()
            ),
            healthy: state == "healthy",
            last_error: p.last_error.clone().filter(|_| state != "healthy"),
            state,
        }
    }
}

/// An answer as the note shows it (written on the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerShown {
    /// The question.
    pub question: String,
    /// Where it is.
    pub status: AnswerStatus,
    /// The answer, or why there is none.
    pub text: String,
    /// "Anthropic: out of credit → Gemini: answered · 12 + 15 tokens · $0.000041 · 2.2 s".
    pub meta: String,
    /// The knowledge sent with the question, as the answer cites it.
    #[serde(default)]
    pub sources: Vec<crate::knowledge::CitedSource>,
    /// The answer's Markdown as sanitised HTML, its citations linked to their sources (rendered by
    /// the server; empty when the answer is not rendered, and then `text` is shown as it is).
    #[serde(default)]
    pub html: String,
}

impl From<&NoteAnswer> for AnswerShown {
    fn from(a: &NoteAnswer) -> Self {
        let mut meta = trail(&a.attempts);
        meta.push_str(&format!(
            " · {} + {} tokens · {}",
            a.tokens_in,
            a.tokens_out,
            usd(a.cost_usd)
        ));
        if let Some(ms) = a.duration_ms {
            meta.push_str(&format!(" · {:.1} s", f64::from(ms) / 1000.0));
        }
        Self {
            question: a.question.clone(),
            status: a.status,
            text: match a.status {
                AnswerStatus::Answered => a.answer.clone().unwrap_or_default(),
                AnswerStatus::Failed => {
                    format!("No answer: {}", a.error.clone().unwrap_or_default())
                }
                AnswerStatus::Running => "Being answered…".to_owned(),
            },
            meta,
            sources: a.sources.clone(),
            html: String::new(),
        }
    }
}

/// US dollars, to the cent, or to the millionth below a cent.
pub fn usd(amount: f64) -> String {
    let amount = amount.max(0.0);
    if amount == 0.0 || amount >= 0.01 {
        format!("${amount:.2}")
    } else {
        format!("${amount:.6}")
    }
}

/// A token count as people read it: 950, 128k, 1M.
pub fn tokens(n: u32) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{}k", n / 1000),
        _ => format!("{}M", n / 1_000_000),
    }
}
