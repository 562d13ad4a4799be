//! `/projects` and `/projects/new`.

use crate::browser;
use crate::components::{Call, ErrorNote, Field, Loading, form_level};
use crate::root::RequireSession;
use crate::rpc::{create_project, list_branches, list_projects};
use api::ApiError;
use api::projects::{Project, ProjectForm};
use islands_macro::island_in;
use leptos::prelude::*;
use leptos_router::components::A;

/// The dashboard: the active team's projects.
#[component]
pub fn ProjectsPage() -> impl IntoView {
    let projects = Resource::new(|| (), |_| list_projects());
    view! {
        <RequireSession>
            <section class="page">
                <div class="page-head">
                    <h1>"Projects"</h1>
                    <A href="/projects/new" attr:class="button primary">"New project"</A>
                </div>
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        match projects.await {
                            Ok(list) if list.is_empty() => view! {
                                <div class="empty">
                                    <h2>"No projects yet"</h2>
                                    <p>"A project links a GitHub repository to your team's notes and memory."</p>
                                    <A href="/projects/new" attr:class="button primary">"Create the first project"</A>
                                </div>
                            }
                            .into_any(),
                            Ok(list) => view! {
                                <ul class="cards" aria-label="Projects">
                                    {list.into_iter().map(|project| view! { <ProjectCard project/> }).collect_view()}
                                </ul>
                            }
                            .into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </RequireSession>
    }
}

#[component]
fn ProjectCard(project: Project) -> impl IntoView {
    let href = format!("/projects/{}", project.id);
    view! {
        <li class="card">
            <A href=href attr:class="card-link">
                <h2>{project.name.clone()}</h2>
                {project.github.as_ref().map(|link| view! {
                    <p class="repo">
                        <span class="mono">{link.repo.to_string()}</span>
                        " · " <span class="mono">{link.branch.as_str().to_owned()}</span>
                        " · " <span class="mono">{link.path.display()}</span>
                    </p>
                })}
                {(!project.description.is_empty()).then(|| view! { <p class="muted">{project.description.clone()}</p> })}
            </A>
        </li>
    }
}

/// `/projects/new`.
#[component]
pub fn NewProjectPage() -> impl IntoView {
    view! {
        <RequireSession>
            <section class="page narrow">
                <h1>"New project"</h1>
                <NewProjectForm/>
            </section>
        </RequireSession>
    }
}

#[island_in(projects)]
fn NewProjectForm() -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let action = Call::<Project>::reporting_to(error);
    view! {
        <ProjectFormView
            initial=ProjectForm::default()
            error
            pending=Signal::derive(move || action.pending().get())
            submit_label="Create project"
            on_submit=move |form| {
                action.dispatch_then(create_project(form), |project| {
                    browser::go_to(&format!("/projects/{}", project.id))
                })
            }
        />
    }
}

/// The project form, for creating and editing. Validates with the shared parser before submitting.
#[component]
pub fn ProjectFormView(
    initial: ProjectForm,
    error: RwSignal<Option<ApiError>>,
    #[prop(into)] pending: Signal<bool>,
    submit_label: &'static str,
    on_submit: impl Fn(ProjectForm) + 'static,
    /// The project being edited (its token lets the branch picker read a private repository).
    #[prop(optional)]
    project_id: Option<api::ids::ProjectId>,
) -> impl IntoView {
    let name = RwSignal::new(initial.name);
    let description = RwSignal::new(initial.description);
    let github_repo = RwSignal::new(initial.github_repo);
    let github_branch = RwSignal::new(initial.github_branch);
    let github_path = RwSignal::new(initial.github_path);
    let sync_ignore = RwSignal::new(initial.sync_ignore);
    let sync_every_minutes = RwSignal::new(initial.sync_every_minutes);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = ProjectForm {
            name: name.get(),
            description: description.get(),
            github_repo: github_repo.get(),
            github_branch: github_branch.get(),
            github_path: github_path.get(),
            sync_ignore: sync_ignore.get(),
            sync_every_minutes: sync_every_minutes.get(),
        };
        match form.parse() {
            Ok(_) => {
                error.set(None);
                on_submit(form);
            }
            Err(e) => error.set(Some(e)),
        }
    };
    const FIELDS: &[&str] = &[
        "name",
        "github_repo",
        "github_branch",
        "github_path",
        "sync_ignore",
        "sync_every_minutes",
    ];
    view! {
        <form class="project-form" on:submit=submit novalidate>
            <Field name="name" label="Name" value=name error required=true/>
            <div class="field">
                <label for="description">"Description"</label>
                <textarea id="description" name="description" rows="3" bind:value=description></textarea>
            </div>
            <fieldset>
                <legend>"GitHub repository"</legend>
                <Field name="github_repo" label="Repository" value=github_repo error
                    hint="owner/repository, or its GitHub URL. Leave empty to link one later. Pointing a project at another repository removes its GitHub token (it was given for this one); with a token set, only owners and admins re-point it."/>
                <div class="row">
                    <Field name="github_branch" label="Branch" value=github_branch error hint="Default: main"/>
                    <Field name="github_path" label="Scan path" value=github_path error hint="A folder to import; / for everything."/>
                </div>
                <BranchPicker github_repo github_branch error project_id/>
                <div class="field">
                    <label for="sync_ignore">"Also leave out"</label>
                    <textarea id="sync_ignore" name="sync_ignore" rows="3" bind:value=sync_ignore
                        placeholder="generated/
*.snap
docs/old.md"></textarea>
                    <small class="hint">"One per line: a folder, a file type or a path. Dependency and build folders, lock files and binaries are left out already."</small>
                </div>
                <Field name="sync_every_minutes" label="Check for changes every … minutes" kind="number"
                    value=sync_every_minutes error
                    hint="Empty: only when you press Sync, run `cairn sync` or GitHub sends a push. A check that finds the branch unchanged costs nothing and adds nothing to the history."/>
            </fieldset>
            {move || error.get().filter(|e| form_level(e, FIELDS)).map(|error| view! { <ErrorNote error/> })}
            <button type="submit" class="button primary" disabled=move || pending.get()>
                {move || if pending.get() { "Saving…" } else { submit_label }}
            </button>
        </form>
    }
}

/// Lists the repository's branches from GitHub and offers those matching what the branch field
/// holds; a click fills it in.
#[component]
fn BranchPicker(
    github_repo: RwSignal<String>,
    github_branch: RwSignal<String>,
    error: RwSignal<Option<ApiError>>,
    project_id: Option<api::ids::ProjectId>,
) -> impl IntoView {
    let load = Call::<api::github::BranchChoices>::reporting_to(error);
    let choices = move || load.value().get().and_then(Result::ok);
    let matching = move || {
        let wanted = github_branch.get().trim().to_lowercase();
        choices()
            .map(|c| {
                let mut names: Vec<String> = c
                    .branches
                    .into_iter()
                    .filter(|b| wanted.is_empty() || b.to_lowercase().contains(&wanted))
                    .collect();
                names.truncate(30);
                names
            })
            .unwrap_or_default()
    };
    view! {
        <div class="branch-picker">
            <button type="button" class="button ghost" disabled=move || load.pending().get()
                on:click=move |_| load.dispatch(list_branches(github_repo.get(), project_id))>
                {move || if load.pending().get() { "Asking GitHub…" } else { "Choose a branch from GitHub" }}
            </button>
            {move || choices().map(|c| view! {
                <p class="hint">{format!(
                    "{} branches{}; default {}. Type in Branch to narrow the list.",
                    c.branches.len(),
                    if c.more { " (the first thousand)" } else { "" },
                    c.default_branch
                )}</p>
            })}
            <ul class="branch-choices">
                {move || matching().into_iter().map(|name| {
                    let (chosen, attribute) = (name.clone(), name.clone());
                    view! {
                        <li><button type="button" class="chip" data-branch=attribute
                            on:click=move |_| github_branch.set(chosen.clone())>{name}</button></li>
                    }
                }).collect_view()}
            </ul>
        </div>
    }
}
