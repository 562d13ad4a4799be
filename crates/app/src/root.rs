//! The document shell, the app's routes and its frame (top bar, tenant switcher).
//!
//! Pages are rendered on the server, with their data, before the response starts (`SsrMode::Async`:
//! a page that needs a session can still answer 302 to the log-in page). Only the interactive parts
//! are islands (`#[island]`), hydrated in the browser from the props they were rendered with.

use crate::assets::{Assets, IslandsScript, PageBundle};
use crate::browser;
use crate::components::{Call, ErrorNote, Loading};
use crate::pages::{
    account::{AccountPage, ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage},
    ai::AiPage,
    auth::{LogInPage, SignUpPage},
    home::HomePage,
    invite::InvitePage,
    jobs::JobsPage,
    memory::{MemoryEntryPage, MemoryTab},
    notes::{NotePage, NotesTab},
    project::{OverviewTab, ProjectPage, SettingsTab},
    projects::{NewProjectPage, ProjectsPage},
    sources::{SourcesTab, SyncFilePage, SyncPage},
    team::TeamPage,
};
use crate::rpc::{current_session, log_out, switch_tenant};
use api::ApiError;
use api::ids::TenantId;
use api::tenants::SessionView;
use islands_macro::island_in;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{A, ParentRoute, Route, Router, Routes};
use leptos_router::{SsrMode, path};
use std::sync::Arc;

/// The whole HTML document, rendered on the server around [`App`].
pub fn shell(assets: Arc<Assets>) -> impl IntoView {
    provide_context(assets.clone());
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" href=assets.url("cairn.css")/>
                <link rel="icon" type="image/svg+xml" href=assets.url("favicon.svg")/>
                <IslandsScript assets/>
                <MetaTags/>
            </head>
            <body>
                <a class="skip-link" href="#main">"Skip to content"</a>
                <App/>
                <ShortcutList/>
                <ConfirmDialog/>
                <div id="notice" class="toast" role="status" aria-live="polite" hidden>
                    <span class="notice-text"></span>
                    <button type="button" class="button small notice-undo" hidden>"Undo"</button>
                    <button type="button" class="button ghost small notice-close" aria-label="Dismiss">"×"</button>
                </div>
                <script>{concat!(
                    include_str!("shortcuts.js"),
                    include_str!("notice.js"),
                    include_str!("confirm.js"),
                    include_str!("filters.js"),
                )}</script>
            </body>
        </html>
    }
}

/// The keyboard shortcuts, listed on "?" (`shortcuts.js` opens it; Escape or Close shuts it).
#[component]
fn ShortcutList() -> impl IntoView {
    // Keys pressed one after the other (" then "), or together (" + ").
    let keys: [(&[&str], &str, &str); 9] = [
        (&["/"], "", "Search the team"),
        (&["?"], "", "Show this list"),
        (&["g", "p"], " then ", "Go to projects"),
        (&["g", "t"], " then ", "Go to the team"),
        (&["g", "a"], " then ", "Go to AI"),
        (&["g", "w"], " then ", "Go to workflows"),
        (&["g", "s"], " then ", "Go to search"),
        (
            &["Ctrl", "Enter"],
            " + ",
            "Send a question (⌘ + Enter on a Mac)",
        ),
        (&["Esc"], "", "Close this list"),
    ];
    view! {
        <dialog id="shortcuts" class="shortcuts" aria-labelledby="shortcuts-title">
            <h2 id="shortcuts-title">"Keyboard shortcuts"</h2>
            <dl>
                {keys.into_iter().map(|(keys, joiner, what)| view! {
                    <div class="shortcut">
                        <dt>{keys.iter().enumerate().map(|(i, key)| view! {
                            {(i > 0).then_some(joiner)}<kbd>{*key}</kbd>
                        }).collect_view()}</dt>
                        <dd>{what}</dd>
                    </div>
                }).collect_view()}
            </dl>
            <form method="dialog"><button class="button">"Close"</button></form>
        </dialog>
    }
}

/// The one way the app asks before doing what cannot be undone (`browser::confirm_then` fills it
/// in and opens it; `confirm.js`). Cancel is the default: Enter or Escape right away does nothing.
#[component]
fn ConfirmDialog() -> impl IntoView {
    view! {
        <dialog id="confirm" class="confirm-dialog" aria-labelledby="confirm-text">
            <form method="dialog">
                <p id="confirm-text" class="confirm-text"></p>
                <div class="actions">
                    <button value="yes" class="button danger confirm-yes"></button>
                    <button value="no" class="button ghost confirm-no">"Cancel"</button>
                </div>
            </form>
        </dialog>
    }
}

/// The signed-in session, read once per page and shared by the frame and the page.
#[derive(Clone, Copy)]
pub struct SessionCtx {
    /// The current session (`None` when signed out).
    pub session: Resource<Result<Option<SessionView>, ApiError>>,
}

/// The application: routes inside a frame.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let session = Resource::new(|| (), |_| current_session());
    provide_context(SessionCtx { session });

    view! {
        <Title text="Cairn"/>
        <Router>
            <TopBar/>
            <main class="main" id="main">
                <Routes fallback=|| view! { <NotFoundPage/> }>
                    <Route ssr=SsrMode::Async path=path!("/") view=HomePage/>
                    <Route ssr=SsrMode::Async path=path!("/login") view=|| page("welcome", LogInPage)/>
                    <Route ssr=SsrMode::Async path=path!("/signup") view=|| page("welcome", SignUpPage)/>
                    <Route ssr=SsrMode::Async path=path!("/projects") view=|| page("projects", ProjectsPage)/>
                    <Route ssr=SsrMode::Async path=path!("/projects/new") view=|| page("projects", NewProjectPage)/>
                    <ParentRoute ssr=SsrMode::Async path=path!("/projects/:id") view=ProjectPage>
                        <Route ssr=SsrMode::Async path=path!("") view=|| page("projects", OverviewTab)/>
                        <Route ssr=SsrMode::Async path=path!("notes") view=|| page("projects", NotesTab)/>
                        <Route ssr=SsrMode::Async path=path!("notes/:note_id") view=|| page("notes", NotePage)/>
                        <Route ssr=SsrMode::Async path=path!("notes/:note_id/runs/:run_id") view=|| page("notes", crate::pages::workflows::WorkflowRunPage)/>
                        <Route ssr=SsrMode::Async path=path!("memory") view=|| page("projects", MemoryTab)/>
                        <Route ssr=SsrMode::Async path=path!("memory/:entry_id") view=|| page("projects", MemoryEntryPage)/>
                        <Route ssr=SsrMode::Async path=path!("sources") view=|| page("sources", SourcesTab)/>
                        <Route ssr=SsrMode::Async path=path!("sources/syncs/:sync_id") view=|| page("sources", SyncPage)/>
                        <Route ssr=SsrMode::Async path=path!("sources/syncs/:sync_id/file") view=|| page("sources", SyncFilePage)/>
                        <Route ssr=SsrMode::Async path=path!("settings") view=|| page("projects", SettingsTab)/>
                    </ParentRoute>
                    <Route ssr=SsrMode::Async path=path!("/team") view=|| page("accounts", TeamPage)/>
                    <Route ssr=SsrMode::Async path=path!("/ai") view=|| page("ai", AiPage)/>
                    <Route ssr=SsrMode::Async path=path!("/workflows") view=|| page("ai", crate::pages::workflow_templates::WorkflowTemplatesPage)/>
                    <Route ssr=SsrMode::Async path=path!("/jobs") view=|| page("projects", JobsPage)/>
                    <Route ssr=SsrMode::Async path=path!("/search") view=|| page("projects", crate::pages::search::SearchPage)/>
                    <Route ssr=SsrMode::Async path=path!("/account") view=|| page("accounts", AccountPage)/>
                    <Route ssr=SsrMode::Async path=path!("/invite/:token") view=|| page("accounts", InvitePage)/>
                    <Route ssr=SsrMode::Async path=path!("/forgot-password") view=|| page("welcome", ForgotPasswordPage)/>
                    <Route ssr=SsrMode::Async path=path!("/reset-password/:token") view=|| page("accounts", ResetPasswordPage)/>
                    <Route ssr=SsrMode::Async path=path!("/verify-email/:token") view=|| page("accounts", VerifyEmailPage)/>
                </Routes>
            </main>
        </Router>
    }
}

/// A page of an area: the page, with the browser bundle of the area's islands named (and preloaded)
/// in the head. Pages of one area share their bundle: the second one loads no code.
fn page<V: IntoView + 'static>(bundle: &'static str, page: fn() -> V) -> impl IntoView {
    view! {
        <PageBundle name=bundle/>
        {page()}
    }
}

#[component]
fn NotFoundPage() -> impl IntoView {
    view! {
        <section class="page narrow">
            <h1>"Page not found"</h1>
            <p class="muted">"There is nothing at this address."</p>
            <A href="/">"Back to Cairn"</A>
        </section>
    }
}

/// The top bar: brand, navigation, tenant switcher, user and log-out.
#[component]
fn TopBar() -> impl IntoView {
    let ctx = expect_context::<SessionCtx>();
    let icon =
        use_context::<Arc<Assets>>().map_or_else(String::new, |assets| assets.url("favicon.svg"));
    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">
                <img src=icon alt="" width="22" height="22"/>
                <span>"Cairn"</span>
            </A>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match ctx.session.await {
                        Ok(Some(session)) => view! { <SignedInBar session/> }.into_any(),
                        _ => view! {
                            <nav class="nav">
                                <A href="/login">"Log in"</A>
                                <A href="/signup" attr:class="button primary small">"Sign up"</A>
                            </nav>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </header>
    }
}

#[component]
fn SignedInBar(session: SessionView) -> impl IntoView {
    let manager = session
        .active()
        .is_some_and(|team| team.role.allows(api::tenants::Permission::ManageJobs));
    view! {
        <nav class="nav">
            <A href="/projects">"Projects"</A>
            <A href="/team">"Team"</A>
            <A href="/ai">"AI"</A>
            <A href="/workflows">"Workflows"</A>
            {manager.then(|| view! { <A href="/jobs">"Jobs"</A> })}
        </nav>
        // Works without script: the search page renders the first results on the server.
        <form class="top-search" role="search" method="get" action="/search">
            <label class="visually-hidden" for="top-search">"Search the team"</label>
            <input id="top-search" name="q" type="search" placeholder="Search the team…"
                aria-keyshortcuts="/" title="Search the team (press /)"/>
        </form>
        <AccountMenu session/>
    }
}

/// The tenant switcher, the user and log-out: after either action the browser loads the page the
/// new session leads to.
#[island_in(accounts, ai, notes, projects, sources)]
fn AccountMenu(session: SessionView) -> impl IntoView {
    let switch = Call::new();
    let log_out_call = Call::new();
    let active = session.active_tenant;
    view! {
        <div class="account">
            <label class="tenant-switcher">
                <span class="visually-hidden">"Team"</span>
                <select
                    name="tenant"
                    aria-label="Switch team"
                    on:change=move |ev| {
                        if let Ok(tenant_id) = TenantId::parse(&event_target_value(&ev)) {
                            switch.dispatch_then(switch_tenant(tenant_id), |_| browser::go_to("/projects"));
                        }
                    }
                >
                    {session
                        .tenants
                        .into_iter()
                        .map(|t| {
                            let selected = Some(t.id) == active;
                            view! {
                                <option value=t.id.to_string() selected=selected>
                                    {t.name}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <a class="user" href="/account" title=session.email>{session.display_name}</a>
            <button class="button ghost small" on:click=move |_| log_out_call.dispatch_then(log_out(), |_| browser::go_to("/login"))>
                "Log out"
            </button>
            {move || switch.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
            {move || log_out_call.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
        </div>
    }
}

/// Renders `children` for a signed-in user; sends everyone else to the log-in page.
#[component]
pub fn RequireSession(children: ChildrenFn) -> impl IntoView {
    let ctx = expect_context::<SessionCtx>();
    let children = StoredValue::new(children);
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                match ctx.session.await {
                    Ok(Some(_)) => children.read_value()().into_any(),
                    Ok(None) => view! { <leptos_router::components::Redirect path="/login"/> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
    }
}
