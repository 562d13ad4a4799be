//! `POST /api/v1/notes/{note_id}/ask`: asks the team's chain about a note and streams the answer
//! as Server-Sent Events while it is written: an `attempt` event as each model is tried
//! (`api::ai::Trying`), `text` events with the pieces (`{"text": …}`), a `shown` event the answer
//! as the page shows it (`api::ai::AnswerShown`: its trail and figures written out, its Markdown
//! rendered), and a last `answer` event the stored `api::ai::NoteAnswer` with its attempts (or its
//! failure).
//! Closing the request stops the answer: the model is asked no further and the answer is kept as
//! stopped, with what it cost (the page's Stop button aborts the request).
//! A POST, not a GET: asking costs money, so it is not something a link or a reconnect should
//! repeat. Errors before the model is asked (no session, another team's note, a bad question, no
//! provider) are the usual JSON errors.

use crate::error::ErrorResponse;
use api::ApiError;
use api::ids::NoteId;
use app::session_cookie::Caller;
use app::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    /// The question.
    question: String,
}

/// Streams an answer.
pub async fn ask_note(
    State(state): State<AppState>,
    Path(note_id): Path<String>,
    caller: Result<Caller, ErrorResponse>,
    body: Result<Json<Ask>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let opened = async {
        let note = NoteId::parse(&note_id).map_err(|_| ApiError::NotFound)?;
        let Json(ask) = body.map_err(|e| ApiError::invalid("question", e.body_text()))?;
        let question = api::ai::parse_question(&ask.question)?;
        let tx = caller.map_err(|refused| refused.0)?.enter(&state).await?;
        // What would fail the call before a model is asked fails the request instead.
        services::ai::begin_ask(&state.ctx, tx, note, question).await
    }
    .await;
    let asking = match opened {
        Ok(opened) => opened,
        Err(error) => return ErrorResponse(error).into_response(),
    };
    let (events, received) = mpsc::unbounded_channel::<Event>();
    tokio::spawn(async move {
        let pieces = events.clone();
        let mut hears = move |heard: llm::Preview<'_>| {
            let event = match heard {
                llm::Preview::Text(piece) => Event::default()
                    .event("text")
                    .data(serde_json::json!({ "text": piece }).to_string()),
                llm::Preview::Attempt {
                    provider,
                    kind,
                    model,
                    after,
                } => Event::default().event("attempt").data(
                    serde_json::to_string(&api::ai::Trying {
                        provider: provider.to_owned(),
                        kind: kind.to_owned(),
                        model: model.to_owned(),
                        after: after.map(api::ai::Attempt::said),
                    })
                    .unwrap_or_default(),
                ),
            };
            let _ = pieces.send(event);
        };
        // The reader going away (Stop, or a closed tab) stops the answer; what was asked until
        // then is stored, with its cost.
        let stop = Notify::new();
        let reader = services::ai::Reader {
            hears: &mut hears,
            stop: &stop,
        };
        let asked = asking.answer(Some(reader));
        tokio::pin!(asked);
        let mut told = false;
        let answered = loop {
            tokio::select! {
                answered = &mut asked => break answered,
                () = events.closed(), if !told => {
                    stop.notify_one();
                    told = true;
                }
            }
        };
        let event = match answered {
            Ok(answer) => {
                let shown = services::ai::shown(&answer);
                let _ = events.send(
                    Event::default()
                        .event("shown")
                        .data(serde_json::to_string(&shown).unwrap_or_default()),
                );
                Event::default()
                    .event("answer")
                    .data(serde_json::to_string(&answer).unwrap_or_default())
            }
            Err(error) => Event::default()
                .event("error")
                .data(serde_json::to_string(&error).unwrap_or_default()),
        };
        let _ = events.send(event);
    });
    let stream = futures_util::stream::unfold(received, |mut received| async move {
        received
            .recv()
            .await
            .map(|event| (Ok::<_, Infallible>(event), received))
    });
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    response
}
