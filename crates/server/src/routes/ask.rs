//! `POST /api/v1/notes/{note_id}/ask`: asks the team's chain about a note and streams the answer
//! as Server-Sent Events while it is written: `text` events carry the pieces (`{"text": …}`), a
//! `shown` event the answer as the page shows it (`api::ai::AnswerShown`: its trail and figures
//! written out), and a last `answer` event the stored `api::ai::NoteAnswer` with its attempts (or
//! its failure).
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
use tokio::sync::mpsc;

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
        let mut on_text = move |piece: &str| {
            let _ = pieces.send(
                Event::default()
                    .event("text")
                    .data(serde_json::json!({ "text": piece }).to_string()),
            );
        };
        // The answer is asked and stored even if the reader goes away: it was paid for.
        let event = match asking.answer(Some(&mut on_text)).await {
            Ok(answer) => {
                let shown = api::ai::AnswerShown::from(&answer);
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
