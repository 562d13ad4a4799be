//! What a provider's answer means for the chain, read from the HTTP status **and** the body: the
//! providers disagree on both (Anthropic says "out of credit" with a 400, OpenAI with a 429 whose
//! code is `insufficient_quota`, Gemini with a 402 in an array-wrapped body, OpenRouter with a 402
//! whose `code` is a number).

use api::ai::FailureClass;
use serde_json::Value;
use std::time::Duration;

/// A provider's non-2xx answer, as it came: kept whole by the transport, because the client library
/// loses the status of bodies that are not OpenAI's shape.
#[derive(Debug, Clone)]
pub struct HttpFailure {
    /// The status.
    pub status: u16,
    /// `Retry-After` (seconds, or an HTTP date already passed: zero).
    pub retry_after: Option<Duration>,
    /// The body, cut at 64 KiB.
    pub body: String,
}

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&said(self.status, &self.body))
    }
}

impl std::error::Error for HttpFailure {}

/// The fields of an error body that say what happened, whichever shape it came in.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ErrorFields {
    /// `error.type` (OpenAI, Anthropic).
    pub kind: String,
    /// `error.code` as text (a string for OpenAI, a number for OpenRouter).
    pub code: String,
    /// `error.status` (Gemini: `RESOURCE_EXHAUSTED`).
    pub status: String,
    /// `error.message` (or `error` itself when it is text, as Ollama sends it).
    pub message: String,
}

/// What a failed answer is shown as: its status, and the provider's error message when the body
/// is a provider's error. Never the body itself: the address may be anyone's server, and its
/// body (an HTML page, another service's answer) is none of the team's business.
pub fn said(status: u16, body: &str) -> String {
    match sanitize(&error_fields(body).message) {
        message if message.is_empty() => {
            format!("HTTP {status}, without a provider's error message")
        }
        message => format!("HTTP {status}: {message}"),
    }
}

/// The fields of an error body in a shape providers use — `{"error": {...}}`, Gemini's
/// `[{"error": {...}}]`, Ollama's `{"error": "..."}` — and nothing of any other body.
pub(crate) fn error_fields(body: &str) -> ErrorFields {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return ErrorFields::default();
    };
    // Gemini's compatible endpoint has wrapped its error in an array.
    let value = match value {
        Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
        other => other,
    };
    let Some(error) = value.get("error") else {
        return ErrorFields::default();
    };
    let text = |key: &str| match error.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    ErrorFields {
        kind: text("type"),
        code: text("code"),
        status: text("status"),
        message: match error {
            Value::String(s) => s.clone(),
            _ => text("message"),
        },
    }
}

/// The class of a non-2xx answer.
pub fn classify(status: u16, body: &str) -> FailureClass {
    let fields = error_fields(body);
    let message = fields.message.to_lowercase();
    let names = format!("{} {} {}", fields.kind, fields.code, fields.status).to_lowercase();
    let out_of_credit = names.contains("insufficient_quota")
        || names.contains("billing")
        || message.contains("credit balance")
        || message.contains("prepayment credits")
        || message.contains("insufficient credits")
        || message.contains("out of credits");
    if status == 402 || out_of_credit {
        return FailureClass::OutOfCredit;
    }
    match status {
        401 | 403 => FailureClass::Auth,
        408 => FailureClass::Timeout,
        429 => FailureClass::RateLimited,
        500..=599 => FailureClass::ServerError,
        _ if context_window(&names, &message) => FailureClass::ContextWindow,
        _ if content_policy(&names, &message) => FailureClass::ContentPolicy,
        _ => FailureClass::BadRequest,
    }
}

fn context_window(names: &str, message: &str) -> bool {
    names.contains("context_length_exceeded")
        || [
            "context length",
            "context window",
            "context_length",
            "prompt is too long",
            "maximum number of tokens",
            "input token count",
            "too many tokens",
        ]
        .iter()
        .any(|phrase| message.contains(phrase))
}

fn content_policy(names: &str, message: &str) -> bool {
    names.contains("content_policy")
        || names.contains("content_filter")
        || names.contains("safety")
        || message.contains("content policy")
        || message.contains("content management policy")
        || message.contains("safety system")
}

/// What an error says, fit to store and show: one line, at most 300 characters, with anything
/// shaped like a key masked.
pub fn sanitize(message: &str) -> String {
    let line: String = message
        .split_whitespace()
        .map(|word| {
            let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
            let keyish = bare.len() >= 20
                && (bare.starts_with("sk-")
                    || bare.starts_with("sk_")
                    || bare.starts_with("AIza")
                    || bare.starts_with("key-")
                    || bare.chars().filter(char::is_ascii_digit).count() >= 6
                        && bare.chars().filter(char::is_ascii_alphabetic).count() >= 6);
            if keyish { "[redacted]" } else { word }
        })
        .collect::<Vec<_>>()
        .join(" ");
    if line.chars().count() > 300 {
        let cut: String = line.chars().take(299).collect();
        format!("{cut}…")
    } else {
        line
    }
}

/// A 200's text and token counts, or why it is not an answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Completion {
    pub text: String,
    pub tokens_in: u32,
    pub tokens_out: u32,
}

/// Reads a non-streamed chat completion: its text, or the class that makes it a failure (a
/// refusal, or nothing usable: no content, whitespace, only reasoning, zero completion tokens).
pub(crate) fn read_completion(value: &Value) -> Result<Completion, (FailureClass, String)> {
    let (tokens_in, tokens_out) = usage(value);
    let choice = value.pointer("/choices/0");
    let message = choice.and_then(|c| c.get("message"));
    let finish = choice
        .and_then(|c| c.get("finish_reason"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(refusal) = message
        .and_then(|m| m.get("refusal"))
        .and_then(Value::as_str)
        .filter(|r| !r.trim().is_empty())
    {
        return Err((FailureClass::ContentPolicy, sanitize(refusal)));
    }
    let text = message.map(content_text).unwrap_or_default();
    if finish == "content_filter" && text.trim().is_empty() {
        return Err((
            FailureClass::ContentPolicy,
            "the provider's content filter stopped the answer".into(),
        ));
    }
    let completion = Completion {
        text,
        tokens_in,
        tokens_out: tokens_out.unwrap_or(0),
    };
    check_not_empty(&completion, tokens_out, has_reasoning(message))?;
    Ok(completion)
}

/// Empty output is a failure, never an answer.
pub(crate) fn check_not_empty(
    completion: &Completion,
    reported_tokens_out: Option<u32>,
    reasoning_only: bool,
) -> Result<(), (FailureClass, String)> {
    let why = if completion.text.trim().is_empty() {
        Some(if reasoning_only {
            "the answer held only reasoning, no text"
        } else if completion.text.is_empty() {
            "the answer held no text"
        } else {
            "the answer was only whitespace"
        })
    } else if reported_tokens_out == Some(0) {
        Some("the provider counted zero completion tokens")
    } else {
        None
    };
    match why {
        Some(why) => Err((FailureClass::EmptyOutput, why.into())),
        None => Ok(()),
    }
}

/// A message's text: a string, or the text parts of an array.
pub(crate) fn content_text(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// Whether a message (or a stream delta) carries reasoning, under either name providers use.
pub(crate) fn has_reasoning(message: Option<&Value>) -> bool {
    message.is_some_and(|m| {
        ["reasoning_content", "reasoning"].iter().any(|key| {
            m.get(*key)
                .and_then(Value::as_str)
                .is_some_and(|r| !r.trim().is_empty())
        })
    })
}

/// `usage`: prompt tokens, and completion tokens if reported.
pub(crate) fn usage(value: &Value) -> (u32, Option<u32>) {
    let usage = value.get("usage");
    let count = |key: &str| {
        usage
            .and_then(|u| u.get(key))
            .and_then(Value::as_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    (
        count("prompt_tokens").unwrap_or(0),
        count("completion_tokens"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureClass::*;

    #[test]
    fn each_providers_out_of_credit_answer_is_out_of_credit() {
        let anthropic_400 = r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}"#;
        let anthropic_402 = r#"{"type":"error","error":{"type":"billing_error","message":"Your account has a billing issue."}}"#;
        let openai_429 = r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        let gemini_402 = r#"[{"error":{"code":402,"message":"Your prepayment credits are depleted. Please go to AI Studio to manage your project and billing.","status":"RESOURCE_EXHAUSTED"}}]"#;
        let openrouter_402 = r#"{"error":{"code":402,"message":"Insufficient credits. Add more using https://openrouter.ai/settings/credits"}}"#;
        assert_eq!(classify(400, anthropic_400), OutOfCredit);
        assert_eq!(classify(402, anthropic_402), OutOfCredit);
        assert_eq!(classify(429, openai_429), OutOfCredit);
        assert_eq!(classify(402, gemini_402), OutOfCredit);
        assert_eq!(classify(402, openrouter_402), OutOfCredit);
    }

    #[test]
    fn rate_limits_auth_server_errors_and_our_own_mistakes_are_told_apart() {
        let openai_rate = r#"{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#;
        let gemini_rate = r#"[{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}}]"#;
        assert_eq!(classify(429, openai_rate), RateLimited);
        assert_eq!(classify(429, gemini_rate), RateLimited);
        assert_eq!(
            classify(
                401,
                r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#
            ),
            Auth
        );
        assert_eq!(classify(403, "Forbidden"), Auth);
        assert_eq!(classify(500, "upstream exploded"), ServerError);
        assert_eq!(classify(404, "<html>Not Found</html>"), BadRequest);
        assert_eq!(
            classify(
                529,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            ServerError
        );
        assert_eq!(
            classify(
                400,
                r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#
            ),
            ContextWindow
        );
        assert_eq!(
            classify(
                400,
                r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#
            ),
            ContextWindow
        );
        assert_eq!(
            classify(
                400,
                r#"{"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","code":"content_policy_violation"}}"#
            ),
            ContentPolicy
        );
        assert_eq!(
            classify(
                400,
                r#"{"error":{"message":"Unrecognized request argument supplied: foo","type":"invalid_request_error"}}"#
            ),
            BadRequest
        );
    }

    #[test]
    fn empty_reasoning_only_and_zero_token_answers_are_not_answers() {
        let answer = |message: Value, usage: Value| serde_json::json!({"choices": [{"message": message, "finish_reason": "stop"}], "usage": usage});
        let ok = answer(
            serde_json::json!({"role": "assistant", "content": "Hello"}),
            serde_json::json!({"prompt_tokens": 5, "completion_tokens": 1}),
        );
        assert_eq!(read_completion(&ok).unwrap().text, "Hello");
        for (message, usage) in [
            (
                serde_json::json!({"role": "assistant", "content": ""}),
                serde_json::json!({"prompt_tokens": 5, "completion_tokens": 0}),
            ),
            (
                serde_json::json!({"role": "assistant", "content": null}),
                serde_json::json!({}),
            ),
            (
                serde_json::json!({"role": "assistant", "content": " \n\t"}),
                serde_json::json!({"prompt_tokens": 5, "completion_tokens": 3}),
            ),
            (
                serde_json::json!({"role": "assistant", "content": "", "reasoning_content": "Let me think…"}),
                serde_json::json!({"prompt_tokens": 5, "completion_tokens": 40}),
            ),
            (
                serde_json::json!({"role": "assistant", "content": "Hi"}),
                serde_json::json!({"prompt_tokens": 5, "completion_tokens": 0}),
            ),
        ] {
            let got = read_completion(&answer(message.clone(), usage));
            assert!(matches!(got, Err((EmptyOutput, _))), "{message}: {got:?}");
        }
        let refusal = answer(
            serde_json::json!({"role": "assistant", "content": null, "refusal": "I can't help with that."}),
            serde_json::json!({}),
        );
        assert!(matches!(read_completion(&refusal), Err((ContentPolicy, _))));
    }

    #[test]
    fn only_a_providers_error_message_is_shown_never_another_body() {
        assert_eq!(
            said(
                401,
                r#"{"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}}"#
            ),
            "HTTP 401: Incorrect API key provided"
        );
        assert_eq!(
            said(404, r#"{"error":"model 'llama9' not found"}"#),
            "HTTP 404: model 'llama9' not found"
        );
        assert_eq!(
            said(
                400,
                r#"[{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}]"#
            ),
            "HTTP 400: API key not valid."
        );
        for body in [
            "<html><title>Jenkins</title>admin console</html>",
            r#"{"message":"internal service secret","user":"root"}"#,
            r#"{"Code":"AccessDenied","instance-id":"i-0abc"}"#,
            "",
        ] {
            assert_eq!(
                said(404, body),
                "HTTP 404, without a provider's error message",
                "{body}"
            );
        }
    }

    #[test]
    fn errors_are_cut_short_and_keys_masked() {
        let said = sanitize(
            "Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwxyz123456. You can find your key at…",
        );
        assert!(!said.contains("sk-proj"), "{said}");
        assert!(said.contains("[redacted]"), "{said}");
        assert!(sanitize(&"word ".repeat(200)).chars().count() <= 300);
    }
}
