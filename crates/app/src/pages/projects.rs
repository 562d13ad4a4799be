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
            <section class="page new-project">
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
                    <BranchField github_repo github_branch error project_id/>
                    <Field name="github_path" label="Scan path" value=github_path error hint="A folder to import; / for everything."/>
                </div>
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

/// The Branch field as a combobox: the repository's branches, listed from GitHub (the button, or
/// ↓ in the field), narrowed by what the field holds, chosen with a click or with the arrows and
/// Enter; Escape closes the list. The focus stays in the field, and once a branch is chosen the
/// list offers all the others again.
#[component]
fn BranchField(
    github_repo: RwSignal<String>,
    github_branch: RwSignal<String>,
    error: RwSignal<Option<ApiError>>,
    project_id: Option<api::ids::ProjectId>,
) -> impl IntoView {
    let load = Call::<api::github::BranchChoices>::reporting_to(error);
    let open = RwSignal::new(false);
    let active = RwSignal::new(None::<usize>);
    let choices = move || load.value().get().and_then(Result::ok);
    let matching = move || {
        let wanted = github_branch.get().trim().to_lowercase();
        choices()
            .map(|c| {
                // The field holding a branch's whole name is a choice made: all are offered.
                let chosen = c.branches.iter().any(|b| b.to_lowercase() == wanted);
                let mut names: Vec<String> = c
                    .branches
                    .into_iter()
                    .filter(|b| chosen || wanted.is_empty() || b.to_lowercase().contains(&wanted))
                    .collect();
                names.truncate(50);
                names
            })
            .unwrap_or_default()
    };
    let showing = move || open.get() && !matching().is_empty();
    let list = move || {
        if load.value().with_untracked(Option::is_none) && !load.pending().get_untracked() {
            load.dispatch(list_branches(github_repo.get_untracked(), project_id));
        }
        open.set(true);
    };
    let choose = move |name: String| {
        github_branch.set(name);
        open.set(false);
        active.set(None);
        if matches!(error.get_untracked(), Some(ApiError::Invalid { ref field, .. }) if field == "github_branch")
        {
            error.set(None);
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let count = matching().len();
        match ev.key().as_str() {
            "ArrowDown" | "ArrowUp" => {
                ev.prevent_default();
                if !open.get_untracked() || count == 0 {
                    list();
                    active.set(None);
                    return;
                }
                let down = ev.key() == "ArrowDown";
                active.set(Some(match active.get_untracked() {
                    None if down => 0,
                    None => count - 1,
                    Some(at) if down => (at + 1) % count,
                    Some(at) => (at + count - 1) % count,
                }));
            }
            "Enter" if showing() => {
                if let Some(name) = active
                    .get_untracked()
                    .and_then(|at| matching().get(at).cloned())
                {
                    ev.prevent_default();
                    choose(name);
                }
            }
            "Escape" if open.get_untracked() => {
                ev.prevent_default();
                open.set(false);
                active.set(None);
            }
            _ => {}
        }
    };
    let message = move || match error.get() {
        Some(ApiError::Invalid { field, reason }) if field == "github_branch" => Some(reason),
        _ => None,
    };
    view! {
        <div class="field combo" class:invalid=move || message().is_some()>
            <label for="github_branch">"Branch"</label>
            <div class="combo-box">
                <input
                    id="github_branch"
                    name="github_branch"
                    autocomplete="off"
                    role="combobox"
                    aria-autocomplete="list"
                    aria-controls="branch-choices"
                    aria-expanded=move || if showing() { "true" } else { "false" }
                    aria-activedescendant=move || active.get().filter(|_| showing()).map(|at| format!("branch-choice-{at}"))
                    aria-describedby="github_branch-hint github_branch-error"
                    aria-invalid=move || if message().is_some() { "true" } else { "false" }
                    bind:value=github_branch
                    on:input=move |_| {
                        active.set(None);
                        if choices().is_some() {
                            open.set(true);
                        }
                        if message().is_some() {
                            error.set(None);
                        }
                    }
                    on:keydown=on_key
                    on:blur=move |_| open.set(false)
                />
                <ul id="branch-choices" class="branch-choices" role="listbox" aria-label="Branches on GitHub"
                    hidden=move || !showing()>
                    {move || matching().into_iter().enumerate().map(|(at, name)| {
                        let (chosen, attribute, current) = (name.clone(), name.clone(), name.clone());
                        view! {
                            <li role="option" id=format!("branch-choice-{at}") data-branch=attribute
                                class:current=move || github_branch.with(|value| value.trim() == current)
                                aria-selected=move || if active.get() == Some(at) { "true" } else { "false" }
                                class:active=move || active.get() == Some(at)
                                // Pressing an option must not take the focus from the field first.
                                on:mousedown=|ev: leptos::ev::MouseEvent| ev.prevent_default()
                                on:click=move |_| choose(chosen.clone())>
                                {name}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </div>
            <small id="github_branch-hint" class="hint">
                {move || match choices() {
                    None => "Default: main. ↓ in the field lists the repository's branches.".to_owned(),
                    Some(c) => format!(
                        "{} on GitHub{}; default {}. Type to narrow the list, ↑ ↓ and Enter to choose.",
                        api::count(c.branches.len(), "branch", "branches"),
                        if c.more { " (the first thousand)" } else { "" },
                        c.default_branch
                    ),
                }}
            </small>
            <small id="github_branch-error" class="field-error" aria-live="polite">{message}</small>
            <button type="button" class="button ghost small list-branches" disabled=move || load.pending().get()
                on:click=move |_| {
                    load.dispatch(list_branches(github_repo.get_untracked(), project_id));
                    open.set(true);
                    browser::focus_first(&["#github_branch".to_owned()]);
                }>
                {move || if load.pending().get() { "Asking GitHub…" } else { "Choose a branch from GitHub" }}
            </button>
        </div>
    }
}
