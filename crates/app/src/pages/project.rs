//! `/projects/:id` and its tabs.

use crate::components::{ErrorNote, Loading};
use crate::pages::projects::ProjectFormView;
use crate::root::{RequireSession, SessionCtx};
use crate::rpc::{DeleteProject, UpdateProject, get_project};
use api::ApiError;
use api::ids::ProjectId;
use api::projects::Project;
use leptos::prelude::*;
use leptos_router::components::{A, Outlet};
use leptos_router::hooks::{use_navigate, use_params_map};

/// The open project, shared with the tabs.
#[derive(Clone, Copy)]
struct OpenProject {
    project: Resource<Result<Project, ApiError>>,
    reload: RwSignal<u32>,
}

/// The project frame: title, repository and tabs.
#[component]
pub fn ProjectPage() -> impl IntoView {
    let ctx = expect_context::<SessionCtx>();
    let params = use_params_map();
    let reload = RwSignal::new(0u32);
    let project = Resource::new(
        move || {
            (
                params.with(|p| p.get("id")),
                ctx.version.get(),
                reload.get(),
            )
        },
        |(id, _, _)| async move {
            let id = ProjectId::parse(id.as_deref().unwrap_or_default())
                .map_err(|_| ApiError::NotFound)?;
            get_project(id).await
        },
    );
    provide_context(OpenProject { project, reload });
    let base = move || {
        format!(
            "/projects/{}",
            params.with(|p| p.get("id").unwrap_or_default())
        )
    };
    view! {
        <RequireSession>
            <section class="page">
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        match project.await {
                            Ok(p) => view! {
                                <div class="page-head">
                                    <div>
                                        <h1>{p.name.clone()}</h1>
                                        {p.github.as_ref().map(|link| view! {
                                            <p class="repo mono">
                                                {format!("{} · {} · {}", link.repo, link.branch.as_str(), link.path.display())}
                                            </p>
                                        })}
                                    </div>
                                </div>
                            }
                            .into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Transition>
                <nav class="tabs" aria-label="Project sections">
                    <A href=base exact=true>"Overview"</A>
                    <A href=move || format!("{}/notes", base())>"Notes"</A>
                    <A href=move || format!("{}/memory", base())>"Memory"</A>
                    <A href=move || format!("{}/sources", base())>"Sources"</A>
                    <A href=move || format!("{}/settings", base())>"Settings"</A>
                </nav>
                <div class="tab-panel">
                    <Outlet/>
                </div>
            </section>
        </RequireSession>
    }
}

/// Overview: what the project is and where it comes from.
#[component]
pub fn OverviewTab() -> impl IntoView {
    let open = expect_context::<OpenProject>();
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                open.project.await.ok().map(|p| view! {
                    <dl class="facts">
                        <dt>"Description"</dt>
                        <dd>{if p.description.is_empty() { "No description yet.".to_owned() } else { p.description.clone() }}</dd>
                        <dt>"Repository"</dt>
                        <dd>{match &p.github {
                            Some(link) => view! {
                                <a class="mono" href=format!("https://github.com/{}/tree/{}", link.repo, link.branch.as_str())
                                    rel="noopener noreferrer" target="_blank">{link.repo.to_string()}</a>
                            }.into_any(),
                            None => view! { <span class="muted">"Not linked. Link one in Settings."</span> }.into_any(),
                        }}</dd>
                        <dt>"Branch"</dt>
                        <dd class="mono">{p.github.as_ref().map(|l| l.branch.as_str().to_owned()).unwrap_or_else(|| "—".into())}</dd>
                        <dt>"Scan path"</dt>
                        <dd class="mono">{p.github.as_ref().map(|l| l.path.display()).unwrap_or_else(|| "—".into())}</dd>
                        <dt>"Created"</dt>
                        <dd>{p.created_at.get(..10).unwrap_or_default().to_owned()}</dd>
                    </dl>
                })
            })}
        </Transition>
    }
}

/// A tab whose feature arrives later: says what will appear there.
#[component]
pub fn EmptyTab(title: &'static str, text: &'static str) -> impl IntoView {
    view! {
        <div class="empty">
            <h2>{title}</h2>
            <p>{text}</p>
        </div>
    }
}

/// Settings: edit the project, or delete it.
#[component]
pub fn SettingsTab() -> impl IntoView {
    let open = expect_context::<OpenProject>();
    let ctx = expect_context::<SessionCtx>();
    let update = ServerAction::<UpdateProject>::new();
    let delete = ServerAction::<DeleteProject>::new();
    let error = RwSignal::new(None::<ApiError>);
    let saved = RwSignal::new(false);
    let navigate = use_navigate();
    Effect::new(move |_| match update.value().get() {
        Some(Ok(_)) => {
            saved.set(true);
            open.reload.update(|v| *v += 1);
        }
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            ctx.changed();
            navigate("/projects", Default::default());
        }
    });
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                open.project.await.ok().map(|p| {
                    let id = p.id;
                    view! {
                        <h2>"Project settings"</h2>
                        <ProjectFormView
                            initial=p.to_form()
                            error
                            pending=Signal::derive(move || update.pending().get())
                            submit_label="Save changes"
                            on_submit=move |form| {
                                saved.set(false);
                                update.dispatch(UpdateProject { id, form });
                            }
                        />
                        <Show when=move || saved.get()>
                            <p class="success" role="status">"Saved."</p>
                        </Show>
                        <div class="danger-zone">
                            <h3>"Delete project"</h3>
                            <p class="muted">"Deletes its notes, images, memory and sync history. This cannot be undone."</p>
                            <button class="button danger" disabled=move || delete.pending().get()
                                on:click=move |_| {
                                    if confirm(&format!("Delete {}? This cannot be undone.", p.name)) {
                                        delete.dispatch(DeleteProject { id });
                                    }
                                }>
                                "Delete project"
                            </button>
                            {move || delete.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
                        </div>
                    }
                })
            })}
        </Transition>
    }
}

fn confirm(message: &str) -> bool {
    window().confirm_with_message(message).unwrap_or(false)
}
