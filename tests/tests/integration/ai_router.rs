//! The AI router against a local OpenAI-compatible server speaking as each provider: the incident
//! replayed, every failure class with what the chain does about it (and that no pause is taken
//! where none is due), streaming before and after the first token, embeddings, budgets, and keys
//! that never come back out.

use api::ai::FailureClass::{self, *};
use llm::{
    Budget, Catalog, Chain, ChatRequest, EmbedFor, ImageInput, Preview, ProviderConfig, Router,
    RouterSettings,
};
use secrecy::SecretString;
use std::time::{Duration, Instant};
use tests::llm_double::{LlmDouble, Reply};

const KEY: &str = "sk-test-0123456789abcdefghijklmnopqrstuv";

/// A router over three providers of the double, quick to give up so tests stay short.
fn router(double: &LlmDouble, settings: RouterSettings) -> Router {
    use api::ai::ProviderKind;
    let provider = |name: &str, kind| ProviderConfig {
        name: name.into(),
        kind,
        base_url: double.base_url(name),
        api_key: Some(SecretString::from(KEY)),
    };
    Router::new(
        vec![
            provider("anthropic", ProviderKind::Anthropic),
            provider("openai", ProviderKind::OpenAi),
            provider("gemini", ProviderKind::Gemini),
        ],
        Catalog::builtin(),
        settings,
    )
    .unwrap()
}

fn quick() -> RouterSettings {
    RouterSettings {
        request_timeout: Duration::from_millis(800),
        first_token_timeout: Duration::from_millis(800),
        connect_timeout: Duration::from_secs(2),
        max_retries: 2,
        base_pause: Duration::from_millis(50),
        max_pause: Duration::from_secs(2),
        call_deadline: Duration::from_secs(60),
    }
}

fn chain() -> Chain {
    Chain::parse([
        "anthropic/claude-sonnet-4-20250514",
        "openai/gpt-4o-mini",
        "gemini/gemini-2.5-flash",
    ])
    .unwrap()
}

fn ask(question: &str) -> ChatRequest {
    ChatRequest {
        system: Some("Answer about the note.".into()),
        user: question.into(),
        max_tokens: 200,
        ..ChatRequest::default()
    }
}

fn classes(attempts: &[api::ai::Attempt]) -> Vec<(String, Option<FailureClass>)> {
    attempts
        .iter()
        .map(|a| (a.provider.clone(), a.class))
        .collect()
}

#[tokio::test]
async fn the_incident_out_of_credit_then_empty_then_an_answer_is_stored_with_three_attempts() {
    let double = LlmDouble::start().await;
    double.reply("anthropic", Reply::anthropic_out_of_credit());
    double.reply("openai", Reply::Empty);
    double.reply(
        "gemini",
        Reply::Text("Deploy with the blue-green script.".into()),
    );
    let router = router(&double, RouterSettings::default());

    let started = Instant::now();
    let answer = router
        .chat(&chain(), &ask("How do we deploy?"), None, None)
        .await
        .unwrap();
    assert_eq!(answer.text, "Deploy with the blue-green script.");
    assert_eq!(answer.provider, "gemini");
    assert_eq!(
        classes(&answer.attempts),
        vec![
            ("anthropic".into(), Some(OutOfCredit)),
            ("openai".into(), Some(EmptyOutput)),
            ("gemini".into(), None)
        ]
    );
    let credit = &answer.attempts[0];
    assert_eq!(credit.status, Some(400));
    assert!(
        credit
            .error
            .as_deref()
            .unwrap()
            .contains("credit balance is too low"),
        "{credit:?}"
    );
    assert_eq!(answer.attempts[1].status, Some(200));
    let answered = &answer.attempts[2];
    assert_eq!((answered.tokens_in, answered.tokens_out), (12, 5));
    // Gemini 2.5 Flash: $0.30 in, $2.50 out per million.
    assert!((answered.cost_usd - (12.0 * 0.30 + 5.0 * 2.50) / 1e6).abs() < 1e-12);
    assert_eq!(
        llm::trail(&answer.attempts),
        "Anthropic: out of credit → OpenAI: empty → Gemini: answered"
    );
    // No pause anywhere: credit and empty answers move on at once (the default settings would
    // have paused half a second before any retry).
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );

    // Anthropic stays out of the next call, without a request, until a probe succeeds.
    assert!(router.health("anthropic").out_of_credit_since.is_some());
    double.clear();
    let next = router
        .chat(&chain(), &ask("And rollback?"), None, None)
        .await
        .unwrap();
    assert_eq!(
        classes(&next.attempts),
        vec![
            ("anthropic".into(), Some(CoolingDown)),
            ("openai".into(), None)
        ]
    );
    assert!(double.seen().iter().all(|s| s.provider != "anthropic"));
    let probe = router
        .probe("anthropic", "claude-sonnet-4-20250514")
        .await
        .unwrap();
    assert_eq!(probe.class, None);
    assert_eq!(router.health("anthropic"), llm::Health::default());
}

#[tokio::test]
async fn every_providers_out_of_credit_and_auth_answer_moves_on_at_once() {
    for (reply, status) in [
        (Reply::anthropic_out_of_credit(), 400),
        (Reply::anthropic_billing(), 402),
        (Reply::openai_insufficient_quota(), 429),
        (Reply::gemini_credits_depleted(), 402),
        (Reply::openrouter_out_of_credit(), 402),
        (Reply::unauthorized(KEY), 401),
    ] {
        let double = LlmDouble::start().await;
        double.reply("anthropic", reply.clone());
        // Settings that would pause a whole second before any retry.
        let router = router(
            &double,
            RouterSettings {
                base_pause: Duration::from_secs(1),
                ..quick()
            },
        );
        let started = Instant::now();
        let answer = router.chat(&chain(), &ask("Hi"), None, None).await.unwrap();
        let first = &answer.attempts[0];
        let expected = if status == 401 { Auth } else { OutOfCredit };
        assert_eq!(
            (first.class, first.status),
            (Some(expected), Some(status)),
            "{reply:?}"
        );
        assert_eq!(answer.provider, "openai", "{reply:?}");
        assert_eq!(
            double
                .seen()
                .iter()
                .filter(|s| s.provider == "anthropic")
                .count(),
            1,
            "no retry of {reply:?}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{reply:?} paused"
        );
        // The key never comes back out: not in the error, not in the health.
        assert!(!format!("{:?}", answer.attempts).contains(KEY));
        assert!(!format!("{:?}", router.health("anthropic")).contains(KEY));
        assert!(
            router
                .health("anthropic")
                .unavailable(std::time::SystemTime::now())
                .is_some(),
            "{reply:?}"
        );
    }
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_on_the_same_model_then_the_chain_moves_on() {
    let double = LlmDouble::start().await;
    // 429 with Retry-After: 1 s is honoured, then it answers.
    double.reply("anthropic", Reply::rate_limited(Some(1)));
    let router = router(&double, quick());
    let started = Instant::now();
    let answer = router.chat(&chain(), &ask("Hi"), None, None).await.unwrap();
    assert_eq!(
        classes(&answer.attempts),
        vec![
            ("anthropic".into(), Some(RateLimited)),
            ("anthropic".into(), None)
        ]
    );
    let seen = double.seen();
    let waited = seen[1].at - seen[0].at;
    assert!(waited >= Duration::from_millis(1000), "{waited:?}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // 429 without Retry-After: the doubling pause (50 ms).
    double.clear();
    double.reply("anthropic", Reply::rate_limited(None));
    let answer = router.chat(&chain(), &ask("Hi"), None, None).await.unwrap();
    assert_eq!(answer.provider, "anthropic");
    let seen = double.seen();
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(50) && waited < Duration::from_millis(800),
        "{waited:?}"
    );

    // A Retry-After longer than the router waits: no wait, the next provider, and a cooldown.
    double.clear();
    double.reply("anthropic", Reply::rate_limited(Some(3600)));
    let started = Instant::now();
    let answer = router.chat(&chain(), &ask("Hi"), None, None).await.unwrap();
    assert_eq!(answer.provider, "openai");
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(router.health("anthropic").cooling_until.is_some());
    router.set_health("anthropic", llm::Health::default());

    // 500 three times: two retries, then the next model.
    double.clear();
    for _ in 0..3 {
        double.reply("anthropic", Reply::server_error());
    }
    let answer = router.chat(&chain(), &ask("Hi"), None, None).await.unwrap();
    assert_eq!(
        classes(&answer.attempts),
        vec![
            ("anthropic".into(), Some(ServerError)),
            ("anthropic".into(), Some(ServerError)),
            ("anthropic".into(), Some(ServerError)),
            ("openai".into(), None)
        ]
    );
    assert!(
        answer
            .attempts
            .iter()
            .take(3)
            .all(|a| a.status == Some(500))
    );
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_retried_then_the_chain_moves_on() {
    let double = LlmDouble::start().await;
    for _ in 0..3 {
        double.reply("anthropic", Reply::Hang(Duration::from_secs(5)));
    }
    let router = router(&double, quick());
    let started = Instant::now();
    let answer = router.chat(&chain(), &ask("Hi"), None, None).await.unwrap();
    assert_eq!(answer.provider, "openai");
    assert_eq!(
        answer
            .attempts
            .iter()
            .filter(|a| a.class == Some(Timeout))
            .count(),
        3
    );
    // Three timeouts of 0.8 s and pauses of 50 + 100 ms.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(2400) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[tokio::test]
async fn refusals_and_bad_requests_fail_the_call_and_a_context_window_looks_for_a_larger_one() {
    let double = LlmDouble::start().await;
    let router = router(&double, quick());

    // A content-policy refusal is not routed around.
    double.reply("anthropic", Reply::content_policy());
    let failed = router
        .chat(&chain(), &ask("Hi"), None, None)
        .await
        .unwrap_err();
    assert_eq!(failed.class, Some(ContentPolicy));
    assert!(failed.reason.contains("safety system"), "{}", failed.reason);
    assert_eq!(failed.attempts.len(), 1);
    assert!(double.seen().iter().all(|s| s.provider == "anthropic"));
    // A 200 refusal likewise.
    double.reply("anthropic", Reply::Refusal);
    let failed = router
        .chat(&chain(), &ask("Hi"), None, None)
        .await
        .unwrap_err();
    assert_eq!(failed.class, Some(ContentPolicy));
    // Unless the chain says to fall over.
    double.reply("anthropic", Reply::content_policy());
    let mut falls_over = chain();
    falls_over.fall_over_on_refusal = true;
    let answer = router
        .chat(&falls_over, &ask("Hi"), None, None)
        .await
        .unwrap();
    assert_eq!(answer.provider, "openai");

    // Any other 400 is our request that is wrong: the call fails, nothing else is asked.
    double.clear();
    double.reply("anthropic", Reply::bad_request());
    let failed = router
        .chat(&chain(), &ask("Hi"), None, None)
        .await
        .unwrap_err();
    assert_eq!(failed.class, Some(BadRequest));
    assert_eq!(double.seen().len(), 1);

    // Context window: models with a window no larger are skipped (gpt-4o-mini's 128k is smaller
    // than Claude's 200k), the larger one (Gemini's 1M) is asked.
    double.clear();
    double.reply("anthropic", Reply::context_window());
    let answer = router.chat(&chain(), &ask("Hi"), None, None).await.unwrap();
    assert_eq!(
        classes(&answer.attempts),
        vec![
            ("anthropic".into(), Some(ContextWindow)),
            ("gemini".into(), None)
        ]
    );
}

#[tokio::test]
async fn reasoning_only_and_invalid_output_are_failed_attempts_never_answers() {
    let double = LlmDouble::start().await;
    let router = router(&double, quick());
    double.reply("anthropic", Reply::ReasoningOnly);
    double.reply(
        "openai",
        Reply::Json(serde_json::json!({"steps": "not a list"})),
    );
    double.reply(
        "gemini",
        Reply::Text(r#"{"steps": ["write the test", "fix it"]}"#.into()),
    );
    let wants_steps = |text: &str| -> Result<(), String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        match value["steps"].as_array() {
            Some(steps) if !steps.is_empty() => Ok(()),
            _ => Err("`steps` must be a non-empty list".into()),
        }
    };
    let answer = router
        .chat(&chain(), &ask("Plan it"), Some(&wants_steps), None)
        .await
        .unwrap();
    assert_eq!(
        classes(&answer.attempts),
        vec![
            ("anthropic".into(), Some(EmptyOutput)),
            ("openai".into(), Some(InvalidOutput)),
            ("gemini".into(), None)
        ]
    );
    assert!(
        answer.attempts[1]
            .error
            .as_deref()
            .unwrap()
            .contains("non-empty list")
    );

    // Every model empty: the call fails; nothing empty is handed back as an answer.
    for provider in ["anthropic", "openai", "gemini"] {
        double.reply(provider, Reply::Empty);
    }
    let failed = router
        .chat(&chain(), &ask("Hi"), None, None)
        .await
        .unwrap_err();
    assert_eq!(failed.class, Some(EmptyOutput));
    assert_eq!(failed.attempts.len(), 3);
    assert!(
        failed
            .reason
            .contains("Anthropic: empty → OpenAI: empty → Gemini: empty"),
        "{}",
        failed.reason
    );
}

#[tokio::test]
async fn a_stream_falls_over_before_its_first_token_and_fails_after_it_without_repeating_text() {
    let double = LlmDouble::start().await;
    let router = router(&double, quick());

    // Before the first token: the next provider streams the answer, shown once.
    double.reply("anthropic", Reply::StreamDiesBeforeFirstToken);
    double.reply("anthropic", Reply::StreamDiesBeforeFirstToken);
    double.reply("anthropic", Reply::StreamDiesBeforeFirstToken);
    double.reply("openai", Reply::Empty);
    double.reply("gemini", Reply::Text("Use the blue-green script.".into()));
    let mut shown = String::new();
    let mut tried = Vec::new();
    let answer = router
        .chat_stream(
            &chain(),
            &ask("How?"),
            None,
            &mut |heard| match heard {
                Preview::Text(piece) => shown.push_str(piece),
                Preview::Attempt {
                    provider, after, ..
                } => tried.push((provider.to_owned(), after.and_then(|a| a.class))),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(shown, "Use the blue-green script.");
    // Each attempt was announced, with how the one before it ended.
    let heard: Vec<_> = answer.attempts.iter().map(|a| a.provider.clone()).collect();
    assert_eq!(tried.iter().map(|t| t.0.clone()).collect::<Vec<_>>(), heard);
    assert_eq!(tried[0].1, None);
    assert_eq!(tried.last().unwrap().1, Some(EmptyOutput), "{tried:?}");
    assert_eq!(answer.text, shown);
    let last = answer.attempts.last().unwrap();
    assert_eq!((last.provider.as_str(), last.class), ("gemini", None));
    assert!(last.first_token_ms.is_some());
    assert_eq!(last.tokens_out, 4);
    assert!(answer.attempts.iter().any(|a| a.class == Some(EmptyOutput)));
    assert!(answer.attempts.iter().any(|a| a.class == Some(Connection)));

    // After the first token: the call fails, and nothing more is shown.
    double.clear();
    double.reply(
        "anthropic",
        Reply::StreamDiesAfter("The deploy script".into()),
    );
    let mut shown = String::new();
    let failed = router
        .chat_stream(
            &chain(),
            &ask("How?"),
            None,
            &mut shown_into(&mut shown),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(failed.class, Some(StreamBroken));
    assert_eq!(shown, "The deploy script");
    assert!(double.seen().iter().all(|s| s.provider == "anthropic"));
}

#[tokio::test]
async fn images_go_to_vision_models_and_captions_to_the_others() {
    let double = LlmDouble::start().await;
    let router = Router::new(
        vec![
            ProviderConfig {
                name: "openai".into(),
                kind: api::ai::ProviderKind::OpenAi,
                base_url: double.base_url("openai"),
                api_key: None,
            },
            ProviderConfig {
                name: "local".into(),
                kind: api::ai::ProviderKind::LlamaCpp,
                base_url: double.base_url("local"),
                api_key: None,
            },
        ],
        Catalog::builtin(),
        quick(),
    )
    .unwrap();
    let request = ChatRequest {
        user: "What do the screenshots show?".into(),
        images: vec![
            ImageInput {
                url: "data:image/png;base64,iVBORw0KGgo=".into(),
                caption: "the login page".into(),
            },
            ImageInput {
                url: "data:image/png;base64,iVBORw0KGgo=".into(),
                caption: "an error toast".into(),
            },
        ],
        max_tokens: 100,
        ..ChatRequest::default()
    };
    let vision = Chain::parse(["openai/gpt-4o-mini"]).unwrap();
    router.chat(&vision, &request, None, None).await.unwrap();
    let text_only = Chain::parse(["local/smollm2-135m"]).unwrap();
    router.chat(&text_only, &request, None, None).await.unwrap();
    let seen = double.seen();
    let parts = seen[0].body["messages"][0]["content"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[1]["type"], "image_url");
    let text = seen[1].body["messages"][0]["content"].as_str().unwrap();
    assert!(
        text.contains("[Image 1: the login page]") && text.contains("[Image 2: an error toast]"),
        "{text}"
    );
    // No key configured: none sent.
    assert_eq!(
        seen[1].authorization.as_deref().unwrap_or("Bearer ").trim(),
        "Bearer"
    );
}

#[tokio::test]
async fn a_call_whose_worst_case_exceeds_the_budget_is_refused_before_it_is_sent() {
    let double = LlmDouble::start().await;
    let router = router(&double, quick());
    let request = ChatRequest {
        max_tokens: 4000,
        ..ask("Summarise")
    };
    // Claude Sonnet's worst case: 4,000 × $15 / 1M = $0.06; gpt-4o-mini's: $0.0024.
    let answer = router
        .chat(
            &chain(),
            &request,
            None,
            Some(Budget {
                remaining_usd: 0.01,
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        classes(&answer.attempts),
        vec![
            ("anthropic".into(), Some(OverBudget)),
            ("openai".into(), None)
        ]
    );
    assert!(double.seen().iter().all(|s| s.provider == "openai"));
    double.clear();
    let failed = router
        .chat(
            &chain(),
            &request,
            None,
            Some(Budget {
                remaining_usd: 0.0001,
            }),
        )
        .await
        .unwrap_err();
    assert_eq!(failed.class, Some(OverBudget));
    assert!(failed.reason.contains("budget"), "{}", failed.reason);
    assert!(double.seen().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn embeddings_fail_over_to_another_provider_of_the_same_model_never_another_model() {
    let double = LlmDouble::start().await;
    let router = router(&double, quick());
    double.reply("openai", Reply::openai_insufficient_quota());
    let inputs = vec!["deploy".to_owned(), "rollback plan".to_owned()];
    let embedded = router
        .embed(
            "text-embedding-3-small",
            &["openai".to_owned(), "gemini".to_owned()],
            &inputs,
            EmbedFor::Document,
        )
        .await
        .unwrap();
    assert_eq!(embedded.provider, "gemini");
    assert_eq!(embedded.model, "text-embedding-3-small");
    assert_eq!(embedded.vectors.len(), 2);
    assert_eq!(double.seen().len(), 2);
    assert!(
        double
            .seen()
            .iter()
            .all(|s| s.body["model"] == "text-embedding-3-small")
    );
    // No provider left for that model: a failure, not another model.
    let failed = router
        .embed(
            "text-embedding-3-small",
            &["openai".to_owned()],
            &inputs,
            EmbedFor::Query,
        )
        .await
        .unwrap_err();
    assert!(
        failed.reason.contains("text-embedding-3-small"),
        "{}",
        failed.reason
    );
    assert_eq!(failed.attempts[0].class, Some(CoolingDown));
}

/// Embeddings go through the attempt loop chat goes through: a provider's own budget refuses it
/// before anything is sent, and the call's deadline ends a provider that never answers (instead
/// of a timeout and two retries per provider).
#[tokio::test]
async fn embeddings_keep_budgets_and_the_calls_deadline_as_chat_does() {
    let double = LlmDouble::start().await;
    let router = router(
        &double,
        RouterSettings {
            request_timeout: Duration::from_secs(5),
            call_deadline: Duration::from_millis(1200),
            ..quick()
        },
    );
    router.set_provider_budget("openai", 0.0);
    let inputs = vec!["deploy".to_owned(), "rollback plan".to_owned()];
    let both = ["openai".to_owned(), "gemini".to_owned()];
    let embedded =
        bounded(router.embed("text-embedding-3-small", &both, &inputs, EmbedFor::Document))
            .await
            .unwrap();
    assert_eq!(embedded.provider, "gemini");
    assert_eq!(embedded.attempts[0].class, Some(OverBudget));
    assert!(
        double.seen().iter().all(|s| s.provider == "gemini"),
        "nothing was sent to the provider over its budget"
    );
    double.clear();
    double.reply("gemini", Reply::Hang(Duration::from_secs(30)));
    let started = Instant::now();
    let failed = bounded(router.embed(
        "text-embedding-3-small",
        &both[1..],
        &inputs,
        EmbedFor::Document,
    ))
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "ended after {:?}",
        started.elapsed()
    );
    assert_eq!(failed.class, Some(DeadlinePassed), "{}", failed.reason);
    assert_eq!(
        double.seen().len(),
        1,
        "one attempt, no retry past the deadline"
    );
}

/// A provider that keeps streaming, a word every 50 ms (each well within the per-piece timeout),
/// is cut at the call's deadline: the call fails as `deadline_passed` with what was shown kept,
/// and no other model is asked.
#[tokio::test]
async fn an_endless_slow_stream_ends_at_the_calls_deadline() {
    let double = LlmDouble::start().await;
    double.reply(
        "anthropic",
        Reply::Endless("more ".into(), Duration::from_millis(50)),
    );
    let router = router(
        &double,
        RouterSettings {
            call_deadline: Duration::from_millis(1500),
            ..quick()
        },
    );
    let started = Instant::now();
    let mut shown = String::new();
    let failed = bounded(router.chat_stream(
        &chain(),
        &ask("How?"),
        None,
        &mut shown_into(&mut shown),
        None,
    ))
    .await
    .unwrap_err();
    let took = started.elapsed();
    assert_eq!(failed.class, Some(DeadlinePassed), "{failed:?}");
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(shown.starts_with("more more"), "{shown}");
    assert!(double.seen().iter().all(|s| s.provider == "anthropic"));
    let attempt = failed.attempts.last().unwrap();
    assert_eq!(attempt.class, Some(DeadlinePassed));
    assert!(
        attempt
            .error
            .as_deref()
            .unwrap()
            .contains("deadline of 1 s"),
        "{attempt:?}"
    );

    // A whole answer that never comes: the deadline ends it too, before the request timeout.
    double.clear();
    double.reply("anthropic", Reply::Hang(Duration::from_secs(5)));
    let router = router_with_deadline(&double, Duration::from_millis(500));
    let started = Instant::now();
    let failed = router
        .chat(&chain(), &ask("How?"), None, None)
        .await
        .unwrap_err();
    assert_eq!(failed.class, Some(DeadlinePassed), "{failed:?}");
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(double.seen().len(), 1, "nothing asked after the deadline");
}

fn router_with_deadline(double: &LlmDouble, deadline: Duration) -> Router {
    router(
        double,
        RouterSettings {
            request_timeout: Duration::from_secs(10),
            call_deadline: deadline,
            ..quick()
        },
    )
}

/// An answer past what `max_tokens` allows fails as `too_large`: streamed, it is cut at the limit
/// (the bytes shown stay under it) and the call ends; whole, the chain moves on to a model that
/// answers within it.
#[tokio::test]
async fn an_answer_past_its_max_tokens_is_too_large() {
    let double = LlmDouble::start().await;
    let request = ask("How?");
    let limit = llm::answer_byte_limit(request.max_tokens);
    double.reply("anthropic", Reply::Endless("flood ".into(), Duration::ZERO));
    let router = router(&double, quick());
    let mut shown = String::new();
    let failed =
        bounded(router.chat_stream(&chain(), &request, None, &mut shown_into(&mut shown), None))
            .await
            .unwrap_err();
    assert_eq!(failed.class, Some(TooLarge), "{failed:?}");
    assert!(shown.len() <= limit, "{} > {limit}", shown.len());
    assert!(shown.len() > limit - 100, "{}", shown.len());
    assert!(double.seen().iter().all(|s| s.provider == "anthropic"));

    // Whole: the first provider's 100,000 words are refused, the second's answer is kept.
    double.clear();
    double.reply("anthropic", Reply::Huge("flood ".into(), 100_000));
    double.reply("openai", Reply::Text("Use the script.".into()));
    let answer = router.chat(&chain(), &request, None, None).await.unwrap();
    assert_eq!(answer.text, "Use the script.");
    assert_eq!(
        classes(&answer.attempts),
        vec![
            ("anthropic".into(), Some(TooLarge)),
            ("openai".into(), None)
        ]
    );
    // Tokens counted past max_tokens (with slack) are too large too, even in few bytes.
    double.reply("anthropic", Reply::Huge("a".into(), 400));
    double.reply("openai", Reply::Text("Fine.".into()));
    let answer = router.chat(&chain(), &request, None, None).await.unwrap();
    assert_eq!(answer.attempts[0].class, Some(TooLarge));
}

/// `call`, or a failed test after 10 s (an endless provider must not hang the suite).
async fn bounded<T>(call: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the call ended within 10 s")
}

/// A JSON-schema answer: each provider that has structured output is asked for it with the schema
/// (`strict`), Anthropic's compatible endpoint is not (it ignores it), and every answer is checked
/// here: JSON that does not match, or no JSON at all, is `invalid_output` and the chain moves on;
/// one in a Markdown fence that matches is the answer.
#[tokio::test]
async fn a_schema_answer_is_asked_for_where_providers_can_and_checked_everywhere() {
    let double = LlmDouble::start().await;
    let router = router(&double, quick());
    let schema = serde_json::json!({
        "type": "object", "required": ["steps"], "additionalProperties": false,
        "properties": {"steps": {"type": "array", "minItems": 1, "items": {"type": "string"}}}
    });
    let request = ChatRequest {
        output: llm::Output::JsonSchema {
            name: "plan".into(),
            schema: schema.clone(),
        },
        ..ask("Plan it")
    };
    double.reply(
        "anthropic",
        Reply::Json(serde_json::json!({"steps": "later"})),
    );
    double.reply("openai", Reply::Text("Sure! First write the test.".into()));
    double.reply(
        "gemini",
        Reply::Text("```json\n{\"steps\": [\"write the test\", \"fix it\"]}\n```".into()),
    );
    let answer = router.chat(&chain(), &request, None, None).await.unwrap();
    assert_eq!(
        classes(&answer.attempts),
        vec![
            ("anthropic".into(), Some(InvalidOutput)),
            ("openai".into(), Some(InvalidOutput)),
            ("gemini".into(), None)
        ]
    );
    let errors: Vec<&str> = answer
        .attempts
        .iter()
        .filter_map(|a| a.error.as_deref())
        .collect();
    assert_eq!(
        errors,
        vec![
            "the answer does not match the schema: $.steps must be array, not a string",
            "the answer is not JSON: expected value at line 1 column 1",
        ]
    );
    let seen = double.seen();
    assert_eq!(seen[0].provider, "anthropic");
    assert!(
        seen[0].body.get("response_format").is_none(),
        "{}",
        seen[0].body
    );
    for asked in &seen[1..] {
        assert_eq!(
            asked.body["response_format"],
            serde_json::json!({"type": "json_schema",
                               "json_schema": {"name": "plan", "schema": schema, "strict": true}}),
            "{}",
            asked.provider
        );
    }
}

/// A conversation goes as one: the instructions, the earlier turns in order (a user's images as
/// parts to a vision model, as captions to one without), then the question.
#[tokio::test]
async fn earlier_turns_are_sent_in_order_before_the_question() {
    let double = LlmDouble::start().await;
    let router = router(&double, quick());
    let request = ChatRequest {
        earlier: vec![
            llm::Turn {
                role: llm::TurnRole::User,
                text: "What do we deploy with?".into(),
                images: vec![ImageInput {
                    url: "data:image/png;base64,iVBORw0KGgo=".into(),
                    caption: "the deploy dashboard".into(),
                }],
            },
            llm::Turn {
                role: llm::TurnRole::Assistant,
                text: "The blue-green script.".into(),
                images: Vec::new(),
            },
        ],
        ..ask("And how do we roll back?")
    };
    let answer = router.chat(&chain(), &request, None, None).await.unwrap();
    assert_eq!(answer.provider, "anthropic");
    let sent = &double.seen()[0].body["messages"];
    let roles: Vec<&str> = sent
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, vec!["system", "user", "assistant", "user"]);
    // Claude Sonnet reads images: the earlier turn's image goes as a part.
    assert_eq!(sent[1]["content"][0]["text"], "What do we deploy with?");
    assert_eq!(
        sent[1]["content"][1]["image_url"]["url"],
        "data:image/png;base64,iVBORw0KGgo="
    );
    assert_eq!(sent[2]["content"], "The blue-green script.");
    assert_eq!(sent[3]["content"], "And how do we roll back?");
}

/// A reader of a streamed answer that keeps what is shown in `shown`.
fn shown_into(shown: &mut String) -> impl FnMut(Preview<'_>) + Send + '_ {
    |heard| {
        if let Preview::Text(piece) = heard {
            shown.push_str(piece);
        }
    }
}
