//! What an island asks of the browser once a server function has answered: the pages themselves
//! are rendered on the server, so a change that affects the page loads it again.

use leptos::prelude::window;

/// Loads `path` (a full page load: the server renders it with the new state).
pub fn go_to(path: &str) {
    let _ = window().location().set_href(path);
}

/// Loads the current page again.
pub fn reload() {
    let _ = window().location().reload();
}

/// Loads the current page again, which then says `done` ("Saved the provider.") where the user is
/// looking: the page's notice at the top of the window (`notice.js`), whatever the scroll.
pub fn reload_saying(done: &str) {
    say_on_next_page(done);
    reload();
}

/// The next page says `done` in its notice (kept for one page load, in this tab only).
fn say_on_next_page(done: &str) {
    if let Ok(Some(storage)) = window().session_storage() {
        let _ = storage.set_item("cairn-notice", done);
    }
}

/// Loads the current page again, which then says `done` with an Undo button that makes the call
/// `undo` (a server function with its arguments) and says `undone` on the page it loads after.
pub fn reload_saying_with_undo<F>(done: &str, undo: &F, undone: &str)
where
    F: leptos::server_fn::ServerFn + serde::Serialize,
{
    if let (Ok(Some(storage)), Ok(body)) = (window().session_storage(), serde_json::to_string(undo))
    {
        let call = serde_json::json!({ "url": F::PATH, "body": body, "done": undone });
        let _ = storage.set_item("cairn-undo", &call.to_string());
    }
    reload_saying(done);
}

/// Makes the call `call` (a server function with its arguments) as the page is left: the browser
/// sends it after the page is gone (`navigator.sendBeacon`, with the session's cookie).
#[cfg(feature = "hydrate")]
pub fn send_on_leaving<F>(call: &F)
where
    F: leptos::server_fn::ServerFn + serde::Serialize,
{
    use leptos::web_sys::{Blob, BlobPropertyBag, js_sys::Array};
    let Ok(body) = serde_json::to_string(call) else {
        return;
    };
    let options = BlobPropertyBag::new();
    options.set_type("application/json");
    let parts = Array::of1(&leptos::wasm_bindgen::JsValue::from_str(&body));
    if let Ok(blob) = Blob::new_with_str_sequence_and_options(&parts, &options) {
        let _ = window()
            .navigator()
            .send_beacon_with_opt_blob(F::PATH, Some(&blob));
    }
}

/// Moves the focus, once the change that just happened is drawn, to the first element any of
/// `selectors` finds (in their order).
pub fn focus_first(selectors: &[String]) {
    use leptos::wasm_bindgen::JsCast;
    let selectors = selectors.to_vec();
    leptos::prelude::request_animation_frame(move || {
        let document = leptos::prelude::document();
        let found = selectors.iter().find_map(|selector| {
            document
                .query_selector(selector)
                .ok()
                .flatten()
                .and_then(|element| element.dyn_into::<leptos::web_sys::HtmlElement>().ok())
        });
        if let Some(element) = found {
            let _ = element.focus();
        }
    });
}

/// Asks the user to confirm `text` in the page's confirmation dialog (the app's one way of asking,
/// `confirm.js`), and runs `then` if they press the button named `action` ("Delete").
pub fn confirm_then(text: &str, action: &str, then: impl FnOnce() + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::{JsCast, JsValue, closure::Closure};
        use leptos::web_sys::js_sys::{Function, Reflect};
        let ask = Reflect::get(&window(), &JsValue::from_str("cairnConfirm"))
            .ok()
            .and_then(|ask| ask.dyn_into::<Function>().ok());
        if let Some(ask) = ask {
            let answer = Closure::once_into_js(move |yes: bool| {
                if yes {
                    then();
                }
            });
            let _ = ask.call3(
                &JsValue::NULL,
                &JsValue::from_str(text),
                &JsValue::from_str(action),
                &answer,
            );
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (text, action, then);
    }
}

/// Moves the focus to the first field inside the element `selector` finds, once the view that
/// just opened it is drawn (a form opened by a button is for typing into).
pub fn focus_first_field(selector: &'static str) {
    focus_first(&[format!(
        "{selector} input, {selector} textarea, {selector} select"
    )]);
}

/// The text after `#<prefix>` in the address, if it starts so, taken out of the address (and of
/// this page's history entry) so that it shows once.
pub fn take_fragment(prefix: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        let location = window().location();
        let hash = location.hash().ok()?;
        let text = hash.strip_prefix('#')?.strip_prefix(prefix)?.to_owned();
        let address = format!("{}{}", location.pathname().ok()?, location.search().ok()?);
        let _ = window().history().ok()?.replace_state_with_url(
            &leptos::wasm_bindgen::JsValue::NULL,
            "",
            Some(&address),
        );
        Some(text)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = prefix;
        None
    }
}

/// `text` made safe for an address's component (`encodeURIComponent`).
pub fn encode(text: &str) -> String {
    leptos::web_sys::js_sys::encode_uri_component(text).into()
}

/// The text `encode` made, back.
pub fn decode(text: &str) -> Option<String> {
    leptos::web_sys::js_sys::decode_uri_component(text)
        .ok()
        .map(Into::into)
}

/// Puts `text` on the clipboard.
pub fn copy(text: &str) {
    let _ = window().navigator().clipboard().write_text(text);
}

/// The text of the element with id `id` (what a page shows, read where it is rather than carried
/// again in an island's props).
pub fn text_of(id: &str) -> Option<String> {
    leptos::prelude::document()
        .get_element_by_id(id)?
        .text_content()
}

/// The address's fragment, without `#`.
pub fn fragment() -> Option<String> {
    let hash = window().location().hash().ok()?;
    hash.strip_prefix('#').map(str::to_owned)
}

/// Sets the address's fragment without scrolling or adding to the history.
pub fn set_fragment(fragment: &str) {
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(
            &leptos::wasm_bindgen::JsValue::NULL,
            "",
            Some(&format!("#{fragment}")),
        );
    }
}
