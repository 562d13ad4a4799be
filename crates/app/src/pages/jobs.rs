//! `/jobs`: the team's background work, for owners and admins: what runs and waits, what failed
//! and why, what ended lately; cancel what has not ended, try again what failed.

use crate::browser;
use crate::components::{Call, ErrorNote, Loading};
use crate::root::RequireSession;
use crate::rpc::{cancel_job, list_jobs, retry_job};
use api::ids::JobId;
use api::jobs::{JobStatus, TeamJob};
use islands_macro::island_in;
use leptos::prelude::*;

/// The page.
#[component]
pub fn JobsPage() -> impl IntoView {
    let jobs = Resource::new(|| (), |_| list_jobs());
    view! {
        <RequireSession>
            <section class="page">
                <h1>"Jobs"</h1>
                <p class="muted">"The team's background work: syncs now, AI workflows later. Newest first; running and queued ones on top."</p>
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        match jobs.await {
                            Ok(list) if list.is_empty() => view! {
                                <div class="empty"><h2>"No jobs yet"</h2><p>"A sync of a project starts one."</p></div>
                            }
                            .into_any(),
                            Ok(list) => view! { <JobTable list/> }.into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </RequireSession>
    }
}

#[component]
fn JobTable(list: Vec<TeamJob>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="syncs jobs">
                <thead>
                    <tr>
                        <th scope="col">"Job"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Asked by"</th>
                        <th scope="col">"Attempts"</th>
                        <th scope="col">"Took"</th>
                        <th scope="col">"Queued"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|job| view! { <JobRow job/> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn JobRow(job: TeamJob) -> impl IntoView {
    let status = crate::pages::sources::status_name(job.status);
    let open = matches!(job.status, JobStatus::Queued | JobStatus::Running);
    view! {
        <tr data-job=job.id.to_string()>
            <td data-label="Job">
                {job.title.clone()}
                <small class="muted mono job-kind">{job.kind.clone()}</small>
            </td>
            <td data-label="Status">
                <span class=format!("badge status-{status}")>{status}</span>
                {job.last_error.clone().map(|error| view! { <small class="error-detail">{error}</small> })}
            </td>
            <td data-label="Asked by">{job.requested_by.clone().unwrap_or_else(|| "Cairn".into())}</td>
            <td data-label="Attempts">{format!("{} of {}", job.attempts, job.max_attempts)}</td>
            <td data-label="Took">{job.duration_secs.map(took).unwrap_or_default()}</td>
            <td data-label="Queued">{job.created_at.get(..16).unwrap_or_default().replace('T', " ")}</td>
            <td data-label="Actions">
                <JobActions id=job.id open retryable=job.retryable/>
            </td>
        </tr>
    }
}

fn took(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

/// Cancel (a job not ended) or Try again (one that failed or was cancelled); the page loads again.
#[island_in(projects)]
fn JobActions(id: JobId, open: bool, retryable: bool) -> impl IntoView {
    let cancel = Call::new();
    let retry = Call::new();
    view! {
        {open.then(|| view! {
            <button class="button small" disabled=move || cancel.pending().get()
                on:click=move |_| cancel.dispatch_then(cancel_job(id), |_| browser::reload())>
                "Cancel"
            </button>
        })}
        {retryable.then(|| view! {
            <button class="button small" disabled=move || retry.pending().get()
                on:click=move |_| retry.dispatch_then(retry_job(id), |_| browser::reload())>
                "Try again"
            </button>
        })}
        {move || cancel.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
        {move || retry.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
    }
}
