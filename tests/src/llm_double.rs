//! A local OpenAI-compatible server that speaks as any provider: each provider is mounted under its
//! own prefix (`/anthropic/v1/chat/completions`), so one server plays a whole failover chain. Replies
//! are queued per provider; each request takes the next one (or a plain answer when none is queued).
//! Error replies carry each provider's real body and headers.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a provider answers next.
#[derive(Debug, Clone)]
pub enum Reply {
    /// An answer with this text (streamed word by word, at once, when asked to stream).
    Text(String),
    /// The same, streamed with this pause between words (to watch it arrive).
    SlowText(String, Duration),
    /// This JSON object as the answer's text (streamed like text when asked to stream).
    Json(Value),
    /// A non-2xx answer.
    Error {
        /// Status.
        status: u16,
        /// Body, verbatim.
        body: String,
        /// `retry-after`, seconds.
        retry_after: Option<u64>,
    },
    /// 200 with empty content and zero completion tokens.
    Empty,
    /// 200 with only reasoning content.
    ReasoningOnly,
    /// No answer for this long (then a plain one).
    Hang(Duration),
    /// This answer, whole, after this long (a model that takes its time).
    TextAfter(String, Duration),
    /// A stream that is cut before any token.
    StreamDiesBeforeFirstToken,
    /// A stream that sends these words, then is cut.
    StreamDiesAfter(String),
    /// 200 whose answer was stopped by the content filter.
    Refusal,
    /// A provider that never stops: streamed, this word again and again with this pause, until the
    /// client goes away; whole, one answer of this word this many times (a non-streamed answer
    /// past `max_tokens`).
    Endless(String, Duration),
    /// A whole answer holding this word this many times, claiming that many completion tokens.
    Huge(String, usize),
}

impl Reply {
    /// Anthropic's out-of-credit answer: a 400 `invalid_request_error`.
    pub fn anthropic_out_of_credit() -> Self {
        Self::error(
            400,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}"#,
        )
    }

    /// Anthropic's 402 `billing_error`.
    pub fn anthropic_billing() -> Self {
        Self::error(
            402,
            r#"{"type":"error","error":{"type":"billing_error","message":"There is an issue with your account's billing."}}"#,
        )
    }

    /// OpenAI's 429 `insufficient_quota`.
    pub fn openai_insufficient_quota() -> Self {
        Self::error(
            429,
            r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#,
        )
    }

    /// Gemini's 402 `RESOURCE_EXHAUSTED`, wrapped in an array as its compatible endpoint does.
    pub fn gemini_credits_depleted() -> Self {
        Self::error(
            402,
            r#"[{"error":{"code":402,"message":"Your prepayment credits are depleted. Please go to AI Studio at https://ai.studio/projects to manage your project and billing.","status":"RESOURCE_EXHAUSTED"}}]"#,
        )
    }

    /// OpenRouter's 402, with an integer code.
    pub fn openrouter_out_of_credit() -> Self {
        Self::error(
            402,
            r#"{"error":{"code":402,"message":"This request requires more credits, or fewer max_tokens. You requested up to 4096 tokens, but can only afford 12.","metadata":{}}}"#,
        )
    }

    /// A 401 for a wrong key (the key itself echoed, as OpenAI does).
    pub fn unauthorized(key: &str) -> Self {
        Self::error(
            401,
            &json!({"error": {"message": format!("Incorrect API key provided: {key}. You can find your API key at https://platform.openai.com/account/api-keys."), "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}).to_string(),
        )
    }

    /// A 429 rate limit, with or without `retry-after`.
    pub fn rate_limited(retry_after: Option<u64>) -> Self {
        Self::Error {
            status: 429,
            body: r#"{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#.into(),
            retry_after,
        }
    }

    /// A 500.
    pub fn server_error() -> Self {
        Self::error(
            500,
            r#"{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}"#,
        )
    }

    /// OpenAI's context-window 400.
    pub fn context_window() -> Self {
        Self::error(
            400,
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
        )
    }

    /// OpenAI's content-policy 400.
    pub fn content_policy() -> Self {
        Self::error(
            400,
            r#"{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","param":null,"code":"content_policy_violation"}}"#,
        )
    }

    /// Any other 400: the request is wrong.
    pub fn bad_request() -> Self {
        Self::error(
            400,
            r#"{"error":{"message":"Invalid value for 'max_tokens': must be a positive integer.","type":"invalid_request_error","param":"max_tokens","code":"invalid_value"}}"#,
        )
    }

    fn error(status: u16, body: &str) -> Self {
        Self::Error {
            status,
            body: body.into(),
            retry_after: None,
        }
    }
}

/// A request the double received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The provider prefix it came in under.
    pub provider: String,
    /// `chat` or `embeddings`.
    pub endpoint: &'static str,
    /// The request body.
    pub body: Value,
    /// Its `Authorization` header.
    pub authorization: Option<String>,
    /// When it arrived.
    pub at: Instant,
}

/// Answers a provider's request by what it asks (the request body), when nothing is queued.
type Responder = Arc<dyn Fn(&Value) -> Option<Reply> + Send + Sync>;

/// An input's vector.
type Embedder = Arc<dyn Fn(&str) -> Vec<f32> + Send + Sync>;

#[derive(Default)]
struct Shared {
    replies: Mutex<HashMap<String, VecDeque<Reply>>>,
    responders: Mutex<HashMap<String, Responder>>,
    embedders: Mutex<HashMap<String, Embedder>>,
    seen: Mutex<Vec<Seen>>,
}

/// The running server.
pub struct LlmDouble {
    server: crate::LocalServer,
    shared: Arc<Shared>,
}

impl LlmDouble {
    /// Starts it on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let router = Router::new()
            .route("/{provider}/v1/chat/completions", post(chat))
            .route("/{provider}/v1/embeddings", post(embeddings))
            .with_state(shared.clone());
        Self {
            server: crate::LocalServer::start(router, 0, "the LLM double").await,
            shared,
        }
    }

    /// A provider of the server's configuration (`[[llm.providers]]`) named `name`, of `kind`
    /// ("open_ai", "anthropic"), offering `model`, answered by this double.
    pub fn server_provider(
        &self,
        name: &str,
        kind: &str,
        model: &str,
    ) -> server::config::LlmProviderSettings {
        server::config::LlmProviderSettings {
            name: name.into(),
            kind: kind.into(),
            base_url: Some(self.base_url(name)),
            api_key_env: None,
            models: vec![model.into()],
        }
    }

    /// The API root for the provider `name` (…/v1).
    pub fn base_url(&self, name: &str) -> String {
        format!("http://{}/{name}/v1", self.server.address)
    }

    /// Queues what `provider` answers next.
    pub fn reply(&self, provider: &str, reply: Reply) {
        self.shared
            .replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(provider.to_owned())
            .or_default()
            .push_back(reply);
    }

    /// Answers `provider`'s chat requests by what they ask, whenever no reply is queued (`None`:
    /// the plain answer). For requests that arrive in no set order, such as a workflow's fan-out.
    pub fn respond_with(
        &self,
        provider: &str,
        responder: impl Fn(&Value) -> Option<Reply> + Send + Sync + 'static,
    ) {
        self.shared
            .responders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(provider.to_owned(), Arc::new(responder));
    }

    /// Embeds `provider`'s inputs with `embedder` (of any size) instead of the default small
    /// vectors.
    pub fn embed_with(
        &self,
        provider: &str,
        embedder: impl Fn(&str) -> Vec<f32> + Send + Sync + 'static,
    ) {
        self.shared
            .embedders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(provider.to_owned(), Arc::new(embedder));
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets the requests seen.
    pub fn clear(&self) {
        self.shared
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn take(shared: &Shared, provider: &str) -> Option<Reply> {
        shared
            .replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(provider)
            .and_then(VecDeque::pop_front)
    }
}

fn record(
    shared: &Shared,
    provider: &str,
    endpoint: &'static str,
    headers: &axum::http::HeaderMap,
    body: &Value,
) {
    shared
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Seen {
            provider: provider.to_owned(),
            endpoint,
            body: body.clone(),
            authorization: headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            at: Instant::now(),
        });
}

async fn chat(
    State(shared): State<Arc<Shared>>,
    Path(provider): Path<String>,
    headers: axum::http::HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    record(&shared, &provider, "chat", &headers, &body);
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let stream = body["stream"].as_bool().unwrap_or(false);
    let responder = shared
        .responders
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&provider)
        .cloned();
    let mut reply = LlmDouble::take(&shared, &provider)
        .or_else(|| responder.and_then(|respond| respond(&body)))
        .unwrap_or_else(|| Reply::Text(format!("Answer from {provider}.")));
    if let Reply::Hang(for_how_long) = reply {
        tokio::time::sleep(for_how_long).await;
        reply = Reply::Text(format!("Late answer from {provider}."));
    }
    if let Reply::TextAfter(text, pause) = reply {
        tokio::time::sleep(pause).await;
        reply = Reply::Text(text);
    }
    match reply {
        Reply::Error {
            status,
            body,
            retry_after,
        } => error_response(status, body, retry_after),
        Reply::Text(text) if stream => stream_words(&model, &text, false, Duration::ZERO),
        Reply::Json(value) if stream => {
            stream_words(&model, &value.to_string(), false, Duration::ZERO)
        }
        Reply::SlowText(text, pause) if stream => stream_words(&model, &text, false, pause),
        Reply::StreamDiesAfter(text) => stream_words(&model, &text, true, Duration::from_millis(5)),
        Reply::StreamDiesBeforeFirstToken => {
            let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
                Ok(sse(&chunk(
                    &model,
                    json!({"role": "assistant", "content": ""}),
                    None,
                ))),
                Err(std::io::Error::other("connection reset")),
            ];
            event_stream(Body::from_stream(futures_util::stream::iter(chunks)))
        }
        Reply::Empty if stream => {
            let chunks = vec![
                sse(&chunk(
                    &model,
                    json!({"role": "assistant", "content": ""}),
                    None,
                )),
                sse(&chunk(&model, json!({}), Some("stop"))),
                sse(
                    &json!({"id": "chatcmpl-double", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 0, "total_tokens": 12}}),
                ),
                bytes::Bytes::from_static(b"data: [DONE]\n\n"),
            ];
            event_stream(Body::from_stream(futures_util::stream::iter(
                chunks.into_iter().map(Ok::<_, std::io::Error>),
            )))
        }
        Reply::Text(text) | Reply::SlowText(text, _) => completion(
            &model,
            json!({"role": "assistant", "content": text}),
            "stop",
            words(&text),
        ),
        Reply::Json(value) => completion(
            &model,
            json!({"role": "assistant", "content": value.to_string()}),
            "stop",
            8,
        ),
        Reply::Empty => completion(
            &model,
            json!({"role": "assistant", "content": ""}),
            "stop",
            0,
        ),
        Reply::ReasoningOnly => completion(
            &model,
            json!({"role": "assistant", "content": null, "reasoning_content": "The user asks about the note. I should look at the images first…"}),
            "length",
            64,
        ),
        Reply::Refusal => completion(
            &model,
            json!({"role": "assistant", "content": null, "refusal": "I can't help with that request."}),
            "content_filter",
            0,
        ),
        Reply::Endless(word, pause) if stream => endless_words(&model, word, pause),
        Reply::Endless(word, _) => completion(
            &model,
            json!({"role": "assistant", "content": word.repeat(100_000)}),
            "length",
            100_000,
        ),
        Reply::Huge(word, times) => completion(
            &model,
            json!({"role": "assistant", "content": word.repeat(times)}),
            "stop",
            u32::try_from(times).unwrap_or(u32::MAX),
        ),
        Reply::Hang(_) | Reply::TextAfter(..) => unreachable!("answered above"),
    }
}

/// `word` again and again, `pause` apart, for as long as the client reads.
fn endless_words(model: &str, word: String, pause: Duration) -> Response {
    let model = model.to_owned();
    let stream = async_stream(move |sender| async move {
        loop {
            if sender
                .send(Ok(sse(&chunk(&model, json!({"content": word}), None))))
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(pause).await;
        }
    });
    event_stream(Body::from_stream(stream))
}

/// A provider's error: its status and body as given, with `retry-after` when set.
fn error_response(status: u16, body: String, retry_after: Option<u64>) -> Response {
    let mut response = (
        StatusCode::from_u16(status).expect("a status code"),
        [("content-type", "application/json")],
        body,
    )
        .into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(secs));
    }
    response
        .headers_mut()
        .insert("x-request-id", HeaderValue::from_static("req_double"));
    response
}

fn words(text: &str) -> u32 {
    u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
}

fn completion(model: &str, message: Value, finish: &str, completion_tokens: u32) -> Response {
    let mut response = axum::Json(json!({
        "id": "chatcmpl-double",
        "object": "chat.completion",
        "created": 1_764_460_800,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
        "usage": {"prompt_tokens": 12, "completion_tokens": completion_tokens, "total_tokens": 12 + completion_tokens}
    }))
    .into_response();
    response
        .headers_mut()
        .insert("x-request-id", HeaderValue::from_static("req_double"));
    response
}

fn chunk(model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-double",
        "object": "chat.completion.chunk",
        "created": 1_764_460_800,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    })
}

fn sse(value: &Value) -> bytes::Bytes {
    bytes::Bytes::from(format!("data: {value}\n\n"))
}

fn event_stream(body: Body) -> Response {
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(body)
        .expect("an event stream")
}

/// The answer word by word, a few milliseconds apart, then usage and `[DONE]` — or a cut
/// connection after the words when `die` is set.
fn stream_words(model: &str, text: &str, die: bool, pause: Duration) -> Response {
    let model = model.to_owned();
    let pieces: Vec<String> = text.split_inclusive(' ').map(str::to_owned).collect();
    let count = words(text);
    let stream = async_stream(move |sender| async move {
        let _ = sender
            .send(Ok(sse(&chunk(
                &model,
                json!({"role": "assistant", "content": ""}),
                None,
            ))))
            .await;
        for piece in pieces {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            let _ = sender
                .send(Ok(sse(&chunk(&model, json!({"content": piece}), None))))
                .await;
        }
        if die {
            // Let the words reach the client before the connection is cut.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = sender
                .send(Err(std::io::Error::other("connection reset")))
                .await;
            return;
        }
        let _ = sender
            .send(Ok(sse(&chunk(&model, json!({}), Some("stop")))))
            .await;
        let _ = sender
            .send(Ok(sse(&json!({"id": "chatcmpl-double", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": count, "total_tokens": 12 + count}}))))
            .await;
        let _ = sender
            .send(Ok(bytes::Bytes::from_static(b"data: [DONE]\n\n")))
            .await;
    });
    event_stream(Body::from_stream(stream))
}

/// A stream fed by a task through a channel.
fn async_stream<F, Fut>(
    produce: F,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    tokio::spawn(produce(sender));
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

async fn embeddings(
    State(shared): State<Arc<Shared>>,
    Path(provider): Path<String>,
    headers: axum::http::HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    record(&shared, &provider, "embeddings", &headers, &body);
    match LlmDouble::take(&shared, &provider) {
        Some(Reply::Error {
            status,
            body,
            retry_after,
        }) => return error_response(status, body, retry_after),
        Some(Reply::Hang(for_how_long)) => tokio::time::sleep(for_how_long).await,
        _ => {}
    }
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_owned())
            .collect(),
        _ => Vec::new(),
    };
    // A small deterministic vector per input: its first bytes; 16 of them for a model whose name
    // ends in `-16` (a model of another size), else 8.
    let size = if body["model"].as_str().is_some_and(|m| m.ends_with("-16")) {
        16
    } else {
        8
    };
    let embedder = shared
        .embedders
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&provider)
        .cloned();
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let bytes = input.as_bytes();
            let vector: Vec<f32> = match &embedder {
                Some(embed) => embed(input),
                None => (0..size)
                    .map(|i| f32::from(bytes.get(i).copied().unwrap_or(0)) / 255.0)
                    .collect(),
            };
            json!({"object": "embedding", "index": index, "embedding": vector})
        })
        .collect();
    let tokens: usize = inputs.iter().map(|i| i.split_whitespace().count()).sum();
    axum::Json(json!({
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
    }))
    .into_response()
}
