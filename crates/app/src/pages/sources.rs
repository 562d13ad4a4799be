//! The Sources tab (`/projects/:id/sources`): the linked repository, Sync and Cancel, the live
//! progress of a running sync (which picks up again after a reload: the page renders the running
//! sync, and its banner reconnects to the sync's event stream), and the sync history.

use crate::browser;
use crate::components::{Call, ErrorNote, Loading, clock, duration, percent_encoded};
use crate::pages::project_id_param;
use crate::rpc::{
    cancel_sync, clear_github_token, clear_webhook_secret, get_source_secrets, list_syncs,
    new_webhook_secret, set_github_token, start_sync,
};
use api::ApiError;
use api::ids::{MemoryEntryId, ProjectId, ProjectSyncId};
use api::jobs::JobStatus;
use api::syncs::{
    ProjectSync, SkippedFile, SourceSecrets, SyncFileChange, SyncPhase, SyncProgress, SyncTrigger,
};
use islands_macro::island_in;
use leptos::prelude::*;

/// The tab.
#[component]
pub fn SourcesTab() -> impl IntoView {
    let project_id = project_id_param();
    let syncs = Resource::new(
        move || project_id,
        |id| async move { list_syncs(id.ok_or(ApiError::NotFound)?).await },
    );
    let secrets = Resource::new(
        move || project_id,
        |id| async move { get_source_secrets(id.ok_or(ApiError::NotFound)?).await },
    );
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                let Some(project_id) = project_id else {
                    return view! { <ErrorNote error=ApiError::NotFound/> }.into_any();
                };
                match syncs.await {
                    Ok(history) => {
                        let active = history
                            .iter()
                            .find(|s| matches!(s.status, JobStatus::Queued | JobStatus::Running))
                            .map(|s| RunningSync {
                                id: s.id,
                                job_id: s.job_id,
                                branch: s.branch.clone(),
                                commit: s.head_sha.clone(),
                                status: s.status,
                            });
                        let credentials = secrets.await.ok();
                        view! {
                            <SyncPanel project_id active/>
                            <SyncHistory history/>
                            {credentials.map(|secrets| view! { <Credentials project_id secrets/> })}
                        }
                        .into_any()
                    }
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// What the banner needs of the running sync (an island's props travel to the browser: the
/// whole record would bring its parser into the bundle).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct RunningSync {
    id: ProjectSyncId,
    job_id: Option<api::ids::JobId>,
    branch: String,
    /// The commit it syncs, once read.
    commit: Option<String>,
    status: JobStatus,
}

/// Sync and Cancel, and the live banner of the running sync.
#[island_in(sources)]
fn SyncPanel(project_id: ProjectId, active: Option<RunningSync>) -> impl IntoView {
    let start = Call::<()>::new();
    let cancel = Call::new();
    let running = active.is_some();
    let sync_id = active.as_ref().map(|s| s.id);
    view! {
        <div class="tab-head">
            <h2>"Sync"</h2>
            <div class="actions">
                {match sync_id {
                    Some(id) => view! {
                        <button class="button" disabled=move || cancel.pending().get()
                            on:click=move |_| cancel.dispatch_then(cancel_sync(id), |_| browser::reload())>
                            "Cancel sync"
                        </button>
                    }.into_any(),
                    None => view! {
                        <button class="button primary" disabled=move || start.pending().get()
                            on:click=move |_| start.dispatch_then(start_sync(project_id), |_| browser::reload())>
                            "Sync now"
                        </button>
                    }.into_any(),
                }}
            </div>
        </div>
        {move || start.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
        {move || cancel.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
        {if running {
            active.map(|sync| view! { <LiveBanner sync/> }).into_any()
        } else {
            view! { <p class="muted">"Imports the branch into the Memory Hub: only files whose contents changed are fetched."</p> }.into_any()
        }}
        <input type="hidden" id="sync-id" value=sync_id.map(|id: ProjectSyncId| id.to_string())/>
    }
}

/// The running sync's progress, followed live over its event stream.
#[component]
fn LiveBanner(sync: RunningSync) -> impl IntoView {
    let progress = RwSignal::new(None::<SyncProgress>);
    let status = RwSignal::new(sync.status);
    if let Some(job) = sync.job_id {
        follow(job, progress, status);
    }
    let phase = move || progress.get().map(|p| p.phase);
    let branch = sync.branch.clone();
    let known_commit = StoredValue::new(sync.commit.clone());
    let commit = move || {
        progress
            .get()
            .and_then(|p| p.commit)
            .or_else(|| known_commit.get_value())
    };
    // The history's row of this sync says what the banner says (it was drawn with the page).
    let sync_id = sync.id;
    Effect::new(move |_| mirror_in_history(sync_id, status.get(), progress.get(), commit()));
    view! {
        <section class="sync-banner" aria-live="polite" data-status=move || status_name(status.get())>
            <h3 class="sync-title">
                {move || api::syncs::sync_title(&branch, commit().as_deref())}
                " " <span class=move || format!("badge status-{}", status_name(status.get()))>{move || status_name(status.get())}</span>
            </h3>
            <ol class="phases">
                {[SyncPhase::Prepare, SyncPhase::Scan, SyncPhase::Import, SyncPhase::Finalize]
                    .into_iter()
                    .map(|step| view! {
                        <li class:done=move || phase().is_some_and(|p| p > step)
                            class:current=move || phase() == Some(step)>
                            {phase_label(step)}
                        </li>
                    })
                    .collect_view()}
            </ol>
            <progress
                max=move || progress.get().map(|p| p.to_fetch.max(1)).unwrap_or(1)
                value=move || progress.get().map(|p| p.fetched).unwrap_or(0)
            ></progress>
            <p class="sync-line">
                {move || match progress.get() {
                    None => "Waiting to start".to_owned(),
                    Some(p) => progress_line(&p),
                }}
            </p>
            {move || progress.get().and_then(|p| p.waiting_until).map(|until| view! {
                <p class="warning">{format!("Waiting for GitHub's rate limit until {}", clock(&until))}</p>
            })}
        </section>
    }
}

/// Writes the running sync's status, commit, files and requests into its row of the history below
/// the banner.
#[cfg(feature = "hydrate")]
fn mirror_in_history(
    sync: ProjectSyncId,
    status: JobStatus,
    progress: Option<SyncProgress>,
    commit: Option<String>,
) {
    let document = leptos::prelude::document();
    let row = format!("tr[data-sync='{sync}']");
    let cell = |label: &str| {
        document
            .query_selector(&format!("{row} td[data-label='{label}']"))
            .ok()
            .flatten()
    };
    if let Ok(Some(badge)) = document.query_selector(&format!("{row} .sync-status")) {
        badge.set_text_content(Some(status_name(status)));
        badge.set_class_name(&format!("badge sync-status status-{}", status_name(status)));
    }
    if let (Some(commit), Some(cell)) = (commit, cell("Commit")) {
        cell.set_text_content(Some(api::syncs::short_sha(&commit)));
    }
    if let Some(progress) = progress {
        if let Some(cell) = cell("Files") {
            cell.set_text_content(Some(&progress.so_far()));
        }
        if let Some(cell) = cell("Requests") {
            cell.set_text_content(Some(&progress.github_requests.to_string()));
        }
    }
}

#[cfg(not(feature = "hydrate"))]
fn mirror_in_history(_: ProjectSyncId, _: JobStatus, _: Option<SyncProgress>, _: Option<String>) {}

/// Subscribes to the job's events: progress updates the banner, the end loads the page again
/// (the history then shows the finished sync).
#[cfg(feature = "hydrate")]
fn follow(
    job: api::ids::JobId,
    progress: RwSignal<Option<SyncProgress>>,
    status: RwSignal<JobStatus>,
) {
    use leptos::wasm_bindgen::JsCast;
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::web_sys::{EventSource, MessageEvent};

    /// What the banner reads of an event (an `api::jobs::JobEvent` on the wire), straight into
    /// the sync's types: going through `serde_json::Value` would add its parser to the bundle.
    #[derive(serde::Deserialize)]
    struct BannerEvent {
        progress: Option<SyncProgress>,
        status: Option<JobStatus>,
    }

    let Ok(source) = EventSource::new(&format!("/api/v1/events/jobs/{job}")) else {
        return;
    };
    let on_event = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let parsed = event
            .data()
            .as_string()
            .and_then(|data| serde_json::from_str::<BannerEvent>(&data).ok());
        if let Some(event) = parsed {
            if let Some(p) = event.progress {
                // Progress comes only from a running sync: a page drawn while it was queued learns
                // it started here, whether or not its stream saw the change of status.
                if status.get_untracked() == JobStatus::Queued {
                    status.set(JobStatus::Running);
                }
                progress.set(Some(p));
            }
            if let Some(s) = event.status {
                status.set(s);
            }
        }
    });
    let _ = source.add_event_listener_with_callback("progress", on_event.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("status", on_event.as_ref().unchecked_ref());
    let closing = source.clone();
    let on_end = Closure::<dyn FnMut(MessageEvent)>::new(move |_: MessageEvent| {
        closing.close();
        browser::reload();
    });
    let _ = source.add_event_listener_with_callback("end", on_end.as_ref().unchecked_ref());
    // The page lives as long as the stream: the handlers stay attached.
    on_event.forget();
    on_end.forget();
}

#[cfg(not(feature = "hydrate"))]
fn follow(_: api::ids::JobId, _: RwSignal<Option<SyncProgress>>, _: RwSignal<JobStatus>) {}

fn phase_label(phase: SyncPhase) -> &'static str {
    match phase {
        SyncPhase::Prepare => "Prepare",
        SyncPhase::Scan => "Scan",
        SyncPhase::Import => "Import",
        SyncPhase::Finalize => "Finalize",
    }
}

/// A sync's status in words.
pub(crate) fn status_name(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Queued => "queued",
        JobStatus::Running => "running",
        JobStatus::Completed => "completed",
        JobStatus::Failed => "failed",
        JobStatus::Cancelled => "cancelled",
    }
}

/// "120 / 400 files · +3 ~2 →1 −1 =500 · 9 skipped · 14 GitHub requests (4,986 left) · about 12 s left"
fn progress_line(p: &SyncProgress) -> String {
    let mut parts = Vec::new();
    if p.phase >= SyncPhase::Import && p.to_fetch > 0 {
        let files = api::count(p.to_fetch, "file", "files");
        parts.push(format!("{} / {files} fetched", p.fetched));
    } else if p.counts.scanned > 0 {
        parts.push(format!(
            "{} scanned",
            api::count(p.counts.scanned, "file", "files")
        ));
    }
    parts.push(p.counts.summary());
    let requests = api::count(p.github_requests, "GitHub request", "GitHub requests");
    let requests = match p.rate_limit_remaining {
        Some(left) => format!("{requests} ({left} left)"),
        None => requests,
    };
    parts.push(requests);
    if let Some(eta) = p.eta_secs.filter(|_| p.phase == SyncPhase::Import) {
        parts.push(format!("about {} left", duration(eta)));
    }
    parts.join(" · ")
}

/// The project's syncs, newest first.
#[component]
fn SyncHistory(history: Vec<ProjectSync>) -> impl IntoView {
    if history.is_empty() {
        return view! {
            <div class="empty"><h2>"No syncs yet"</h2><p>"Press Sync now to import the linked branch."</p></div>
        }
        .into_any();
    }
    view! {
        <h2>"History"</h2>
        <div class="table-scroll">
            <table class="syncs">
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"By"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Commit"</th>
                        <th scope="col">"Took"</th>
                        <th scope="col">"Files"</th>
                        <th scope="col">"Requests"</th>
                    </tr>
                </thead>
                <tbody>
                    {history.into_iter().map(|sync| view! { <SyncRow sync/> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn SyncRow(sync: ProjectSync) -> impl IntoView {
    let by = match (sync.trigger, &sync.requested_by) {
        (SyncTrigger::Button, Some(name)) => name.clone(),
        (SyncTrigger::Cli, _) => "the command line".into(),
        (SyncTrigger::Webhook, _) => "a push (webhook)".into(),
        (SyncTrigger::Schedule, _) => "the schedule".into(),
        (_, None) => "—".into(),
    };
    let took = match (&sync.started_at, &sync.finished_at) {
        (Some(start), Some(end)) => seconds_between(start, end)
            .map(duration)
            .unwrap_or_default(),
        _ => String::new(),
    };
    let status = status_name(sync.status);
    view! {
        <tr data-sync=sync.id.to_string()>
            <td data-label="When">
                <a href=sync_path(&sync)>
                    {sync.created_at.get(..16).unwrap_or_default().replace('T', " ")}
                </a>
            </td>
            <td data-label="By">{by}</td>
            <td data-label="Status">
                <span class=format!("badge sync-status status-{status}")>{status}</span>
                {sync.error.clone().map(|error| view! { <small class="error-detail">{error}</small> })}
            </td>
            <td data-label="Commit" class="mono">{sync.head_sha.as_deref().map(|s| api::syncs::short_sha(s).to_owned()).unwrap_or_default()}</td>
            <td data-label="Took">{took}</td>
            <td data-label="Files">{sync.outcome()}</td>
            <td data-label="Requests">{sync.github_requests}</td>
        </tr>
    }
}

/// Whole seconds from one RFC 3339 time to another (same day or not), without a date library in
/// the bundle: both come from the server, so they share its offset.
fn seconds_between(start: &str, end: &str) -> Option<u64> {
    let secs = |t: &str| -> Option<i64> {
        let (date, time) = t.split_once('T')?;
        let mut d = date.split('-').map(|n| n.parse::<i64>().ok());
        let (y, m, day) = (d.next()??, d.next()??, d.next()??);
        let mut h = time.get(..8)?.split(':').map(|n| n.parse::<i64>().ok());
        let (hh, mm, ss) = (h.next()??, h.next()??, h.next()??);
        // Days from a fixed origin (civil calendar), enough for differences.
        let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
        let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * m + 2) / 5 + day;
        Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
    };
    u64::try_from(secs(end)? - secs(start)?).ok()
}

/// The GitHub token (write-only: "set", never the value) and the push webhook's address and
/// secret (shown once, when made).
#[island_in(sources)]
fn Credentials(project_id: ProjectId, secrets: SourceSecrets) -> impl IntoView {
    let token = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let save = Call::reporting_to(error);
    let remove = Call::reporting_to(error);
    let make = Call::reporting_to(error);
    let made = RwSignal::new(None::<String>);
    let token_set = secrets.github_token_set_at.clone();
    let webhook_set = secrets.webhook_secret_set_at.clone();
    let busy = move || save.pending().get() || remove.pending().get() || make.pending().get();
    view! {
        <section class="credentials">
            <h2>"GitHub access"</h2>
            <div class="field">
                <label for="github_token">"Token"</label>
                <p class="muted" id="token-status">{match &token_set {
                    Some(at) => format!("Set on {}. It is never shown again; paste a new one to replace it.", at.get(..10).unwrap_or(at)),
                    None => "Not set. Public repositories need none; private ones need a token that can read contents.".to_owned(),
                }}</p>
                <input id="github_token" name="github_token" type="password" autocomplete="off"
                    placeholder="github_pat_…" bind:value=token/>
            </div>
            <div class="actions">
                <button class="button" disabled=busy
                    on:click=move |_| save.dispatch_then(set_github_token(project_id, token.get()), |_| browser::reload_saying("Saved the token: syncs of this project use it."))>
                    "Save token"
                </button>
                {token_set.is_some().then(|| view! {
                    <button class="button ghost" disabled=busy
                        on:click=move |_| remove.dispatch_then(clear_github_token(project_id), |_| browser::reload_saying("Removed the token."))>
                        "Remove token"
                    </button>
                })}
            </div>
            <h2>"Push webhook"</h2>
            <p class="muted">"In the repository's Settings → Webhooks, add this payload URL with content type application/json and the secret below; each push to the branch then syncs it."</p>
            <div class="field">
                <label for="webhook_url">"Payload URL"</label>
                <input id="webhook_url" readonly value=secrets.webhook_url.clone()/>
            </div>
            <p class="muted" id="webhook-status">{match &webhook_set {
                Some(at) => format!("Secret made on {}.", at.get(..10).unwrap_or(at)),
                None => "No secret yet: pushes do not start syncs.".to_owned(),
            }}</p>
            {move || made.get().map(|secret| view! {
                <div class="field">
                    <label for="webhook_secret">"Secret (shown once: paste it into GitHub now)"</label>
                    <input id="webhook_secret" readonly value=secret/>
                </div>
            })}
            <div class="actions">
                <button class="button" disabled=busy
                    on:click=move |_| make.dispatch_then(new_webhook_secret(project_id), move |secret| made.set(Some(secret.clone())))>
                    {if webhook_set.is_some() { "Make a new secret" } else { "Make a secret" }}
                </button>
                {webhook_set.is_some().then(|| view! {
                    <button class="button ghost" disabled=busy
                        on:click=move |_| remove.dispatch_then(clear_webhook_secret(project_id), |_| browser::reload_saying("Removed the webhook secret: pushes no longer start syncs."))>
                        "Remove secret"
                    </button>
                })}
            </div>
            {move || error.get().map(|error| view! { <ErrorNote error/> })}
        </section>
    }
}

/// `/projects/:id/sources/syncs/:sync_id`: what one sync changed, path by path.
#[component]
pub fn SyncPage() -> impl IntoView {
    let sync_id = leptos_router::hooks::use_params_map()
        .with_untracked(|p| ProjectSyncId::parse(&p.get("sync_id").unwrap_or_default()).ok());
    // One server call per resource: a resource's future can outlive the page that started it
    // (the router may build a route's view more than once while rendering), and a second call made
    // after that would find no request to run in.
    let sync = Resource::new(
        move || sync_id,
        |id| async move { crate::rpc::get_sync(id.ok_or(ApiError::NotFound)?).await },
    );
    let changes = Resource::new(
        move || sync_id,
        |id| async move { crate::rpc::sync_changes(id.ok_or(ApiError::NotFound)?).await },
    );
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                let details = match (sync.await, changes.await) {
                    (Ok(sync), Ok(changes)) => Ok((sync, changes)),
                    (Err(error), _) | (_, Err(error)) => Err(error),
                };
                match details {
                    Ok((sync, changes)) => view! {
                        <p><a href=format!("/projects/{}/sources", sync.project_id)>"← Sources"</a></p>
                        <h2>{api::syncs::sync_title(&sync.branch, sync.head_sha.as_deref())}</h2>
                        <p class="muted">{format!(
                            "{} · {} · {}",
                            sync.created_at.get(..16).unwrap_or_default().replace('T', " "),
                            status_name(sync.status),
                            sync.outcome(),
                        )}</p>
                        {sync.error.clone().map(|error| view! { <p class="error">{error}</p> })}
                        <PathList title="Added" paths=changes.added base=sync_path(&sync)/>
                        <PathList title="Changed" paths=changes.changed base=sync_path(&sync)/>
                        <PathList title="Moved here (same contents)" paths=changes.moved base=sync_path(&sync)/>
                        <PathList title="Removed" paths=changes.removed base=sync_path(&sync)/>
                        {changes.more.then(|| view! { <p class="muted">"The first thousand paths are shown."</p> })}
                        <SkippedList skipped=changes.skipped counted=sync.counts.skipped.values().sum()
                            over=!matches!(sync.status, JobStatus::Queued | JobStatus::Running)/>
                    }
                    .into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A sync's changed paths of one kind, each linked to what the sync did to it (its diff).
#[component]
fn PathList(title: &'static str, mut paths: Vec<String>, base: String) -> impl IntoView {
    // As people read them: tok2.rs before tok10.rs.
    paths.sort_by(|a, b| api::natural_cmp(a, b));
    (!paths.is_empty()).then(|| {
        view! {
            <section class="path-list">
                <h3>{format!("{title} ({})", paths.len())}</h3>
                <ul class="mono">
                    {paths.into_iter().map(|path| {
                        let href = format!("{base}/file?path={}", percent_encoded(&path));
                        view! { <li><a href=href>{path}</a></li> }
                    }).collect_view()}
                </ul>
            </section>
        }
    })
}

/// The files a sync left out, with why.
#[component]
fn SkippedList(mut skipped: Vec<SkippedFile>, counted: u32, over: bool) -> impl IntoView {
    skipped.sort_by(|a, b| api::natural_cmp(&a.path, &b.path));
    let listed = skipped.len();
    (counted > 0).then(|| {
        view! {
            <section class="path-list skipped-list">
                <h3>{format!("Skipped ({counted})")}</h3>
                {(listed == 0).then(|| view! {
                    <p class="muted">{if over {
                        "This sync was made before skipped files were kept by name; the next one lists them."
                    } else {
                        "Listed by name once the sync is over."
                    }}</p>
                })}
                <ul>
                    {skipped.into_iter().map(|file| view! {
                        <li><span class="mono">{file.path}</span>" "<span class="muted">{format!("— {}", file.why)}</span></li>
                    }).collect_view()}
                </ul>
                {(listed > 0 && (listed as u32) < counted).then(|| view! {
                    <p class="muted">{format!("The first {listed} are listed.")}</p>
                })}
            </section>
        }
    })
}

/// The address of a sync's page.
fn sync_path(sync: &ProjectSync) -> String {
    format!("/projects/{}/sources/syncs/{}", sync.project_id, sync.id)
}

/// `/projects/:id/sources/syncs/:sync_id/file?path=…`: what one sync did to one file, as a line
/// diff of its text before and after, with links to both entries.
#[component]
pub fn SyncFilePage() -> impl IntoView {
    let sync_id = leptos_router::hooks::use_params_map()
        .with_untracked(|p| ProjectSyncId::parse(&p.get("sync_id").unwrap_or_default()).ok());
    let path = leptos_router::hooks::use_query_map()
        .with_untracked(|q| q.get("path"))
        .unwrap_or_default();
    let project_id = project_id_param();
    let change = Resource::new(
        move || (sync_id, path.clone()),
        |(id, path)| async move {
            crate::rpc::sync_file_change(id.ok_or(ApiError::NotFound)?, path).await
        },
    );
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                let (Some(project_id), Some(sync_id)) = (project_id, sync_id) else {
                    return view! { <ErrorNote error=ApiError::NotFound/> }.into_any();
                };
                match change.await {
                    Ok(change) => view! { <FileChange change project_id sync_id/> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn FileChange(
    change: SyncFileChange,
    project_id: ProjectId,
    sync_id: ProjectSyncId,
) -> impl IntoView {
    let entry = |id: MemoryEntryId| format!("/projects/{project_id}/memory/{id}");
    let what = match (change.old_entry, change.new_entry) {
        (None, Some(_)) if change.lines.is_empty() => {
            "Moved here by this sync, with the same contents."
        }
        (None, Some(_)) => "Added by this sync.",
        (Some(_), Some(_)) => "Changed by this sync.",
        (Some(_), None) => "Removed by this sync (gone from the branch).",
        (None, None) => "",
    };
    let (added, removed) = change
        .lines
        .iter()
        .fold((0, 0), |(a, r), line| match line.sign {
            '+' => (a + 1, r),
            '-' => (a, r + 1),
            _ => (a, r),
        });
    view! {
        <p><a href=format!("/projects/{project_id}/sources/syncs/{sync_id}")>"← This sync"</a></p>
        <h2 class="mono file-title">{change.path.clone()}</h2>
        <p class="muted change-summary">
            {what}
            {(added + removed > 0).then(|| view! {
                " " <span class="diff-added">{format!("+{added}")}</span>
                " " <span class="diff-removed">{format!("−{removed}")}</span>
            })}
        </p>
        <div class="actions">
            {change.new_entry.map(|id| view! { <a class="button ghost small" href=entry(id)>"The entry now"</a> })}
            {change.old_entry.map(|id| view! { <a class="button ghost small" href=entry(id)>"The entry before (superseded)"</a> })}
        </div>
        {(!change.lines.is_empty()).then(|| view! {
            <div class="code-view diff-view">
                <table class="diff" aria-label=format!("Changes to {}", change.path)>
                    <tbody>
                        {change.lines.into_iter().map(|line| {
                            let class = match line.sign {
                                '+' => "diff-line add",
                                '-' => "diff-line del",
                                '@' => "diff-line hunk",
                                _ => "diff-line",
                            };
                            let number = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
                            let sign = if line.sign == '@' { ' ' } else { line.sign };
                            view! {
                                <tr class=class>
                                    <td class="diff-no">{number(line.old_line)}</td>
                                    <td class="diff-no">{number(line.new_line)}</td>
                                    <td class="diff-text"><span class="diff-sign" aria-hidden="true">{sign.to_string()}</span>{line.text}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        })}
        {(change.more_lines > 0).then(|| view! {
            <p class="muted">{format!("{} more lines of the diff are not shown: open the entry to read the whole file.", change.more_lines)}</p>
        })}
    }
}
