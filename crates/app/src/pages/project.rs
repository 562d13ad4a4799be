//! `/projects/:id` and its tabs.

use crate::browser;
use crate::components::{Call, ErrorNote, Hint, Loading};
use crate::pages::project_id_param;
use crate::pages::projects::ProjectFormView;
use crate::root::RequireSession;
use crate::rpc::{delete_project, get_project, update_project};
use api::ApiError;
use api::projects::Project;
use islands_macro::island_in;
use leptos::prelude::*;
use leptos_router::components::{A, Outlet};
use leptos_router::hooks::{use_params_map, use_query_map};

/// The open project, shared with the tabs.
#[derive(Clone, Copy)]
struct OpenProject {
    project: Resource<Result<Project, ApiError>>,
}

/// The project frame: title, repository and tabs.
#[component]
pub fn ProjectPage() -> impl IntoView {
    let params = use_params_map();
    let project_id = project_id_param();
    let project = Resource::new(
        move || project_id,
        |id| async move { get_project(id.ok_or(ApiError::NotFound)?).await },
    );
    provide_context(OpenProject { project });
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

/// Overview: what the project is and where it comes from, and its last sync.
#[component]
pub fn OverviewTab() -> impl IntoView {
    let open = expect_context::<OpenProject>();
    let project_id = crate::pages::project_id_param();
    let last_sync = Resource::new(
        move || project_id,
        |id| async move {
            let history = crate::rpc::list_syncs(id.ok_or(ApiError::NotFound)?).await?;
            Ok::<_, ApiError>(history.into_iter().next())
        },
    );
    let insights = Resource::new(
        move || project_id,
        |id| async move { crate::rpc::list_workflow_insights(id.ok_or(ApiError::NotFound)?).await },
    );
    let runs = Resource::new(
        move || project_id,
        |id| async move { crate::rpc::list_project_workflow_runs(id.ok_or(ApiError::NotFound)?).await },
    );
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                // All awaited here, before anything renders: a Suspend nested in this one's view
                // would render empty on the server whenever its data came second, and the read it
                // waited for would be dropped half-way when the page was sent.
                let (project, last_sync) = (open.project.await, last_sync.await);
                let insights = insights.await.unwrap_or_default();
                let runs = runs.await.unwrap_or_default();
                project.ok().map(|p| view! {
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
                        <dt>"Schedule"</dt>
                        <dd>{match (p.sync_every_minutes, &p.sync_checked_at) {
                            (Some(minutes), Some(at)) => format!(
                                "Checks for changes every {minutes} min · last checked {} UTC",
                                at.get(..16).unwrap_or_default().replace('T', " ")
                            ).into_any(),
                            (Some(minutes), None) => format!("Checks for changes every {minutes} min · not checked yet").into_any(),
                            (None, _) => view! {
                                <Hint text="None: syncs when you press Sync, run `cairn sync` or GitHub sends a push."/>
                            }.into_any(),
                        }}</dd>
                        <dt>"Last sync"</dt>
                        <dd data-field="last-sync">{match last_sync {
                            Ok(Some(sync)) => format!(
                                "{} · {} · {}",
                                sync.created_at.get(..16).unwrap_or_default().replace('T', " "),
                                crate::pages::sources::status_name(sync.status),
                                sync.head_sha.as_deref().map(api::syncs::short_sha).unwrap_or("no commit yet"),
                            ),
                            Ok(None) => "Never: sync it from the Sources tab.".to_owned(),
                            Err(_) => "—".to_owned(),
                        }}</dd>
                    </dl>
                    {(!runs.is_empty()).then(|| view! {
                        <section class="runs" aria-label="Workflow runs">
                            <h2>"Workflow runs"</h2>
                            <ul>
                                {runs.into_iter().take(10).map(|run| view! {
                                    <li>
                                        <a href=format!("/projects/{}/notes/{}/runs/{}", p.id, run.note_id, run.id)>{run.template.clone()}</a>
                                        <span class="muted">{format!(
                                            " · {} · {}{}",
                                            run.created_at.get(..16).unwrap_or_default().replace('T', " "),
                                            run.status.as_str(),
                                            run.traced.map(|(done, of)| format!(" · {done} / {of} planned")).unwrap_or_default(),
                                        )}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        </section>
                    })}
                    {(!insights.is_empty()).then(|| view! {
                        <section class="insights" aria-label="Insights from workflows">
                            <h2>"Insights from workflows"</h2>
                            <ul>
                                {insights.into_iter().map(|insight| {
                                    let from = match (insight.run_id, insight.note_id) {
                                        (Some(run), Some(note)) => Some(format!("/projects/{}/notes/{note}/runs/{run}", p.id)),
                                        _ => None,
                                    };
                                    view! {
                                        <li data-kind=insight.kind.clone()>
                                            <strong>{insight.title}</strong>
                                            " " <span class="badge">{format!("{} · {}", insight.kind, insight.severity)}</span>
                                            <p>{insight.body}</p>
                                            {from.map(|href| view! { <a class="muted" href=href>"From its run"</a> })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        </section>
                    })}
                })
            })}
        </Transition>
    }
}

/// Settings: edit the project, or delete it.
#[component]
pub fn SettingsTab() -> impl IntoView {
    let open = expect_context::<OpenProject>();
    // Set by the page load that follows a save.
    let saved = use_query_map().with_untracked(|q| q.get("saved").is_some());
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                open.project.await.ok().map(|project| view! { <ProjectSettings project saved/> })
            })}
        </Transition>
    }
}

#[island_in(projects)]
fn ProjectSettings(project: Project, saved: bool) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let update = Call::reporting_to(error);
    let delete = Call::new();
    let saved = RwSignal::new(saved);
    let id = project.id;
    let name = project.name.clone();
    view! {
        <h2>"Project settings"</h2>
        <ProjectFormView
            project_id=id
            initial=project.to_form()
            error
            pending=Signal::derive(move || update.pending().get())
            submit_label="Save changes"
            on_submit=move |form| {
                saved.set(false);
                // The project's name and link head the page: load it again, as saved.
                update.dispatch_then(update_project(id, form), move |_| {
                    browser::go_to(&format!("/projects/{id}/settings?saved=1"))
                });
            }
        />
        <Show when=move || saved.get()>
            <p class="success" role="status">"Saved."</p>
        </Show>
        <div class="danger-zone">
            <h3>"Delete project"</h3>
            <p class="muted">"Deletes its notes, images, memory and sync history. This cannot be undone."</p>
            <button class="button danger" disabled=move || delete.pending().get()
                on:click=move |_| browser::confirm_then(
                    &format!("Delete {name}, with its notes, images, memory and sync history? This cannot be undone."),
                    "Delete project",
                    move || delete.dispatch_then(delete_project(id), |_| browser::go_to("/projects")),
                )>
                "Delete project"
            </button>
            {move || delete.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
        </div>
    }
}
