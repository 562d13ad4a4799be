//! The account: `/account` (address verification, password change, sessions), and the pages its
//! e-mailed links lead to: `/forgot-password`, `/reset-password/:token`, `/verify-email/:token`.

use crate::browser;
use crate::components::{Call, ErrorNote, Field, Loading, form_level};
use crate::root::{RequireSession, SessionCtx};
use crate::rpc::{
    change_password, list_sessions, mail_enabled, request_password_reset, reset_password,
    revoke_session, send_verification_email, verify_email,
};
use api::ApiError;
use api::accounts::{Email, NewPassword};
use api::ids::SessionId;
use api::tenants::{PasswordChangeForm, SessionInfo};
use islands_macro::island_in;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

fn token_param() -> String {
    use_params_map().with_untracked(|p| p.get("token").unwrap_or_default())
}

/// `/account`: who you are, whether your address is verified, your password and your sessions.
#[component]
pub fn AccountPage() -> impl IntoView {
    let ctx = expect_context::<SessionCtx>();
    let sessions = Resource::new(|| (), |_| list_sessions());
    let tokens = Resource::new(|| (), |_| crate::rpc::list_api_tokens());
    let mail = Resource::new(|| (), |_| mail_enabled());
    view! {
        <RequireSession>
            <section class="page narrow">
                <h1>"Your account"</h1>
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        let Ok(Some(session)) = ctx.session.await else {
                            return ().into_any();
                        };
                        let mail = mail.await.unwrap_or(false);
                        let verified = session.email_verified;
                        let command = format!("cairn accounts verify-email {}", session.email);
                        view! {
                            <AccountFacts name=session.display_name email=session.email.clone() verified mail/>
                            {(!verified).then(|| if mail {
                                view! { <VerifyButton/> }.into_any()
                            } else {
                                view! {
                                    <p class="muted small no-mail">
                                        "This Cairn sends no e-mail (its "<code>"mail.smtp_url"</code>
                                        " setting is empty), so no link can prove your address. Whoever runs the server can set up mail, or vouch for your address with "
                                        <code>{command}</code>"."
                                    </p>
                                }.into_any()
                            })}
                        }
                        .into_any()
                    })}
                </Transition>
                <h2>"Change password"</h2>
                <ChangePasswordForm/>
                <h2>"API tokens"</h2>
                <p class="muted">"For scripts, the command line and coding agents: send one as "<code>"Authorization: Bearer cairn_…"</code>". A token acts as you in your active team, with your role there; a read token can change nothing. It is shown once."</p>
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        match tokens.await {
                            Ok(list) => view! { <ApiTokens list/> }.into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Transition>
                <h2>"Your sessions"</h2>
                <p class="muted">"Every browser signed in to your account. Signing one out ends it at once."</p>
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        match sessions.await {
                            Ok(list) => {
                                let others = list.iter().filter(|s| !s.current).count();
                                view! {
                                    <ul class="members" aria-label="Sessions">
                                        {list.into_iter().map(|session| view! { <SessionRow session/> }).collect_view()}
                                    </ul>
                                    {(others > 0).then(|| view! { <SignOutOthers/> })}
                                }
                                .into_any()
                            }
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </RequireSession>
    }
}

/// "Chrome on Linux" from a User-Agent header: enough to tell one's devices apart.
fn browser_label(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map_or("A browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| user_agent.contains(marker))
    .map(|(_, name)| name);
    match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    }
}

#[component]
fn SessionRow(session: SessionInfo) -> impl IntoView {
    let user_agent = session.user_agent.clone().unwrap_or_default();
    let browser_name = browser_label(&user_agent);
    let since = session
        .created_at
        .get(..16)
        .unwrap_or_default()
        .replace('T', " ");
    let seen = session
        .last_seen_at
        .get(..16)
        .unwrap_or_default()
        .replace('T', " ");
    let from = session.client_address.clone().unwrap_or_default();
    let label = format!("Sign out {browser_name}, last used {seen} UTC");
    view! {
        <li class="session">
            <span class="who">
                <strong title=user_agent>{browser_name}</strong>
                <span class="muted small">
                    {format!("signed in {since} UTC · last used {seen} UTC · from {from}")}
                </span>
            </span>
            {session.current.then(|| view! { <span class="badge">"this browser"</span> })}
            <RevokeSessionButton id=session.id current=session.current
                label/>
        </li>
    }
}

#[island_in(accounts)]
fn RevokeSessionButton(id: SessionId, current: bool, label: String) -> impl IntoView {
    let revoke = Call::new();
    view! {
        <button class="button ghost small" disabled=move || revoke.pending().get() aria-label=label
            on:click=move |_| revoke.dispatch_then(revoke_session(id), move |_| {
                if current { browser::go_to("/login") } else { browser::reload_saying("Signed that session out.") }
            })>
            "Sign out"
        </button>
        {move || revoke.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
    }
}

/// "Sign out all other sessions": every browser and device but this one.
#[island_in(accounts)]
fn SignOutOthers() -> impl IntoView {
    let revoke = Call::new();
    view! {
        <button class="button small" disabled=move || revoke.pending().get()
            on:click=move |_| revoke.dispatch_then(crate::rpc::revoke_other_sessions(), |ended: &u64| {
                browser::reload_saying(&format!("Signed out {}.", api::count(*ended, "other session", "other sessions")));
            })>
            "Sign out all other sessions"
        </button>
        {move || revoke.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
    }
}

/// Your name and address, each changed in place: a new address is used once the link mailed to
/// it is followed (until then the account keeps the old one).
#[island_in(accounts)]
fn AccountFacts(name: String, email: String, verified: bool, mail: bool) -> impl IntoView {
    let editing = RwSignal::new(None::<&'static str>);
    let error = RwSignal::new(None::<ApiError>);
    let display_name = RwSignal::new(name.clone());
    let new_email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let rename = Call::reporting_to(error);
    let change = Call::reporting_to(error);
    let sent_to = RwSignal::new(None::<String>);
    let open = move |what: &'static str| {
        error.set(None);
        sent_to.set(None);
        editing.set(Some(what));
        browser::focus_first(&[format!("#{what}")]);
    };
    let save_name = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match api::accounts::Name::parse_for("display_name", &display_name.get()) {
            Ok(_) => rename.dispatch_then(crate::rpc::rename_account(display_name.get()), |_| {
                browser::reload_saying("Saved your name.")
            }),
            Err(e) => error.set(Some(e)),
        }
    };
    let send_link = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match Email::parse(&new_email.get()) {
            Ok(address) => {
                let address = address.as_str().to_owned();
                change.dispatch_then(
                    crate::rpc::change_email(new_email.get(), password.get()),
                    move |_| {
                        sent_to.set(Some(address));
                        editing.set(None);
                        password.set(String::new());
                    },
                );
            }
            Err(e) => error.set(Some(e.renamed("new_email"))),
        }
    };
    let cancel = move |_| {
        editing.set(None);
        error.set(None);
    };
    let current_email = email.clone();
    view! {
        <dl class="facts">
            <dt>"Name"</dt>
            <dd>
                {move || (editing.get() != Some("display_name")).then(|| view! {
                    <span>{name.clone()}</span>" "
                    <button type="button" class="button ghost small" aria-label="Change your name"
                        on:click=move |_| open("display_name")>"Change"</button>
                })}
                {move || (editing.get() == Some("display_name")).then(|| view! {
                    <form class="facts-form" on:submit=save_name novalidate>
                        <Field name="display_name" label="Your name" value=display_name error required=true
                            autocomplete="name" hint="As your teams see it."/>
                        <div class="actions">
                            <button type="submit" class="button primary small" disabled=move || rename.pending().get()>"Save name"</button>
                            <button type="button" class="button ghost small" on:click=cancel>"Cancel"</button>
                        </div>
                    </form>
                })}
            </dd>
            <dt>"E-mail"</dt>
            <dd>
                {move || (editing.get() != Some("new_email")).then(|| view! {
                    <span>{email.clone()}</span>" "
                    {if verified {
                        view! { <span class="badge">"verified"</span> }.into_any()
                    } else {
                        view! { <span class="badge warn">"not verified"</span> }.into_any()
                    }}
                    " "
                    {mail.then(|| view! {
                        <button type="button" class="button ghost small" aria-label="Change your e-mail address"
                            on:click=move |_| open("new_email")>"Change"</button>
                    })}
                })}
                {move || (editing.get() == Some("new_email")).then(|| view! {
                    <form class="facts-form" on:submit=send_link novalidate>
                        <Field name="new_email" label="New address" kind="email" value=new_email error required=true
                            autocomplete="email" hint="A link goes there; your address changes when you follow it."/>
                        <Field name="password" label="Your password" kind="password" value=password error required=true
                            autocomplete="current-password"/>
                        <div class="actions">
                            <button type="submit" class="button primary small" disabled=move || change.pending().get()>"Send the link"</button>
                            <button type="button" class="button ghost small" on:click=cancel>"Cancel"</button>
                        </div>
                    </form>
                })}
            </dd>
        </dl>
        {move || sent_to.get().map(|address| view! {
            <p class="success" role="status">{format!(
                "Sent a link to {address}. Your address changes when you follow it; until then you sign in with {current_email}."
            )}</p>
        })}
        {move || error.get().filter(|e| form_level(e, &["display_name", "new_email", "password"])).map(|error| view! { <ErrorNote error/> })}
        {(!mail).then(|| view! {
            <p class="muted small">"Changing your address needs e-mail, to prove the new one is yours."</p>
        })}
    }
}

#[island_in(accounts)]
fn VerifyButton() -> impl IntoView {
    let send = Call::new();
    view! {
        <p class="actions">
            <button class="button small" disabled=move || send.pending().get()
                on:click=move |_| send.dispatch(send_verification_email())>
                "E-mail me a verification link"
            </button>
        </p>
        {move || send.value().get().map(|result| match result {
            Ok(()) => view! { <p class="success" role="status">"Sent. Follow the link in the message to verify your address."</p> }.into_any(),
            Err(error) => view! { <ErrorNote error/> }.into_any(),
        })}
    }
}

#[island_in(accounts)]
fn ChangePasswordForm() -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let action = Call::reporting_to(error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match NewPassword::parse(&new.get()) {
            Ok(_) => {
                error.set(None);
                action.dispatch(change_password(PasswordChangeForm {
                    current_password: current.get(),
                    new_password: new.get(),
                }));
            }
            Err(e) => error.set(Some(e.renamed("new_password"))),
        }
    };
    const FIELDS: &[&str] = &["current_password", "new_password"];
    view! {
        <form class="card-form" on:submit=submit novalidate>
            <Field name="current_password" label="Current password" kind="password" value=current error
                autocomplete="current-password" required=true/>
            <Field name="new_password" label="New password" kind="password" value=new error
                autocomplete="new-password" required=true hint="At least 10 characters. Your other sessions are signed out."/>
            {move || error.get().filter(|e| form_level(e, FIELDS)).map(|error| view! { <ErrorNote error/> })}
            {move || action.value().get().and_then(Result::ok).map(|revoked| view! {
                <p class="success" role="status">
                    {format!("Password changed. {revoked} other session(s) signed out.")}
                </p>
            })}
            <button type="submit" class="button primary" disabled=move || action.pending().get()>"Change password"</button>
        </form>
    }
}

/// `/forgot-password`: a reset link by e-mail.
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    view! {
        <section class="page narrow auth">
            <h1>"Reset your password"</h1>
            <p class="muted">"Enter your account's address; a link to choose a new password goes there. Resetting signs every browser out of the account."</p>
            <ForgotPasswordForm/>
            <p class="muted"><A href="/login">"Back to log in"</A></p>
        </section>
    }
}

#[island_in(welcome)]
fn ForgotPasswordForm() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let action = Call::reporting_to(error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match Email::parse(&email.get()) {
            Ok(_) => {
                error.set(None);
                action.dispatch(request_password_reset(email.get()));
            }
            Err(e) => error.set(Some(e)),
        }
    };
    view! {
        <form on:submit=submit novalidate>
            <Field name="email" label="E-mail" kind="email" value=email error autocomplete="username" required=true/>
            {move || error.get().filter(|e| form_level(e, &["email"])).map(|error| view! { <ErrorNote error/> })}
            {move || matches!(action.value().get(), Some(Ok(()))).then(|| view! {
                <p class="success" role="status">"If an account uses that address, a link is on its way. It works for one hour."</p>
            })}
            <button type="submit" class="button primary wide" disabled=move || action.pending().get()>"Send the link"</button>
        </form>
    }
}

/// `/reset-password/:token`: choose a new password.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let token = token_param();
    view! {
        <section class="page narrow auth">
            <h1>"Choose a new password"</h1>
            <ResetPasswordForm token/>
        </section>
    }
}

#[island_in(accounts)]
fn ResetPasswordForm(token: String) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let action = Call::reporting_to(error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match NewPassword::parse(&password.get()) {
            Ok(_) => {
                error.set(None);
                action.dispatch_then(reset_password(token.clone(), password.get()), |_| {
                    browser::go_to("/projects")
                });
            }
            Err(e) => error.set(Some(e)),
        }
    };
    view! {
        <form on:submit=submit novalidate>
            <Field name="password" label="New password" kind="password" value=password error
                autocomplete="new-password" required=true hint="At least 10 characters. Every browser signed in to the account is signed out."/>
            {move || error.get().filter(|e| form_level(e, &["password"])).map(|error| view! { <ErrorNote error/> })}
            <button type="submit" class="button primary wide" disabled=move || action.pending().get()>"Set password and log in"</button>
        </form>
    }
}

/// `/verify-email/:token`: confirms the address with a click (a link opened by a mail scanner
/// verifies nothing by itself).
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let token = token_param();
    view! {
        <section class="page narrow auth">
            <h1>"Confirm your e-mail address"</h1>
            <VerifyEmailForm token/>
        </section>
    }
}

#[island_in(accounts)]
fn VerifyEmailForm(token: String) -> impl IntoView {
    let action = Call::new();
    view! {
        <button class="button primary wide" disabled=move || action.pending().get()
            on:click=move |_| action.dispatch(verify_email(token.clone()))>
            "Confirm"
        </button>
        {move || action.value().get().map(|result| match result {
            Ok(()) => view! { <p class="success" role="status">"Your address is verified. " <a href="/account">"Back to your account"</a></p> }.into_any(),
            Err(error) => view! { <ErrorNote error/> }.into_any(),
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::browser_label;

    #[test]
    fn sessions_are_named_by_browser_and_system() {
        assert_eq!(
            browser_label(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"
            ),
            "Chrome on Linux"
        );
        assert_eq!(
            browser_label(
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0; rv:128.0) Gecko/20100101 Firefox/128.0"
            ),
            "Firefox on macOS"
        );
        assert_eq!(browser_label("curl/8.5.0"), "curl");
        assert_eq!(browser_label(""), "A browser");
    }
}

/// The member's API tokens in the active team: make one (shown once), revoke one.
#[island_in(accounts)]
fn ApiTokens(list: Vec<api::tokens::ApiToken>) -> impl IntoView {
    use api::tokens::{ApiTokenForm, TokenScope};
    let name = RwSignal::new(String::new());
    let days = RwSignal::new("90".to_owned());
    let write = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let make = Call::reporting_to(error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        make.dispatch(crate::rpc::create_api_token(ApiTokenForm {
            name: name.get(),
            scope: if write.get() {
                TokenScope::Write
            } else {
                TokenScope::Read
            },
            expires_in_days: days.get(),
        }));
    };
    const FIELDS: &[&str] = &["name", "expires_in_days"];
    view! {
        <ul class="members" aria-label="API tokens">
            {list.into_iter().map(|token| view! { <ApiTokenRow token/> }).collect_view()}
        </ul>
        <form class="card-form" on:submit=submit novalidate>
            <Field name="name" label="Token name" value=name error required=true hint="What it is for: CI, my laptop, an agent."/>
            <Field name="expires_in_days" label="Expires in (days)" value=days error required=true hint="1 to 365."/>
            <label class="checkbox">
                <input type="checkbox" name="write" prop:checked=move || write.get()
                    on:change=move |ev| write.set(event_target_checked(&ev))/>
                " May change things (a write token), not only read"
            </label>
            {move || error.get().filter(|e| form_level(e, FIELDS)).map(|error| view! { <ErrorNote error/> })}
            {move || make.value().get().and_then(Result::ok).map(|made| view! {
                <div class="success token-secret" role="status">
                    <p>"Copy it now: it is not shown again."</p>
                    <code class="mono" data-secret="">{made.secret}</code>
                </div>
            })}
            <button type="submit" class="button primary" disabled=move || make.pending().get()>"Make token"</button>
        </form>
    }
}

#[component]
fn ApiTokenRow(token: api::tokens::ApiToken) -> impl IntoView {
    let day = |at: &str| at.get(..10).unwrap_or_default().to_owned();
    let detail = format!(
        "{} · made {} · expires {} · {}",
        token.scope.as_str(),
        day(&token.created_at),
        day(&token.expires_at),
        token.last_used_at.as_deref().map_or_else(
            || "never used".to_owned(),
            |at| format!("last used {}", day(at))
        ),
    );
    view! {
        <li class="session" data-token=token.id.to_string()>
            <span class="who">
                <strong>{token.name.clone()}</strong>
                <span class="muted small">{detail}</span>
            </span>
            {if token.revoked {
                view! { <span class="badge">"revoked"</span> }.into_any()
            } else {
                view! { <RevokeTokenButton id=token.id/> }.into_any()
            }}
        </li>
    }
}

#[component]
fn RevokeTokenButton(id: api::ids::ApiTokenId) -> impl IntoView {
    let revoke = Call::new();
    view! {
        <button class="button ghost small" disabled=move || revoke.pending().get()
            on:click=move |_| revoke.dispatch_then(crate::rpc::revoke_api_token(id), |_| browser::reload_saying("Revoked the token: it no longer works."))>
            "Revoke"
        </button>
        {move || revoke.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
    }
}
