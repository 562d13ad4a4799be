//! "Ask about this note" from the browser: the answer appears as the model writes it.
//!
//! The streaming route (`POST /api/v1/notes/{id}/ask`) answers Server-Sent Events to a POST, which
//! `EventSource` cannot send; `XMLHttpRequest` hands over the response text as it grows
//! (`progress` events), so the events are read from it as they arrive, with nothing added to the
//! bundle beyond what uploads use already. Stopping aborts the request, which stops the answer on
//! the server.

use api::ApiError;
use api::ai::{AnswerShown, Trying};
use api::ids::NoteId;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// What the stream said at its end.
#[derive(Default)]
struct Ending {
    shown: Option<String>,
    error: Option<String>,
}

/// A `text` event's data. (A struct rather than `serde_json::Value`, whose parser would join the
/// bundle.)
#[derive(serde::Deserialize)]
struct Piece {
    text: String,
}

/// What the reader hears while the answer is written.
pub enum Heard {
    /// A model is about to be asked (the one before it failed, if `after`).
    Trying(Trying),
    /// The next piece of the answer.
    Text(String),
}

/// Reads the complete events in `text` from byte `from` on; answers where the next unread event
/// starts.
fn read_events(
    text: &str,
    from: usize,
    on_heard: &dyn Fn(Heard),
    ending: &RefCell<Ending>,
) -> usize {
    let mut at = from;
    while let Some(end) = text.get(at..).and_then(|rest| rest.find("\n\n")) {
        let block = &text[at..at + end];
        at += end + 2;
        let mut name = "";
        let mut data = String::new();
        for line in block.lines() {
            if let Some(value) = line.strip_prefix("event:") {
                name = value.trim();
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push_str(value.strip_prefix(' ').unwrap_or(value));
            }
        }
        match name {
            "text" => {
                if let Ok(piece) = serde_json::from_str::<Piece>(&data) {
                    on_heard(Heard::Text(piece.text));
                }
            }
            "attempt" => {
                if let Ok(trying) = serde_json::from_str::<Trying>(&data) {
                    on_heard(Heard::Trying(trying));
                }
            }
            "shown" => ending.borrow_mut().shown = Some(data),
            "error" => ending.borrow_mut().error = Some(data),
            _ => {}
        }
    }
    at
}

thread_local! {
    /// The request of the answer being written (a page asks one question at a time).
    static ASKING: RefCell<Option<leptos::web_sys::XmlHttpRequest>> = const { RefCell::new(None) };
}

/// Stops the answer being written: aborts its request, which stops it on the server.
pub fn stop() {
    if let Some(xhr) = ASKING.with_borrow_mut(Option::take) {
        let _ = xhr.abort();
    }
}

/// Asks `question` about the note; `on_heard` hears each model tried and each piece of the answer
/// as it comes; [`stop`] stops it. Resolves with the stored answer as the page shows it (answered
/// or failed), or the error that stopped it before a model was asked (or the cut connection, when
/// stopped).
pub async fn ask(
    note: NoteId,
    question: String,
    on_heard: impl Fn(Heard) + 'static,
) -> Result<AnswerShown, ApiError> {
    use leptos::wasm_bindgen::JsCast;
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::web_sys::XmlHttpRequest;

    let failed = |_| ApiError::Unavailable {
        service: "the browser's request".into(),
        retry_after_secs: None,
    };
    let xhr = XmlHttpRequest::new().map_err(failed)?;
    xhr.open("POST", &format!("/api/v1/notes/{note}/ask"))
        .map_err(failed)?;
    xhr.set_request_header("content-type", "application/json")
        .map_err(failed)?;
    let read_up_to = Rc::new(Cell::new(0usize));
    let ending = Rc::new(RefCell::new(Ending::default()));
    let on_heard: Rc<dyn Fn(Heard)> = Rc::new(on_heard);
    let on_progress = {
        let (xhr, read_up_to, ending, on_heard) = (
            xhr.clone(),
            read_up_to.clone(),
            ending.clone(),
            on_heard.clone(),
        );
        Closure::<dyn FnMut()>::new(move || {
            if xhr.status().unwrap_or(0) != 200 {
                return;
            }
            let text = xhr.response_text().ok().flatten().unwrap_or_default();
            read_up_to.set(read_events(&text, read_up_to.get(), &*on_heard, &ending));
        })
    };
    xhr.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    let (done, finished) = futures_channel::oneshot::channel::<()>();
    let mut done = Some(done);
    let on_end = Closure::<dyn FnMut()>::new(move || {
        if let Some(done) = done.take() {
            let _ = done.send(());
        }
    });
    xhr.set_onloadend(Some(on_end.as_ref().unchecked_ref()));
    let body = format!(
        "{{\"question\":{}}}",
        serde_json::to_string(&question).map_err(|_| ApiError::Internal)?
    );
    xhr.send_with_opt_str(Some(&body)).map_err(failed)?;
    ASKING.set(Some(xhr.clone()));
    let _ = finished.await;
    ASKING.set(None);
    xhr.set_onprogress(None);
    xhr.set_onloadend(None);
    let status = xhr.status().unwrap_or(0);
    let text = xhr.response_text().ok().flatten().unwrap_or_default();
    match status {
        200 => {
            read_events(&text, read_up_to.get(), &*on_heard, &ending);
            let ending = ending.take();
            match (ending.shown, ending.error) {
                (Some(shown), _) => serde_json::from_str(&shown).map_err(|_| ApiError::Internal),
                (None, Some(error)) => {
                    Err(serde_json::from_str(&error).unwrap_or(ApiError::Internal))
                }
                (None, None) => Err(ApiError::Unavailable {
                    service: "the server (the answer was cut off; it is kept on the note when it \
                              arrives)"
                        .into(),
                    retry_after_secs: None,
                }),
            }
        }
        0 => Err(ApiError::Unavailable {
            service: "the server (the connection was cut off)".into(),
            retry_after_secs: None,
        }),
        _ => Err(serde_json::from_str(&text).unwrap_or(ApiError::Internal)),
    }
}
