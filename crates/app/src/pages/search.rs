//! `/search`: the team's knowledge searched by words and meaning at once (file entries, manual
//! entries, notes, workflow reports and insights), with filters that apply as they change. The
//! top bar's box sends its words here (`?q=`); a project's Memory tab links here with `?project=`.
//! The first results are rendered on the server, so the page answers before any script runs.

use crate::components::{ErrorNote, Loading};
use crate::rpc::{list_projects, search_knowledge};
use api::ApiError;
use api::ids::ProjectId;
use api::knowledge::{
    MARK_END, MARK_START, SearchBy, SearchHit, SearchQuery, SearchResults, SourceKind,
};
use islands_macro::island_in;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SearchPage() -> impl IntoView {
    let (text, project) = use_query_map().with_untracked(|q| {
        (
            q.get("q").unwrap_or_default(),
            q.get("project").and_then(|p| ProjectId::parse(&p).ok()),
        )
    });
    let data = Resource::new(
        || (),
        move |_| {
            let text = text.clone();
            async move {
                let projects: Vec<(ProjectId, String)> = list_projects()
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| (p.id, p.name))
                    .collect();
                let first = if text.trim().is_empty() {
                    None
                } else {
                    Some(
                        search_knowledge(SearchQuery {
                            text: text.clone(),
                            project_id: project,
                            ..SearchQuery::default()
                        })
                        .await,
                    )
                };
                (text, projects, first)
            }
        },
    );
    view! {
        <crate::root::RequireSession>
            <section class="page search-page">
                <h1>"Search"</h1>
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        let (text, projects, first) = data.await;
                        view! { <Search text project projects first/> }
                    })}
                </Transition>
            </section>
        </crate::root::RequireSession>
    }
}

/// The search form and its results: a change of any filter searches again at once; the words
/// search on Enter (and as they are typed, once they rest).
#[island_in(projects)]
fn Search(
    text: String,
    project: Option<ProjectId>,
    projects: Vec<(ProjectId, String)>,
    first: Option<Result<SearchResults, ApiError>>,
) -> impl IntoView {
    let text = RwSignal::new(text);
    let project = RwSignal::new(project);
    let kinds = RwSignal::new(Vec::<SourceKind>::new());
    let language = RwSignal::new(String::new());
    let path = RwSignal::new(String::new());
    let by = RwSignal::new(SearchBy::Both);
    let results = RwSignal::new(first);
    let searching = RwSignal::new(false);
    // Projects are found by name, here, among the team's.
    let every_project = StoredValue::new(projects.clone());
    let projects_named = move || {
        let words = text.get().trim().to_lowercase();
        if words.is_empty() {
            return Vec::new();
        }
        every_project.with_value(|all| {
            all.iter()
                .filter(|(_, name)| name.to_lowercase().contains(&words))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    // Answers arriving out of order: only the latest search's is shown.
    let asked = StoredValue::new(0u32);
    let run = move || {
        let words = text.get_untracked();
        if words.trim().is_empty() {
            results.set(None);
            return;
        }
        let query = SearchQuery {
            text: words,
            project_id: project.get_untracked(),
            kinds: kinds.get_untracked(),
            language: Some(language.get_untracked()),
            path_prefix: Some(path.get_untracked()),
            by: by.get_untracked(),
        };
        asked.update_value(|n| *n += 1);
        let mine = asked.get_value();
        searching.set(true);
        leptos::task::spawn_local(async move {
            let answer = search_knowledge(query).await;
            if asked.get_value() == mine {
                results.set(Some(answer));
                searching.set(false);
            }
        });
    };
    // The words search once typing rests for a moment.
    let typed = StoredValue::new(0u32);
    let on_typed = move || {
        typed.update_value(|n| *n += 1);
        let mine = typed.get_value();
        set_timeout(
            move || {
                if typed.get_value() == mine {
                    run();
                }
            },
            std::time::Duration::from_millis(300),
        );
    };
    let toggle = move |kind: SourceKind, on: bool| {
        kinds.update(|all| {
            all.retain(|k| *k != kind);
            if on {
                all.push(kind);
            }
        });
        run();
    };
    view! {
        <form class="search-form" role="search" method="get" action="/search"
            on:submit=move |ev| { ev.prevent_default(); run(); }>
            <label class="visually-hidden" for="search-text">"Search the team's knowledge"</label>
            <input id="search-text" name="q" type="search" autocomplete="off"
                placeholder="Words or a question" bind:value=text on:input=move |_| on_typed()/>
            <div class="filters">
                <label class="visually-hidden" for="search-project">"Project"</label>
                <select id="search-project" name="project"
                    on:change=move |ev| {
                        project.set(ProjectId::parse(&event_target_value(&ev)).ok());
                        run();
                    }>
                    <option value="" selected=move || project.get().is_none()>"Every project"</option>
                    {projects.into_iter().map(|(id, name)| view! {
                        <option value=id.to_string() selected=move || project.get() == Some(id)>{name}</option>
                    }).collect_view()}
                </select>
                <fieldset class="kinds">
                    <legend class="visually-hidden">"Kinds"</legend>
                    {SourceKind::ALL.into_iter().map(|kind| view! {
                        <label class="check-field">
                            <input type="checkbox" name="kind" value=kind.as_str()
                                on:change=move |ev| toggle(kind, event_target_checked(&ev))/>
                            {kind.label()}
                        </label>
                    }).collect_view()}
                </fieldset>
                <label class="visually-hidden" for="search-by">"Match by"</label>
                <select id="search-by" name="by"
                    on:change=move |ev| {
                        by.set(SearchBy::parse(&event_target_value(&ev)).unwrap_or_default());
                        run();
                    }>
                    {SearchBy::ALL.into_iter().map(|choice| view! {
                        <option value=choice.as_str() selected=move || by.get() == choice>{choice.label()}</option>
                    }).collect_view()}
                </select>
                <label class="visually-hidden" for="search-language">"Language"</label>
                <input id="search-language" name="language" class="small-input" placeholder="Language (rust)"
                    bind:value=language on:change=move |_| run()/>
                <label class="visually-hidden" for="search-path">"Path starts with"</label>
                <input id="search-path" name="path" class="small-input mono" placeholder="Path (src/)"
                    bind:value=path on:change=move |_| run()/>
            </div>
        </form>
        {move || {
            let found = projects_named();
            (!found.is_empty()).then(|| view! {
                <section class="project-hits" aria-labelledby="project-hits-title">
                    <h2 id="project-hits-title" class="small muted">"Projects"</h2>
                    <ul>
                        {found.into_iter().map(|(id, name)| view! {
                            <li><a href=format!("/projects/{id}")>{name}</a></li>
                        }).collect_view()}
                    </ul>
                </section>
            })
        }}
        <div class="results" aria-live="polite" aria-busy=move || searching.get().to_string()>
            {move || results.get().map(|answer| match answer {
                Ok(found) => view! { <Results found/> }.into_any(),
                Err(error) => view! { <ErrorNote error/> }.into_any(),
            })}
        </div>
    }
}

/// A search's hits, with how it ran (the Memory tab shows them too).
#[component]
pub(crate) fn Results(found: SearchResults) -> impl IntoView {
    let count = found.hits.len();
    view! {
        <p class="muted" id="search-summary">
            {match count {
                0 => "No match.".to_owned(),
                1 => "1 match".to_owned(),
                n => format!("{n} matches"),
            }}
            {match found.mode {
                api::knowledge::SearchMode::Hybrid => " · by words and meaning",
                api::knowledge::SearchMode::FullText => " · by words",
                api::knowledge::SearchMode::Meaning => " · by meaning",
            }}
        </p>
        {found.note.map(|note| view! { <p class="notice" role="status">{note}</p> })}
        <ol class="hits">
            {found.hits.into_iter().map(|hit| view! { <Hit hit/> }).collect_view()}
        </ol>
    }
}

#[component]
fn Hit(hit: SearchHit) -> impl IntoView {
    let lines = hit
        .lines
        .map(|(start, end)| format!(" · lines {start}–{end}"))
        .unwrap_or_default();
    view! {
        <li class="hit" data-kind=hit.kind.as_str()>
            <a class="hit-title" href=hit.link.clone()>{hit.title.clone()}</a>
            <span class="muted small">{format!("{lines} · {} · {}", hit.project_name, hit.kind.label())}</span>
            <span class="badge" title="Why it matched">{hit.matched.label()}</span>
            <p class="snippet">{highlighted(&hit.snippet)}</p>
        </li>
    }
}

/// The snippet with its matching words as `<mark>`s.
fn highlighted(snippet: &str) -> impl IntoView + use<> {
    let mut parts = Vec::new();
    let mut rest = snippet;
    while let Some(start) = rest.find(MARK_START) {
        parts.push((false, rest[..start].to_owned()));
        let after = &rest[start + MARK_START.len_utf8()..];
        let end = after.find(MARK_END).unwrap_or(after.len());
        parts.push((true, after[..end].to_owned()));
        rest = after.get(end + MARK_END.len_utf8()..).unwrap_or_default();
    }
    parts.push((false, rest.to_owned()));
    parts
        .into_iter()
        .filter(|(_, text)| !text.is_empty())
        .map(|(marked, text)| {
            let text = text.replace([MARK_START, MARK_END], "");
            if marked {
                view! { <mark>{text}</mark> }.into_any()
            } else {
                text.into_any()
            }
        })
        .collect_view()
}
