//! `/invite/:token`: an invitation's link. Whoever follows it sees the team and who invited, and
//! then, as the case is: accepts (signed in with the invited address), signs up with the address
//! fixed (no account yet), logs in first (an account exists), or is told why it cannot be used.

use crate::browser;
use crate::components::{Call, ErrorNote, Field, Loading, form_level};
use crate::rpc::{accept_invitation, sign_up_invited, view_invitation};
use api::ApiError;
use api::accounts::{Name, NewPassword};
use api::tenants::{InvitationState, InvitationView, InvitedSignUpForm};
use islands_macro::island_in;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// The invitation behind the link in the address.
#[component]
pub fn InvitePage() -> impl IntoView {
    let token = use_params_map().with_untracked(|p| p.get("token").unwrap_or_default());
    let view_token = token.clone();
    let found = Resource::new(move || view_token.clone(), view_invitation);
    view! {
        <section class="page narrow auth">
            <Transition fallback=|| view! { <Loading/> }>
                {move || {
                    let token = token.clone();
                    Suspend::new(async move {
                        match found.await {
                            Ok(view) => view! { <Invitation view token/> }.into_any(),
                            Err(ApiError::NotFound) => view! {
                                <h1>"This invitation link does not work"</h1>
                                <p class="muted">"Check that the whole link was copied, or ask the team for a new invitation."</p>
                            }
                            .into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn Invitation(view: InvitationView, token: String) -> impl IntoView {
    let inviter = if view.inviter_name.is_empty() {
        "Someone".to_owned()
    } else {
        view.inviter_name.clone()
    };
    let heading = format!("Join {} on Cairn", view.team_name);
    let summary = format!(
        "{inviter} invited {} to join as {}.",
        view.email,
        view.role.label().to_lowercase()
    );
    let body = match view.state {
        InvitationState::Accepted => view! {
            <p class="error" role="alert">"This invitation was accepted already."</p>
            <A href="/projects">"Go to your projects"</A>
        }
        .into_any(),
        InvitationState::Revoked => view! {
            <p class="error" role="alert">"The team took this invitation back."</p>
        }
        .into_any(),
        InvitationState::Expired => view! {
            <p class="error" role="alert">"This invitation has expired. Ask the team to send it again."</p>
        }
        .into_any(),
        InvitationState::Pending => match view.signed_in_as.clone() {
            Some(me) if me == view.email => view! { <AcceptForm token/> }.into_any(),
            Some(me) => view! {
                <p class="error" role="alert">
                    "You are signed in as " {me} ". This invitation is for " {view.email.clone()}
                    ": log out, then follow the link again and sign in with that address."
                </p>
            }
            .into_any(),
            None if view.account_exists => {
                let next = format!("/login?next=/invite/{token}");
                view! {
                    <p>"An account with this address exists. Log in with it to accept."</p>
                    <A href=next attr:class="button primary">"Log in to accept"</A>
                    <p class="muted small">
                        "Not your account? If somebody else registered your address, "
                        <A href="/forgot-password">"reset its password"</A>
                        ": the link goes to your inbox, and every session of that account ends."
                    </p>
                }
                .into_any()
            }
            None => view! { <InvitedSignUp token email=view.email.clone()/> }.into_any(),
        },
    };
    view! {
        <h1>{heading}</h1>
        <p class="lead">{summary}</p>
        {body}
    }
}

#[island_in(accounts)]
fn AcceptForm(token: String) -> impl IntoView {
    let accept = Call::new();
    view! {
        <button class="button primary wide" disabled=move || accept.pending().get()
            on:click=move |_| accept.dispatch_then(accept_invitation(token.clone()), |_| browser::go_to("/projects"))>
            "Accept and join"
        </button>
        {move || accept.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
    }
}

#[island_in(accounts)]
fn InvitedSignUp(token: String, email: String) -> impl IntoView {
    let display_name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let action = Call::reporting_to(error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = InvitedSignUpForm {
            display_name: display_name.get(),
            password: password.get(),
        };
        let checked = Name::parse_for("display_name", &form.display_name)
            .and(NewPassword::parse(&form.password).map(|_| ()));
        match checked {
            Ok(()) => {
                error.set(None);
                action.dispatch_then(sign_up_invited(token.clone(), form), |_| {
                    browser::go_to("/projects")
                });
            }
            Err(e) => error.set(Some(e)),
        }
    };
    const FIELDS: &[&str] = &["display_name", "password"];
    view! {
        <form on:submit=submit novalidate>
            <div class="field">
                <label for="invited-email">"E-mail"</label>
                <input id="invited-email" type="email" readonly value=email autocomplete="username"/>
                <small class="hint">"The invited address; your account uses it."</small>
            </div>
            <Field name="display_name" label="Your name" value=display_name error autocomplete="name" required=true/>
            <Field name="password" label="Password" kind="password" value=password error
                autocomplete="new-password" required=true hint="At least 10 characters."/>
            {move || error.get().filter(|e| form_level(e, FIELDS)).map(|error| view! { <ErrorNote error/> })}
            <button type="submit" class="button primary wide" disabled=move || action.pending().get()>
                {move || if action.pending().get() { "Joining…" } else { "Create account and join" }}
            </button>
        </form>
    }
}
