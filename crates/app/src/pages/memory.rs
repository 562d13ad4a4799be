//! The Memory tab (`/projects/:id/memory`): the Memory Hub of a project.

use crate::browser;
use crate::components::{Call, ErrorNote, Field, Loading, NewItem, form_level};
use crate::pages::search::Results as SearchResultsView;
use crate::pages::{page_param, project_id_param};
use crate::rpc::{
    create_memory_entry, list_memory, search_knowledge, set_memory_status, update_memory_entry,
};
use api::ApiError;
use api::ids::ProjectId;
use api::knowledge::{SearchBy, SearchQuery};
use api::memory::{MemoryEntry, MemoryEntryForm, MemoryKind, MemoryQuery, MemoryStatus};
use islands_macro::island_in;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Entries with status and kind filters, full-text search, manual entries, supersede and restore.
/// The filters are a plain `GET` form: a search is an address (`?status=&kind=&q=&page=`) that can
/// be reloaded, shared and gone back to.
#[component]
pub fn MemoryTab() -> impl IntoView {
    let project_id = project_id_param();
    if use_query_map().with_untracked(|q| q.get("view").as_deref() == Some("tree")) {
        return view! {
            {project_id.map(|project_id| view! { <NewEntry project_id/> })}
            <ViewSwitch project_id tree=true/>
            {project_id.map(|project_id| view! { <FileTreeView project_id/> })}
        }
        .into_any();
    }
    let page = page_param();
    let (status, kind, text, by) = use_query_map().with_untracked(|q| {
        (
            // No `status` at all is the default view (active entries); `status=` is all of them.
            q.get("status").unwrap_or_else(|| "active".to_owned()),
            q.get("kind").unwrap_or_default(),
            q.get("q").unwrap_or_default(),
            // No `by`: the entries themselves, by words; `both` or `meaning`: the project's
            // knowledge as the search page ranks it.
            q.get("by").and_then(|by| SearchBy::parse(&by)),
        )
    });
    let ranked = by.filter(|_| !text.trim().is_empty());
    let filters = MemoryQuery {
        status: MemoryStatus::parse(&status).ok(),
        kind: MemoryKind::parse(&kind).ok(),
        text: text.clone(),
        page,
    };
    let entries = Resource::new(
        move || (project_id, filters.clone(), ranked.is_some()),
        |(project_id, query, ranked)| async move {
            if ranked {
                // The ranked hits are shown instead.
                return Ok(api::memory::MemoryPage::default());
            }
            list_memory(project_id.ok_or(ApiError::NotFound)?, query).await
        },
    );
    let asked = ranked.map(|by| (text.clone(), by));
    let knowledge = Resource::new(
        move || (project_id, asked.clone()),
        |(project_id, query)| async move {
            match (project_id, query) {
                (Some(project_id), Some((text, by))) => Some(
                    search_knowledge(SearchQuery {
                        text,
                        project_id: Some(project_id),
                        by,
                        ..SearchQuery::default()
                    })
                    .await,
                ),
                _ => None,
            }
        },
    );
    let searched = !text.is_empty();
    view! {
        {project_id.map(|project_id| view! { <NewEntry project_id/> })}
        <ViewSwitch project_id tree=false/>
        <form class="filters" role="search" method="get">
            <label>
                <span>"Status"</span>
                <select name="status">
                    <option value="active" selected=status == "active">"Active"</option>
                    <option value="superseded" selected=status == "superseded">"Superseded"</option>
                    <option value="" selected=status.is_empty()>"All"</option>
                </select>
            </label>
            <label>
                <span>"Kind"</span>
                <select name="kind">
                    <option value="">"All kinds"</option>
                    {MemoryKind::ALL.into_iter().map(|k| view! {
                        <option value=k.as_str() selected=kind == k.as_str()>{k.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="grow">
                <span>"Search"</span>
                <input type="search" id="q" name="q" placeholder="Words, \"a phrase\", -excluded" value=text.clone()/>
            </label>
            <label>
                <span>"Match"</span>
                <select name="by" id="memory-by">
                    <option value="" selected=by.is_none()>"Entries by words"</option>
                    <option value=SearchBy::Both.as_str() selected=by == Some(SearchBy::Both)>"Words and meaning"</option>
                    <option value=SearchBy::Meaning.as_str() selected=by == Some(SearchBy::Meaning)>"Meaning only"</option>
                </select>
            </label>
            <button type="submit" class="button">"Search"</button>
        </form>
        {ranked.is_some().then(|| view! {
            <p class="muted small">"Ranked across this project's active files and manual entries, notes, reports and insights; the status and kind filters apply to the entry list only."</p>
        })}
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                knowledge.await.map(|answer| match answer {
                    Ok(found) => view! { <div class="results"><SearchResultsView found/></div> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                })
            })}
        </Transition>
        {ranked.is_none().then(|| view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || {
                let (status, kind, text) = (status.clone(), kind.clone(), text.clone());
                Suspend::new(async move {
                match entries.await {
                    Ok(found) if found.entries.is_empty() => view! {
                        <div class="empty">
                            <h2>"Nothing here"</h2>
                            <p>{if searched {
                                "No entry matches this search and these filters."
                            } else {
                                "Entries imported from the repository and those written by hand appear here. Write one with New entry."
                            }}</p>
                        </div>
                    }
                    .into_any(),
                    Ok(found) => view! {
                        <ul class="memory-list" aria-label="Memory entries">
                            {found.entries.into_iter().map(|entry| {
                                let superseded = entry.status == MemoryStatus::Superseded;
                                // A file is a row (path, language, size, when) unless it was
                                // searched for: then its excerpt shows why it matched.
                                let compact = !searched && entry.kind == MemoryKind::File;
                                let size = size_of(&entry);
                                let entry = if compact { without_text(entry) } else { excerpted(entry) };
                                // The item outside the island: a list holds only items.
                                view! {
                                    <li class="memory-entry" class:superseded=superseded class:compact=compact>
                                        <EntryCard entry compact size/>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                        // The same filters, another page: the browser writes the address.
                        <form class="pager" method="get" aria-label="Pages">
                            <input type="hidden" name="status" value=status/>
                            <input type="hidden" name="kind" value=kind/>
                            <input type="hidden" name="q" value=text/>
                            {(page > 0).then(|| view! {
                                <button class="button ghost" name="page" value=(page - 1).to_string()>"Previous page"</button>
                            })}
                            {found.has_more.then(|| view! {
                                <button class="button ghost" name="page" value=(page + 1).to_string()>"Next page"</button>
                            })}
                        </form>
                    }
                    .into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}}
        </Transition>
        })}
    }
    .into_any()
}

/// "List" (every entry, filtered and searched) or "Files" (the synced files as a tree).
#[component]
fn ViewSwitch(project_id: Option<ProjectId>, tree: bool) -> impl IntoView {
    let base = project_id
        .map(|id| format!("/projects/{id}/memory"))
        .unwrap_or_default();
    view! {
        <nav class="view-switch" aria-label="View">
            <a href=base.clone() aria-current=(!tree).then_some("page")>"List"</a>
            <a href=format!("{base}?view=tree") aria-current=tree.then_some("page")>"Files"</a>
        </nav>
    }
}

/// The project's active files as folders and files; folders open and close (`<details>`).
#[component]
fn FileTreeView(project_id: ProjectId) -> impl IntoView {
    let tree = Resource::new(
        move || project_id,
        |id| async move { crate::rpc::memory_file_tree(id).await },
    );
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                match tree.await {
                    Ok(tree) if tree.files.is_empty() => view! {
                        <div class="empty">
                            <h2>"No files yet"</h2>
                            <p>"Sync the project's repository (Sources) and its files show here as a tree."</p>
                        </div>
                    }
                    .into_any(),
                    Ok(tree) => {
                        let count = tree.files.len();
                        let mut files = tree.files;
                        files.sort_by(|a, b| api::natural_cmp(&a.path, &b.path));
                        let root = Folder::of(files);
                        // Small trees open whole; large ones show their top folders.
                        let open_depth = if count <= 200 { usize::MAX } else { 1 };
                        view! {
                            <p class="muted small">{format!(
                                "{}{}, as synced.",
                                api::count(count, "active file", "active files"),
                                if tree.more { " (the first twenty thousand)" } else { "" }
                            )}</p>
                            <ul class="file-tree" aria-label="Files">
                                {root.render(project_id, 0, open_depth)}
                            </ul>
                        }
                        .into_any()
                    }
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A folder of the tree: its folders (by name) and its files.
#[derive(Default)]
struct Folder {
    folders: Vec<(String, Folder)>,
    files: Vec<(String, api::memory::TreeEntry)>,
}

impl Folder {
    /// The tree of `files` (in path order).
    fn of(files: Vec<api::memory::TreeEntry>) -> Self {
        let mut root = Folder::default();
        for file in files {
            let mut at = &mut root;
            let mut parts: Vec<&str> = file.path.split('/').collect();
            let name = parts.pop().unwrap_or_default().to_owned();
            for part in parts {
                let index = match at.folders.iter().position(|(n, _)| n == part) {
                    Some(index) => index,
                    None => {
                        at.folders.push((part.to_owned(), Folder::default()));
                        at.folders.len() - 1
                    }
                };
                at = &mut at.folders[index].1;
            }
            at.files.push((name, file));
        }
        root
    }

    fn file_count(&self) -> usize {
        self.files.len()
            + self
                .folders
                .iter()
                .map(|(_, f)| f.file_count())
                .sum::<usize>()
    }

    fn render(self, project_id: ProjectId, depth: usize, open_depth: usize) -> AnyView {
        let folders = self
            .folders
            .into_iter()
            .map(|(name, folder)| {
                let count = folder.file_count();
                view! {
                    <li class="tree-folder">
                        <details open=depth < open_depth>
                            <summary>
                                <span class="mono">{format!("{name}/")}</span>
                                " " <span class="muted small">{api::count(count, "file", "files")}</span>
                            </summary>
                            <ul>{folder.render(project_id, depth + 1, open_depth)}</ul>
                        </details>
                    </li>
                }
            })
            .collect_view();
        let files = self
            .files
            .into_iter()
            .map(|(name, file)| {
                view! {
                    <li class="tree-file">
                        <a class="mono" href=format!("/projects/{project_id}/memory/{}", file.id)>{name}</a>
                        {file.byte_size.map(|size| view! { " " <span class="muted small">{api::notes::human_bytes(size)}</span> })}
                    </li>
                }
            })
            .collect_view();
        view! { {folders}{files} }.into_any()
    }
}

/// The tab's heading with its "New entry" button, and the form it opens.
#[island_in(projects)]
fn NewEntry(project_id: ProjectId) -> impl IntoView {
    view! {
        <NewItem title="Memory" open_label="New entry">
            <NewEntryForm project_id/>
        </NewItem>
    }
}

#[component]
fn NewEntryForm(project_id: ProjectId) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let content = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let action = Call::reporting_to(error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = MemoryEntryForm {
            title: title.get(),
            content: content.get(),
        };
        match form.parse() {
            Ok(_) => {
                error.set(None);
                action.dispatch_then(create_memory_entry(project_id, form), |_| {
                    browser::reload_saying("Saved the entry.")
                });
            }
            Err(e) => error.set(Some(e)),
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

/// Characters of an entry's content the list shows.
const EXCERPT_CHARS: usize = 600;

/// The entry as the list's island gets it: the whole text only where it can be edited (manual
/// entries). A file's full contents open on its own page, so its card carries an excerpt, not up
/// to a megabyte of text in the page's island props.
fn excerpted(mut entry: MemoryEntry) -> MemoryEntry {
    if entry.kind != MemoryKind::Manual && entry.content.chars().count() > EXCERPT_CHARS {
        // One character past the excerpt keeps the card's "…".
        entry.content = entry.content.chars().take(EXCERPT_CHARS + 1).collect();
    }
    entry
}

/// A file's entry as its row gets it: no text at all (the row shows its size).
fn without_text(mut entry: MemoryEntry) -> MemoryEntry {
    entry.content = String::new();
    entry
}

/// "3.2 KB · 120 lines": a file's size as synced, and its lines when the whole text is at hand (a
/// list carries only the start of a long file's).
fn size_of(entry: &MemoryEntry) -> String {
    let whole = entry.content.len() as u64;
    let bytes = entry.byte_size.unwrap_or(whole);
    // Said as every size in Cairn is (images, sync limits): "795 B", "4 KiB", "1 MiB".
    let size = api::notes::human_bytes(bytes);
    if bytes == whole {
        let lines = entry.content.lines().count() as u64;
        format!("{size} · {}", api::count(lines, "line", "lines"))
    } else {
        size
    }
}

/// "7 Dec 2026, 13:40 UTC" of an RFC 3339 time.
fn day_and_clock(rfc3339: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let date = rfc3339.get(..10).unwrap_or(rfc3339);
    let mut parts = date.split('-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(year), Some(month), Some(day)) => {
            let month = month
                .parse::<usize>()
                .ok()
                .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
                .copied()
                .unwrap_or(month);
            let day = day.trim_start_matches('0');
            format!(
                "{day} {month} {year}, {}",
                crate::components::clock(rfc3339)
            )
        }
        _ => rfc3339.to_owned(),
    }
}

/// One entry; an island, for editing it and changing its status in place. A `compact` entry (a
/// file in the list, not searched for) is one row: path, language, size, last change.
#[island_in(projects)]
fn EntryCard(entry: MemoryEntry, compact: bool, size: String) -> impl IntoView {
    let id = entry.id;
    let status = entry.status;
    let editable = entry.kind == MemoryKind::Manual;
    let entry_title = StoredValue::new(entry.title.clone());
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
                // It leaves the list it was in: load the list again, saying where it went, with
                // an Undo for the few seconds a slip is noticed in.
                Ok(_) => match next {
                    MemoryStatus::Superseded => browser::reload_saying_with_undo(
                        &format!(
                            "Superseded {}: it is listed under Superseded, where Restore brings it back.",
                            entry_title.get_value()
                        ),
                        &crate::rpc::SetMemoryStatus {
                            id,
                            status: MemoryStatus::Active,
                        },
                        &format!("Restored {}.", entry_title.get_value()),
                    ),
                    MemoryStatus::Active => {
                        browser::reload_saying(&format!("Restored {}.", entry_title.get_value()))
                    }
                },
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
                Ok(_) => browser::reload_saying("Saved the entry."),
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let excerpt: String = entry.content.chars().take(EXCERPT_CHARS).collect();
    let truncated = entry.content.chars().count() > EXCERPT_CHARS;
    view! {
        <div class="entry-body">
            <Show
                when=move || editing.get()
                fallback=move || {
                    let excerpt = excerpt.clone();
                    let entry = entry.clone();
                    if compact {
                        let path = entry.source_path.clone().unwrap_or_else(|| entry.title.clone());
                        return view! {
                            <div class="entry-row">
                                <a class="mono path" href=format!("/projects/{}/memory/{}", entry.project_id, entry.id)>{path}</a>
                                {entry.language.clone().map(|language| view! { <span class="badge">{language}</span> })}
                                <span class="small muted size">{size.clone()}</span>
                                <span class="small muted when" title=entry.updated_at.clone()>{day_and_clock(&entry.updated_at)}</span>
                                {(status == MemoryStatus::Superseded).then(|| view! { <span class="badge status-superseded">"superseded"</span> })}
                                <button class="button ghost small" disabled=move || busy.get() on:click=change_status
                                    aria-label=format!("{} {}", match status { MemoryStatus::Active => "Supersede", MemoryStatus::Superseded => "Restore" }, entry.title)>
                                    {match status { MemoryStatus::Active => "Supersede", MemoryStatus::Superseded => "Restore" }}
                                </button>
                            </div>
                        }.into_any();
                    }
                    view! {
                        <div class="entry-head">
                            <h3>{match entry.kind {
                                MemoryKind::File => view! {
                                    <a href=format!("/projects/{}/memory/{}", entry.project_id, entry.id)>{entry.title.clone()}</a>
                                }.into_any(),
                                _ => entry.title.clone().into_any(),
                            }}</h3>
                            {entry.language.clone().map(|language| view! { <span class="badge">{language}</span> })}
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
                    }.into_any()
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
        </div>
    }
}

/// "Copy" for a file's text, read from the page (the text is not sent twice).
#[island_in(projects)]
fn CopyFile() -> impl IntoView {
    let copied = RwSignal::new(false);
    view! {
        <button type="button" class="button ghost small" on:click=move |_| {
            if let Some(text) = browser::text_of("file-code") {
                browser::copy(&text);
                copied.set(true);
            }
        }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
    }
}

/// A line range of a file, as its address says it: `#L10` or `#L10-L20` (GitHub's form).
fn line_range(fragment: &str) -> Option<(usize, usize)> {
    let (first, last) = match fragment.split_once('-') {
        Some((first, last)) => (first, last),
        None => (fragment, fragment),
    };
    let number = |part: &str| {
        part.strip_prefix('L')?
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
    };
    let (first, last) = (number(first)?, number(last)?);
    Some((first.min(last), first.max(last)))
}

/// A file's line numbers, each a link to its line; a click marks the line, a Shift-click the
/// range from the marked one, and the address says it (`#L10-L20`) to be shared. A range in the
/// address is marked and scrolled to on opening.
#[island_in(projects)]
fn LineNumbers(lines: usize) -> impl IntoView {
    let range = RwSignal::new(None::<(usize, usize)>);
    // Read once hydrated: the server cannot see the fragment.
    Effect::new(move |_| {
        let Some(marked) = browser::fragment().as_deref().and_then(line_range) else {
            return;
        };
        range.set(Some(marked));
        request_animation_frame(|| {
            if let Some(mark) = leptos::prelude::document()
                .query_selector(".line-mark")
                .ok()
                .flatten()
            {
                mark.scroll_into_view_with_bool(true);
            }
        });
    });
    let on_click = move |ev: leptos::ev::MouseEvent| {
        use leptos::wasm_bindgen::JsCast;
        let Some(line) = ev
            .target()
            .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
            .and_then(|el| el.get_attribute("data-line"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            return;
        };
        ev.prevent_default();
        let marked = match range.get_untracked() {
            Some((first, _)) if ev.shift_key() => (first.min(line), first.max(line)),
            _ => (line, line),
        };
        range.set(Some(marked));
        browser::set_fragment(&if marked.0 == marked.1 {
            format!("L{}", marked.0)
        } else {
            format!("L{}-L{}", marked.0, marked.1)
        });
    };
    view! {
        // Numbers are for the eye and the mouse: screen readers and the keyboard skip them.
        <pre class="gutter" aria-hidden="true" on:click=on_click>
            {(1..=lines).map(|n| view! {
                <a id=format!("L{n}") href=format!("#L{n}") data-line=n.to_string() tabindex="-1">{n}</a>"\n"
            }).collect_view()}
        </pre>
        {move || range.get().map(|(first, last)| view! {
            <div class="line-mark" style=format!("--from: {}; --count: {}", first - 1, last - first + 1)></div>
        })}
    }
}

/// The query of the project's Memory list this page was opened from ("?status=active&q=router"),
/// so that "← Memory" goes back to the same filters and search: read from the request's
/// `Referer` (sent within Cairn), only when it is this project's list.
fn memory_list_query() -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        let parts = use_context::<axum::http::request::Parts>()?;
        let referer = parts
            .headers
            .get(axum::http::header::REFERER)?
            .to_str()
            .ok()?;
        let list = format!("{}/memory", parts.uri.path().rsplit_once("/memory/")?.0);
        // The referrer's path and query, without its scheme, host and fragment.
        let after_host = referer.split_once("://")?.1;
        let path_and_query = &after_host[after_host.find('/')?..];
        let path_and_query = path_and_query.split('#').next()?;
        let (path, query) = path_and_query.split_once('?')?;
        (path == list && !query.is_empty()).then(|| format!("?{query}"))
    }
    #[cfg(not(feature = "ssr"))]
    None
}

/// `/projects/:id/memory/:entry_id`: one entry; a file entry as highlighted code.
#[component]
pub fn MemoryEntryPage() -> impl IntoView {
    let entry_id = leptos_router::hooks::use_params_map().with_untracked(|p| {
        api::ids::MemoryEntryId::parse(&p.get("entry_id").unwrap_or_default()).ok()
    });
    let entry = Resource::new(
        move || entry_id,
        |id| async move {
            let id = id.ok_or(ApiError::NotFound)?;
            let (entry, html, on_github) = crate::rpc::get_memory_entry(id).await?;
            let css = match html {
                Some(_) => Some(crate::rpc::code_stylesheet().await?),
                None => None,
            };
            Ok::<_, ApiError>((entry, html, css, on_github))
        },
    );
    let list_query = memory_list_query();
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new({
                let list_query = list_query.clone();
                async move {
                match entry.await {
                    Ok((entry, html, css, on_github)) => {
                    let lines = entry.content.lines().count().max(1);
                    let size = size_of(&entry);
                    let back = format!("/projects/{}/memory{}", entry.project_id, list_query.as_deref().unwrap_or_default());
                    view! {
                        <p><a href=back>"← Memory"</a></p>
                        <div class="entry-head">
                            <h2 class="mono">{entry.title.clone()}</h2>
                            {entry.language.clone().map(|language| view! { <span class="badge">{language}</span> })}
                            <span class=format!("badge status-{}", entry.status.as_str())>{entry.status.as_str()}</span>
                        </div>
                        <p class="muted">{format!("Updated {}", entry.updated_at.get(..16).unwrap_or_default().replace('T', " "))}</p>
                        {css.map(|css| view! { <style inner_html=css></style> })}
                        <div class="file-tools">
                            <span class="small muted">{size}</span>
                            <CopyFile/>
                            {on_github.map(|url| view! {
                                <a class="button ghost small" href=url rel="noopener noreferrer" target="_blank">"Open on GitHub"</a>
                            })}
                        </div>
                        <div class="code-view">
                            <LineNumbers lines/>
                            {match html {
                                Some(html) => view! { <pre class="code hl-code" id="file-code" inner_html=html></pre> }.into_any(),
                                None => view! { <pre class="code" id="file-code">{entry.content.clone()}</pre> }.into_any(),
                            }}
                        </div>
                    }
                    .into_any()
                    }
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            }})}
        </Transition>
    }
}

#[cfg(test)]
mod tests {
    use super::line_range;

    #[test]
    fn a_line_range_is_read_as_github_writes_it() {
        assert_eq!(line_range("L10-L20"), Some((10, 20)));
        assert_eq!(line_range("L20-L10"), Some((10, 20)));
        assert_eq!(line_range("L7"), Some((7, 7)));
        for not_a_range in ["", "L0", "L", "10-20", "Lx", "L1-", "main"] {
            assert_eq!(line_range(not_a_range), None, "{not_a_range}");
        }
    }
}
