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
    view! {
        <div class="tab-head">
            <h2>{title}</h2>
            <button class="button primary" on:click=move |_| open.update(|o| *o = !*o)>
                {move || if open.get() { "Cancel" } else { open_label }}
            </button>
        </div>
        {move || open.get().then(|| children())}
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
            />
            {hint.map(|hint| view! { <small id=hint_id.clone() class="hint">{hint}</small> })}
            <small id=error_id class="field-error" aria-live="polite">{message}</small>
        </div>
    }
}

/// An error not tied to one field (or tied to a field this form does not show).
pub fn form_level(error: &ApiError, fields: &[&str]) -> bool {
    !matches!(error, ApiError::Invalid { field, .. } if fields.contains(&field.as_str()))
}
