//! Small parts shared by the pages.

use api::ApiError;
use leptos::prelude::*;

/// A readable error message, announced to screen readers.
#[component]
pub fn ErrorNote(error: ApiError) -> impl IntoView {
    view! { <p class="error" role="alert">{error.user_message()}</p> }
}

/// A pending state.
#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="muted loading" aria-live="polite">"Loading…"</p> }
}

/// A list's heading with the button that opens the form for a new item (`children`), and closes
/// it again.
#[component]
pub fn NewItem(
    /// The list's heading.
    title: &'static str,
    /// The button's label while the form is closed.
    open_label: &'static str,
    /// The form.
    children: ChildrenFn,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let toggle = move |_| {
        open.update(|o| *o = !*o);
        if open.get_untracked() {
            crate::browser::focus_first_field(".new-item");
        }
    };
    view! {
        <div class="tab-head">
            <h2>{title}</h2>
            // Open, it is the way out of the form, not its main action: a quiet button.
            <button class="button" class:primary=move || !open.get() class:ghost=move || open.get()
                aria-expanded=move || open.get().to_string() on:click=toggle>
                {move || if open.get() { "Cancel" } else { open_label }}
            </button>
        </div>
        {move || open.get().then(|| view! { <div class="new-item">{children()}</div> })}
    }
}

/// A labelled input bound to `value`, showing `error` when it names this field.
#[component]
pub fn Field(
    /// Form field name (also the id, and the `ApiError::Invalid` field it shows errors for).
    name: &'static str,
    /// Visible label.
    label: &'static str,
    /// Input type.
    #[prop(default = "text")]
    kind: &'static str,
    /// Bound value.
    value: RwSignal<String>,
    /// The form's current error.
    error: RwSignal<Option<ApiError>>,
    /// Hint below the input.
    #[prop(optional)]
    hint: Option<&'static str>,
    /// `autocomplete` attribute.
    #[prop(default = "off")]
    autocomplete: &'static str,
    /// Whether the field must be filled in.
    #[prop(optional)]
    required: bool,
) -> impl IntoView {
    let message = move || match error.get() {
        Some(ApiError::Invalid { field, reason }) if field == name => Some(reason),
        _ => None,
    };
    let hint_id = format!("{name}-hint");
    let error_id = format!("{name}-error");
    view! {
        <div class="field" class:invalid=move || message().is_some()>
            <label for=name>{label}</label>
            <input
                id=name
                name=name
                type=kind
                autocomplete=autocomplete
                required=required
                aria-describedby=format!("{hint_id} {error_id}")
                aria-invalid=move || if message().is_some() { "true" } else { "false" }
                bind:value=value
                // The field's error is about what it held: changing it takes the error away.
                on:input=move |_| {
                    if message().is_some() {
                        error.set(None);
                    }
                }
            />
            {hint.map(|hint| view! { <small id=hint_id.clone() class="hint"><Hint text=hint/></small> })}
            <small id=error_id class="field-error" aria-live="polite">{message}</small>
        </div>
    }
}

/// A hint's text with its `code` spans (between backticks) shown as code.
#[component]
pub fn Hint(text: &'static str) -> impl IntoView {
    text.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                view! { <code>{part}</code> }.into_any()
            } else {
                part.into_any()
            }
        })
        .collect_view()
}

/// An error not tied to one field (or tied to a field this form does not show).
pub fn form_level(error: &ApiError, fields: &[&str]) -> bool {
    !matches!(error, ApiError::Invalid { field, .. } if fields.contains(&field.as_str()))
}

/// A server call an island makes when the user acts (a click, a submit): its answer, whether it is
/// under way, and what follows a success (loading the next page, say). It does what islands used
/// `Action` and an `Effect` watching it for, with two signals and a task: `Action`'s input, version
/// and memo machinery and each `Effect`, instantiated again for every call's types, weighed more in
/// the browser bundle (about 25 KB gzip for 24 calls) than the calls themselves.
pub struct Call<O: Send + Sync + 'static> {
    value: RwSignal<Option<Result<O, ApiError>>>,
    pending: RwSignal<bool>,
    errors: Option<RwSignal<Option<ApiError>>>,
}

impl<O: Send + Sync + 'static> Clone for Call<O> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O: Send + Sync + 'static> Copy for Call<O> {}

impl<O: Clone + Send + Sync + 'static> Default for Call<O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<O: Clone + Send + Sync + 'static> Call<O> {
    /// No call made yet.
    pub fn new() -> Self {
        Self {
            value: RwSignal::new(None),
            pending: RwSignal::new(false),
            errors: None,
        }
    }

    /// A call whose refusals also go to a form's error (which its fields show).
    pub fn reporting_to(errors: RwSignal<Option<ApiError>>) -> Self {
        Self {
            errors: Some(errors),
            ..Self::new()
        }
    }

    /// The last answer, once there is one.
    pub fn value(&self) -> RwSignal<Option<Result<O, ApiError>>> {
        self.value
    }

    /// Whether a call is under way (buttons are disabled meanwhile).
    pub fn pending(&self) -> RwSignal<bool> {
        self.pending
    }

    /// Makes the call; its answer lands in [`Call::value`].
    pub fn dispatch(&self, call: impl std::future::Future<Output = Result<O, ApiError>> + 'static) {
        self.dispatch_then(call, |_| {});
    }

    /// Makes the call and, if it succeeds, runs `then` with the answer.
    pub fn dispatch_then(
        &self,
        call: impl std::future::Future<Output = Result<O, ApiError>> + 'static,
        then: impl FnOnce(&O) + 'static,
    ) {
        // Boxed, so the task below is compiled once per answer type, not once per call site.
        self.run(Box::pin(call), Box::new(then));
    }

    fn run(
        &self,
        call: std::pin::Pin<Box<dyn std::future::Future<Output = Result<O, ApiError>>>>,
        then: Box<dyn FnOnce(&O)>,
    ) {
        let (value, pending, errors) = (self.value, self.pending, self.errors);
        pending.set(true);
        leptos::task::spawn_local(async move {
            let answer = call.await;
            match &answer {
                Ok(done) => then(done),
                Err(error) => {
                    if let Some(errors) = errors {
                        errors.set(Some(error.clone()));
                    }
                }
            }
            value.set(Some(answer));
            pending.set(false);
        });
    }
}

/// `text` with every byte outside the unreserved set escaped: for a query string's value or the
/// body of a `data:` link.
pub fn percent_encoded(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char);
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// A number of seconds as people say it ("4 min 10 s").
pub fn duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

/// "HH:MM" of an RFC 3339 time, as written (UTC).
pub fn clock(rfc3339: &str) -> String {
    rfc3339
        .split_once('T')
        .map(|(_, time)| format!("{} UTC", time.get(..5).unwrap_or(time)))
        .unwrap_or_else(|| rfc3339.to_owned())
}

#[cfg(test)]
mod percent_tests {
    #[test]
    fn every_byte_outside_the_unreserved_set_is_escaped() {
        assert_eq!(
            super::percent_encoded("a b=\"é\"\n"),
            "a%20b%3D%22%C3%A9%22%0A"
        );
    }
}
