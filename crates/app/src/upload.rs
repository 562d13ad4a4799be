//! Image uploads from the browser, with progress.
//!
//! Server functions go through `fetch`, which reports no upload progress; images go through
//! `XMLHttpRequest` to the streaming route (`POST /api/v1/notes/{id}/images`), whose `upload`
//! events say how many bytes are out.

use api::ApiError;
use api::ids::NoteId;
use api::notes::NoteImage;

/// A file picked or dropped by the user.
pub type PickedFile = leptos::web_sys::File;

/// Sends `file` to the note, calling `progress` with the whole percent sent so far (integers: the
/// bundle then carries no float formatting). Resolves with the
/// stored image, or the server's error.
pub async fn upload_image(
    note: NoteId,
    file: PickedFile,
    progress: impl Fn(u32) + 'static,
) -> Result<NoteImage, ApiError> {
    use leptos::wasm_bindgen::JsCast;
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::web_sys::{ProgressEvent, XmlHttpRequest};

    let failed = |_| ApiError::Unavailable {
        service: "the browser's upload".into(),
        retry_after_secs: None,
    };
    let xhr = XmlHttpRequest::new().map_err(failed)?;
    xhr.open("POST", &api::notes::upload_url(note))
        .map_err(failed)?;
    let (done, finished) = futures_channel::oneshot::channel::<()>();
    let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |ev: ProgressEvent| {
        if ev.length_computable() && ev.total() > 0.0 {
            progress((ev.loaded() * 100.0 / ev.total()).floor().clamp(0.0, 100.0) as u32);
        }
    });
    let upload = xhr.upload().ok();
    if let Some(upload) = &upload {
        upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
    }
    let mut done = Some(done);
    let on_end = Closure::<dyn FnMut()>::new(move || {
        if let Some(done) = done.take() {
            let _ = done.send(());
        }
    });
    xhr.set_onloadend(Some(on_end.as_ref().unchecked_ref()));
    xhr.send_with_opt_blob(Some(&file)).map_err(failed)?;
    let _ = finished.await;
    // The request is over: detach the handlers before their closures are dropped.
    if let Some(upload) = &upload {
        upload.set_onprogress(None);
    }
    xhr.set_onloadend(None);
    let status = xhr.status().unwrap_or(0);
    let text = xhr.response_text().ok().flatten().unwrap_or_default();
    match status {
        201 => serde_json::from_str(&text).map_err(|_| ApiError::Internal),
        0 => Err(ApiError::Unavailable {
            service: "the server (the connection was cut off)".into(),
            retry_after_secs: None,
        }),
        _ => Err(serde_json::from_str(&text).unwrap_or(ApiError::Internal)),
    }
}
