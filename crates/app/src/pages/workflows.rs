//! AI workflows on a note: start a run of a template, and follow it step by step on its own page
//! (reload-safe: everything shown is stored; the page reloads as the run stores each step).

use crate::browser;
use crate::components::{Call, ErrorNote, Loading};
use crate::rpc::{cancel_job, rerun_workflow_from, resume_workflow_run, start_workflow_run};
use api::ApiError;
use api::ids::{NoteId, ProjectId, WorkflowRunId};
use api::jobs::JobStatus;
use api::workflows::{StepPreview, WorkflowRun, WorkflowStep};
use islands_macro::island_in;
use leptos::prelude::*;

/// On a note's page: run a template on the note, and the note's earlier runs.
#[component]
pub fn NoteWorkflows(note_id: NoteId, project_id: ProjectId, available: bool) -> impl IntoView {
    let templates = Resource::new(|| (), |_| crate::rpc::list_workflow_templates());
    let runs = Resource::new(move || note_id, crate::rpc::list_workflow_runs);
    view! {
        <section class="workflows" aria-label="Workflows">
            <h2>"Workflows"</h2>
            <Transition fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    let names: Vec<String> = templates
                        .await
                        .unwrap_or_default()
                        .into_iter()
                        .map(|t| t.name)
                        .collect();
                    let runs = runs.await.unwrap_or_default();
                    view! {
                        {if available {
                            view! { <RunWorkflow note_id project_id templates=names/> }.into_any()
                        } else {
                            view! { <p class="muted">"No AI provider yet: an owner or admin adds one on the AI page."</p> }.into_any()
                        }}
                        <ul class="runs">
                            {runs.into_iter().map(|run| view! {
                                <li>
                                    <a href=run_path(project_id, note_id, run.id)>{run.template.clone()}</a>
                                    <span class="muted">{format!(
                                        " · {} · {}{}",
                                        run.created_at.get(..16).unwrap_or_default().replace('T', " "),
                                        run.status.as_str(),
                                        run.traced.map(|(done, of)| format!(" · {done} / {of} planned")).unwrap_or_default(),
                                    )}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }
                    .into_any()
                })}
            </Transition>
        </section>
    }
}

fn run_path(project: ProjectId, note: NoteId, run: WorkflowRunId) -> String {
    format!("/projects/{project}/notes/{note}/runs/{run}")
}

/// The template picker and the button that starts a run (refused, saying why, when its worst case
/// exceeds what is left of the team's month).
#[island_in(notes)]
fn RunWorkflow(note_id: NoteId, project_id: ProjectId, templates: Vec<String>) -> impl IntoView {
    let chosen = RwSignal::new(templates.first().cloned().unwrap_or_default());
    let error = RwSignal::new(None::<ApiError>);
    let start = Call::<WorkflowRun>::reporting_to(error);
    let run = move |confirm: Option<bool>| {
        start.dispatch_then(
            start_workflow_run(note_id, chosen.get_untracked(), confirm),
            move |run| browser::go_to(&run_path(project_id, note_id, run.id)),
        );
    };
    // A run past the team's per-run limit is refused until confirmed: ask, and start it again.
    Effect::new(move |_| {
        if let Some(ApiError::Conflict { message }) = error.get()
            && message.starts_with(api::workflows::CONFIRM_PREFIX)
        {
            error.set(None);
            browser::confirm_then(&message, "Run it", move || run(Some(true)));
        }
    });
    view! {
        <div class="actions">
            <label class="visually-hidden" for="workflow-template">"Template"</label>
            <select id="workflow-template" on:change=move |ev| chosen.set(event_target_value(&ev))>
                {templates.into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
            </select>
            <button class="button" disabled=move || start.pending().get()
                on:click=move |_| run(None)>
                "Run workflow"
            </button>
        </div>
        {move || error.get().map(|error| view! { <ErrorNote error/> })}
    }
}

/// `/projects/:id/notes/:note_id/runs/:run_id`: a run's timeline.
#[component]
pub fn WorkflowRunPage() -> impl IntoView {
    let run_id = leptos_router::hooks::use_params_map()
        .with_untracked(|p| WorkflowRunId::parse(&p.get("run_id").unwrap_or_default()).ok());
    let run = Resource::new(
        move || run_id,
        |id| async move { crate::rpc::get_workflow_run(id.ok_or(ApiError::NotFound)?).await },
    );
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                match run.await {
                    Ok(run) => view! { <RunView run/> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// How a template step stands in a run.
fn step_state(run: &WorkflowRun, index: usize) -> &'static str {
    let answered = run.answered(&run.definition.steps[index]);
    match (answered, run.next_step() == Some(index), run.status) {
        (true, _, _) => "done",
        (false, true, JobStatus::Running) => "running",
        (false, true, JobStatus::Failed) => "failed",
        (false, true, JobStatus::Cancelled) => "cancelled",
        _ => "waiting",
    }
}

fn step_figures(steps: &[&WorkflowStep]) -> String {
    let tokens_in: u32 = steps.iter().map(|s| s.tokens_in).sum();
    let tokens_out: u32 = steps.iter().map(|s| s.tokens_out).sum();
    let cost = steps.iter().fold(0.0, |sum, s| sum + s.cost_usd);
    let ms: u32 = steps.iter().map(|s| s.duration_ms).sum();
    format!(
        "{tokens_in} tokens in · {tokens_out} out · {} · {:.1} s",
        api::ai::usd(cost),
        f64::from(ms) / 1000.0
    )
}

/// The run: its steps as a timeline (each with its figures, trail and output), the traceability
/// count, and what can be done with it (cancel, resume, the report).
#[island_in(notes)]
fn RunView(run: WorkflowRun) -> impl IntoView {
    let error = RwSignal::new(None::<ApiError>);
    let cancel = Call::<()>::reporting_to(error);
    let resume = Call::<WorkflowRun>::reporting_to(error);
    let rerun = Call::<WorkflowRun>::reporting_to(error);
    let (project_id, note_id) = (run.project_id, run.note_id);
    let open = !run.status.is_final();
    // The answers under way, as the run's stream shows them.
    let previews = RwSignal::new(Vec::<StepPreview>::new());
    if open && let Some(job) = run.job_id {
        follow(job, run.steps.len(), previews);
    }
    let run_id = run.id;
    let job_id = run.job_id;
    let back = format!("/projects/{}/notes/{}", run.project_id, run.note_id);
    let tokens: (u32, u32) = run
        .steps
        .iter()
        .fold((0, 0), |(i, o), s| (i + s.tokens_in, o + s.tokens_out));
    let timeline = (0..run.definition.steps.len())
        .map(|index| {
            let step = &run.definition.steps[index];
            let state = step_state(&run, index);
            let mut stored: Vec<&WorkflowStep> = run
                .steps
                .iter()
                .filter(|s| s.step_key == step.key)
                .collect();
            // A fan-out's items as the list numbers them, not as they happened to finish.
            stored.sort_by(|a, b| {
                api::natural_cmp(
                    a.item.as_deref().unwrap_or_default(),
                    b.item.as_deref().unwrap_or_default(),
                )
            });
            let figures = (!stored.is_empty()).then(|| step_figures(&stored));
            let count = step.fan_out.as_ref().map(|_| match run.traced {
                Some((done, of)) => format!("{done} / {of} planned"),
                None => format!("{} planned", stored.len()),
            });
            let outputs = stored
                .iter()
                .map(|s| {
                    let heading = match &s.item {
                        Some(item) => format!(
                            "{item} · {}/{}",
                            s.provider.clone().unwrap_or_default(),
                            s.model.clone().unwrap_or_default()
                        ),
                        None => format!(
                            "{}/{}",
                            s.provider.clone().unwrap_or_default(),
                            s.model.clone().unwrap_or_default()
                        ),
                    };
                    let heading = if s.status == api::workflows::StepStatus::Copied {
                        format!("{heading} · copied from the earlier run")
                    } else {
                        heading
                    };
                    let trail = api::ai::trail(&s.attempts);
                    let output = s.output.clone();
                    view! {
                        <details>
                            <summary>{heading}</summary>
                            <p class="muted">{trail}</p>
                            <pre class="output">{output}</pre>
                        </details>
                    }
                })
                .collect_view();
            let live_key = step.key.clone();
            let live = move || {
                previews.with(|all| {
                    all.iter()
                        .filter(|p| p.step_key == live_key)
                        .map(|p| {
                            let who = format!(
                                "{}Answering: {}/{}…",
                                p.item
                                    .as_ref()
                                    .map(|i| format!("{i} · "))
                                    .unwrap_or_default(),
                                p.provider,
                                p.model
                            );
                            let text = if p.clipped {
                                format!("…{}", p.text)
                            } else {
                                p.text.clone()
                            };
                            view! {
                                <div class="preview" data-item=p.item.clone().unwrap_or_default()>
                                    <p class="muted">{who}</p>
                                    {(!text.is_empty()).then(|| view! { <pre class="output live">{text}</pre> })}
                                </div>
                            }
                        })
                        .collect_view()
                })
            };
            let key = step.key.clone();
            let rerun_here = (index > 0 && !open).then(|| {
                view! {
                    <button class="button ghost" disabled=move || rerun.pending().get()
                        on:click=move |_| rerun.dispatch_then(
                            rerun_workflow_from(run_id, key.clone()),
                            move |new| browser::go_to(&run_path(project_id, note_id, new.id)),
                        )>
                        "Re-run from here"
                    </button>
                }
            });
            view! {
                <li class=format!("step {state}") data-step=step.key.clone()>
                    <h3>{step.name.clone()} " " <span class="badge">{state}</span> {rerun_here}</h3>
                    {count.map(|count| view! { <p class="traced">{count}</p> })}
                    {figures.map(|figures| view! { <p class="muted">{figures}</p> })}
                    {outputs}
                    {live}
                </li>
            }
        })
        .collect_view();
    let failed_reason = run.error.clone();
    view! {
        <p><a href=back>"← The note"</a></p>
        <h2>{format!("{} · {}", run.template, run.status.as_str())}</h2>
        <p class="muted" id="run-figures">{format!(
            "Started {} by {} · {} tokens in · {} out · {} spent (estimate up to {})",
            run.created_at.get(..16).unwrap_or_default().replace('T', " "),
            run.requested_by.clone().unwrap_or_else(|| "Cairn".into()),
            tokens.0,
            tokens.1,
            api::ai::usd(run.cost_usd),
            api::ai::usd(run.estimate_usd),
        )}</p>
        {run.traced.map(|(done, of)| view! { <p class="traced" id="traced">{format!("{done} / {} planned", api::count(of, "action point", "action points"))}</p> })}
        {failed_reason.map(|reason| view! { <p class="error" role="alert">{reason}</p> })}
        {(!run.sources.is_empty()).then(|| view! {
            <details class="sources run-sources">
                <summary>{format!("Context from the project: {} (what {{{{context}}}} sent)", api::count(run.sources.len(), "source", "sources"))}</summary>
                <ol>
                    {run.sources.iter().map(|source| view! {
                        <li>
                            <a href=source.link.clone()>{source.label()}</a>
                            <pre class="output">{source.text.clone()}</pre>
                        </li>
                    }).collect_view()}
                </ol>
            </details>
        })}
        <div class="actions">
            {open.then(|| job_id.map(|job| view! {
                <button class="button ghost" disabled=move || cancel.pending().get()
                    on:click=move |_| cancel.dispatch_then(cancel_job(job), |_| browser::reload())>
                    "Cancel"
                </button>
            }))}
            {matches!(run.status, JobStatus::Failed | JobStatus::Cancelled).then(|| view! {
                <button class="button" disabled=move || resume.pending().get()
                    on:click=move |_| resume.dispatch_then(resume_workflow_run(run_id), |_| browser::reload())>
                    "Resume"
                </button>
            })}
            {(run.status == JobStatus::Completed).then(|| view! {
                <a class="button" href=format!("/api/v1/workflow-runs/{run_id}/report.md") download="report.md">"Download the report"</a>
            })}
        </div>
        {move || error.get().map(|error| view! { <ErrorNote error/> })}
        <ol class="timeline">{timeline}</ol>
    }
}

/// Follows the run's job stream: an answer under way replaces its preview in `previews`; a step
/// stored, or the run's end, reloads the page. The stream starts with the job's earlier events:
/// each stored step sent one, so the first `shown` are on the page already.
#[cfg(feature = "hydrate")]
fn follow(job: api::ids::JobId, shown: usize, previews: RwSignal<Vec<StepPreview>>) {
    use leptos::wasm_bindgen::JsCast;
    use leptos::wasm_bindgen::closure::Closure;
    use leptos::web_sys::{EventSource, MessageEvent};

    let Ok(source) = EventSource::new(&format!("/api/v1/events/jobs/{job}")) else {
        return;
    };
    let mut seen = 0;
    let closing = source.clone();
    let on_progress = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let data = event.data().as_string().unwrap_or_default();
        let progress = serde_json::from_str::<serde_json::Value>(&data)
            .ok()
            .and_then(|event| event.get("progress").cloned())
            .unwrap_or_default();
        if progress.get("live").is_some() {
            let preview = progress
                .get("report")
                .cloned()
                .and_then(|report| serde_json::from_value::<StepPreview>(report).ok());
            if let Some(preview) = preview {
                previews.update(|all| {
                    all.retain(|p| p.step_key != preview.step_key || p.item != preview.item);
                    all.push(preview);
                });
            }
            return;
        }
        seen += 1;
        if seen > shown {
            closing.close();
            browser::reload();
        }
    });
    let _ =
        source.add_event_listener_with_callback("progress", on_progress.as_ref().unchecked_ref());
    let closing = source.clone();
    let on_end = Closure::<dyn FnMut(MessageEvent)>::new(move |_: MessageEvent| {
        closing.close();
        browser::reload();
    });
    let _ = source.add_event_listener_with_callback("end", on_end.as_ref().unchecked_ref());
    // The page lives as long as the stream: the handlers stay attached.
    on_progress.forget();
    on_end.forget();
}

#[cfg(not(feature = "hydrate"))]
fn follow(_: api::ids::JobId, _: usize, _: RwSignal<Vec<StepPreview>>) {}
