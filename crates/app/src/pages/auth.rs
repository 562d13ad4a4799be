//! Sign-up and log-in.

use crate::browser;
use crate::components::{Call, ErrorNote, Field, form_level};
use crate::rpc::{log_in, sign_up};
use api::ApiError;
use api::accounts::{Email, Name, NewPassword};
use api::tenants::{LogInForm, SignUpForm};
use islands_macro::island_in;
use leptos::prelude::*;
use leptos_router::components::A;

/// After a successful sign-in: `next` (a path of Cairn's own), else the projects, rendered for the
/// new session.
fn signed_in(next: Option<&str>) {
    browser::go_to(next.unwrap_or("/projects"));
}

/// `?next=` of the log-in page, if it is a path on this site (never `//elsewhere` or a URL).
fn next_param() -> Option<String> {
    leptos_router::hooks::use_query_map()
        .with_untracked(|q| q.get("next"))
        .filter(|next| next.starts_with('/') && !next.starts_with("//") && !next.contains('\\'))
}

/// `/signup`: an account and its first team.
#[component]
pub fn SignUpPage() -> impl IntoView {
    view! {
        <section class="page narrow auth">
            <h1>"Create your team"</h1>
            <p class="muted">"You will be its owner, and can invite others by e-mail. Invited? Follow the link in your invitation instead."</p>
            <SignUpForm/>
            <p class="muted">"Already have an account? " <A href="/login">"Log in"</A></p>
        </section>
    }
}

#[island_in(welcome)]
fn SignUpForm() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let display_name = RwSignal::new(String::new());
    let tenant_name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let action = Call::reporting_to(error);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = SignUpForm {
            email: email.get(),
            password: password.get(),
            display_name: display_name.get(),
            tenant_name: tenant_name.get(),
        };
        // The same parsers the server runs: most mistakes never leave the browser.
        let checked = Email::parse(&form.email)
            .and(NewPassword::parse(&form.password).map(|_| ()))
            .and(Name::parse_for("display_name", &form.display_name))
            .and(Name::parse_for("tenant_name", &form.tenant_name));
        match checked {
            Ok(_) => {
                error.set(None);
                action.dispatch_then(sign_up(form), |_| signed_in(None));
            }
            Err(e) => error.set(Some(e)),
        }
    };
    const FIELDS: &[&str] = &["email", "password", "display_name", "tenant_name"];
    view! {
            <form on:submit=submit novalidate>
                <Field name="display_name" label="Your name" value=display_name error autocomplete="name" required=true/>
                <Field name="email" label="E-mail" kind="email" value=email error autocomplete="email" required=true/>
                <Field name="password" label="Password" kind="password" value=password error
                    autocomplete="new-password" required=true hint="At least 10 characters."/>
                <Field name="tenant_name" label="Team name" value=tenant_name error autocomplete="organization" required=true/>
                {move || error.get().filter(|e| form_level(e, FIELDS)).map(|error| view! { <ErrorNote error/> })}
                <button type="submit" class="button primary wide" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Creating…" } else { "Create team" }}
                </button>
            </form>
    }
}

/// `/login`.
#[component]
pub fn LogInPage() -> impl IntoView {
    view! {
        <section class="page narrow auth">
            <h1>"Log in"</h1>
            <LogInForm next=next_param()/>
            <p class="muted">
                <A href="/forgot-password">"Forgot your password?"</A>
                " · New to Cairn? " <A href="/signup">"Create a team"</A>
            </p>
        </section>
    }
}

#[island_in(welcome)]
fn LogInForm(next: Option<String>) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let action = Call::reporting_to(error);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match Email::parse(&email.get()) {
            Ok(_) if password.get().is_empty() => {
                error.set(Some(ApiError::invalid("password", "is required")));
            }
            Ok(_) => {
                error.set(None);
                let next = next.clone();
                action.dispatch_then(
                    log_in(LogInForm {
                        email: email.get(),
                        password: password.get(),
                    }),
                    move |_| signed_in(next.as_deref()),
                );
            }
            Err(e) => error.set(Some(e)),
        }
    };
    let message = move || {
        error
            .get()
            .filter(|e| form_level(e, &["email", "password"]))
            .map(|error| match error {
                ApiError::Unauthorized => view! {
                    <p class="error" role="alert">"E-mail or password is incorrect."</p>
                }
                .into_any(),
                error => view! { <ErrorNote error/> }.into_any(),
            })
    };
    view! {
            <form on:submit=submit novalidate>
                <Field name="email" label="E-mail" kind="email" value=email error autocomplete="username" required=true/>
                <Field name="password" label="Password" kind="password" value=password error
                    autocomplete="current-password" required=true/>
                {message}
                <button type="submit" class="button primary wide" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Logging in…" } else { "Log in" }}
                </button>
            </form>
    }
}
