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
    /// Not sent: the provider is cooling down.
    CoolingDown,
    /// Not sent: its worst case would exceed the budget.
    OverBudget,
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
            Self::CoolingDown => "cooling_down",
            Self::OverBudget => "over_budget",
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
            Self::CoolingDown,
            Self::OverBudget,
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
            Self::CoolingDown => "cooling down",
            Self::OverBudget => "over budget",
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
    pub price_in: f64,
    /// USD per million completion tokens.
    pub price_out: f64,
    /// Reads images.
    pub vision: bool,
    /// Quick and cheap.
    pub fast: bool,
    /// Why it cannot be picked now (its provider is cooling down, out of credit).
    pub unavailable: Option<String>,
}
