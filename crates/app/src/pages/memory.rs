//! The Memory tab (`/projects/:id/memory`): the Memory Hub of a project.

use crate::components::{ErrorNote, Field, Loading, form_level};
use crate::rpc::{CreateMemoryEntry, list_memory, set_memory_status, update_memory_entry};
use api::ApiError;
use api::ids::ProjectId;
use api::memory::{MemoryEntry, MemoryEntryForm, MemoryKind, MemoryQuery, MemoryStatus};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// Entries with status and kind filters, full-text search, manual entries, supersede and restore.
#[component]
pub fn MemoryTab() -> impl IntoView {
    let params = use_params_map();
    let project_id = Memo::new(move |_| {
        ProjectId::parse(&params.with(|p| p.get("id").unwrap_or_default())).ok()
    });
    let status = RwSignal::new("active".to_owned());
    let kind = RwSignal::new(String::new());
    let typed = RwSignal::new(String::new());
    let searched = RwSignal::new(String::new());
    let page = RwSignal::new(0u32);
    let reload = RwSignal::new(0u32);
    let entries = Resource::new(
        move || {
            (
                project_id.get(),
                status.get(),
                kind.get(),
                searched.get(),
                page.get(),
                reload.get(),
            )
        },
        |(project_id, status, kind, text, page, _)| async move {
            let project_id = project_id.ok_or(ApiError::NotFound)?;
            let query = MemoryQuery {
                status: MemoryStatus::parse(&status).ok(),
                kind: MemoryKind::parse(&kind).ok(),
                text,
                page,
            };
            list_memory(project_id, query).await
        },
    );
    let creating = RwSignal::new(false);
    let search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        page.set(0);
        searched.set(typed.get());
    };
    view! {
        <div class="tab-head">
            <h2>"Memory"</h2>
            <button class="button primary" on:click=move |_| creating.update(|c| *c = !*c)>
                {move || if creating.get() { "Cancel" } else { "New entry" }}
            </button>
        </div>
        {move || creating.get().then(|| view! { <NewEntryForm project_id reload creating/> })}
        <form class="filters" role="search" on:submit=search>
            <label>
                <span>"Status"</span>
                <select name="status" on:change=move |ev| { page.set(0); status.set(event_target_value(&ev)); }>
                    <option value="active" selected=true>"Active"</option>
                    <option value="superseded">"Superseded"</option>
                    <option value="">"All"</option>
                </select>
            </label>
            <label>
                <span>"Kind"</span>
                <select name="kind" on:change=move |ev| { page.set(0); kind.set(event_target_value(&ev)); }>
                    <option value="">"All kinds"</option>
                    {MemoryKind::ALL.into_iter().map(|k| view! { <option value=k.as_str()>{k.as_str()}</option> }).collect_view()}
                </select>
            </label>
            <label class="grow">
                <span>"Search"</span>
                <input type="search" id="q" name="q" placeholder="Words, \"a phrase\", -excluded" bind:value=typed/>
            </label>
            <button type="submit" class="button">"Search"</button>
        </form>
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(found) if found.entries.is_empty() => view! {
                        <div class="empty">
                            <h2>"Nothing here"</h2>
                            <p>{if searched.get_untracked().is_empty() {
                                "Entries imported from the repository and those written by hand appear here. Write one with New entry."
                            } else {
                                "No entry matches this search and these filters."
                            }}</p>
                        </div>
                    }
                    .into_any(),
                    Ok(found) => view! {
                        <ul class="memory-list" aria-label="Memory entries">
                            {found.entries.into_iter().map(|entry| view! { <EntryCard entry reload/> }).collect_view()}
                        </ul>
                        <div class="pager">
                            {(page.get_untracked() > 0).then(|| view! {
                                <button class="button ghost" on:click=move |_| page.update(|p| *p -= 1)>"Previous page"</button>
                            })}
                            {found.has_more.then(|| view! {
                                <button class="button ghost" on:click=move |_| page.update(|p| *p += 1)>"Next page"</button>
                            })}
                        </div>
                    }
                    .into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn NewEntryForm(
    project_id: Memo<Option<ProjectId>>,
    reload: RwSignal<u32>,
    creating: RwSignal<bool>,
) -> impl IntoView {
    let action = ServerAction::<CreateMemoryEntry>::new();
    let title = RwSignal::new(String::new());
    let content = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    Effect::new(move |_| match action.value().get() {
        Some(Ok(_)) => {
            creating.set(false);
            reload.update(|r| *r += 1);
        }
        Some(Err(e)) => error.set(Some(e)),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = MemoryEntryForm {
            title: title.get(),
            content: content.get(),
        };
        match (form.parse(), project_id.get()) {
            (Ok(_), Some(project_id)) => {
                error.set(None);
                action.dispatch(CreateMemoryEntry { project_id, form });
            }
            (Err(e), _) => error.set(Some(e)),
            (_, None) => error.set(Some(ApiError::NotFound)),
        }
    };
    view! {
        <form class="card-form" on:submit=submit novalidate>
            <Field name="title" label="Title" value=title error required=true/>
            <ContentField value=content error/>
            {move || error.get().filter(|e| form_level(e, &["title", "content"])).map(|error| view! { <ErrorNote error/> })}
            <button type="submit" class="button primary" disabled=move || action.pending().get()>
                {move || if action.pending().get() { "Saving…" } else { "Save entry" }}
            </button>
        </form>
    }
}

#[component]
fn ContentField(value: RwSignal<String>, error: RwSignal<Option<ApiError>>) -> impl IntoView {
    let message = move || match error.get() {
        Some(ApiError::Invalid { field, reason }) if field == "content" => Some(reason),
        _ => None,
    };
    view! {
        <div class="field" class:invalid=move || message().is_some()>
            <label for="content">"Content"</label>
            <textarea id="content" name="content" rows="6" bind:value=value></textarea>
            <small class="field-error" aria-live="polite">{message}</small>
        </div>
    }
}

#[component]
fn EntryCard(entry: MemoryEntry, reload: RwSignal<u32>) -> impl IntoView {
    let id = entry.id;
    let status = entry.status;
    let editable = entry.kind == MemoryKind::Manual;
    let editing = RwSignal::new(false);
    let title = RwSignal::new(entry.title.clone());
    let content = RwSignal::new(entry.content.clone());
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let change_status = move |_| {
        let next = match status {
            MemoryStatus::Active => MemoryStatus::Superseded,
            MemoryStatus::Superseded => MemoryStatus::Active,
        };
        busy.set(true);
        leptos::task::spawn_local(async move {
            match set_memory_status(id, next).await {
                Ok(_) => reload.update(|r| *r += 1),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = MemoryEntryForm {
            title: title.get(),
            content: content.get(),
        };
        if let Err(e) = form.parse() {
            error.set(Some(e));
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            match update_memory_entry(id, form).await {
                Ok(_) => {
                    editing.set(false);
                    reload.update(|r| *r += 1);
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let excerpt: String = entry.content.chars().take(600).collect();
    let truncated = entry.content.chars().count() > 600;
    view! {
        <li class="memory-entry" class:superseded=status == MemoryStatus::Superseded>
            <Show
                when=move || editing.get()
                fallback=move || {
                    let excerpt = excerpt.clone();
                    let entry = entry.clone();
                    view! {
                        <div class="entry-head">
                            <h3>{entry.title.clone()}</h3>
                            <span class=format!("badge kind-{}", entry.kind.as_str())>{entry.kind.as_str()}</span>
                            <span class=format!("badge status-{}", entry.status.as_str())>{entry.status.as_str()}</span>
                        </div>
                        {entry.source_path.clone().map(|path| view! { <p class="mono small muted">{path}</p> })}
                        <p class="excerpt">{excerpt}{truncated.then_some("…")}</p>
                        {(!entry.images.is_empty()).then(|| view! {
                            <div class="strip">
                                {entry.images.iter().map(|image| view! {
                                    <img src=image.url() alt=image.description.clone() loading="lazy"/>
                                }).collect_view()}
                            </div>
                        })}
                        <div class="actions">
                            {editable.then(|| view! {
                                <button class="button ghost small" on:click=move |_| editing.set(true)>"Edit"</button>
                            })}
                            <button class="button ghost small" disabled=move || busy.get() on:click=change_status>
                                {match status { MemoryStatus::Active => "Supersede", MemoryStatus::Superseded => "Restore" }}
                            </button>
                        </div>
                    }
                }
            >
                <form class="card-form" on:submit=save novalidate>
                    <Field name="title" label="Title" value=title error required=true/>
                    <ContentField value=content error/>
                    <div class="actions">
                        <button type="submit" class="button primary" disabled=move || busy.get()>"Save"</button>
                        <button type="button" class="button ghost" on:click=move |_| editing.set(false)>"Cancel"</button>
                    </div>
                </form>
            </Show>
            {move || error.get().filter(|e| form_level(e, &["title", "content"])).map(|error| view! { <ErrorNote error/> })}
        </li>
    }
}
