//! `/workflows`: the team's workflow templates, each in an editor of its steps (add, reorder,
//! remove; a prompt editor listing the references it may use and putting one at the cursor;
//! checked as it is typed with the same check the server makes before it saves) and as its
//! file (TOML, downloadable; a TOML or JSON file pasted in is imported). Each save is a new
//! version; a run keeps the version it ran.

use crate::components::{Call, ErrorNote, Loading};
use crate::rpc::{export_workflow_template, import_workflow_template, save_workflow_template};
use api::ApiError;
use api::workflows::{
    FanOut, REFERENCES, StepDef, StepOutput, WorkflowDefinition, WorkflowTemplate,
};
use islands_macro::island_in;
use leptos::prelude::*;

#[component]
pub fn WorkflowTemplatesPage() -> impl IntoView {
    let templates = Resource::new(|| (), |_| crate::rpc::list_workflow_templates());
    view! {
        <crate::root::RequireSession>
            <section class="page workflow-templates">
                <h1>"Workflow templates"</h1>
                <p class="muted">"A template is a list of steps, each a prompt to the team's models; a step may run once per item of an earlier step's JSON list. Each save is a new version; a run keeps the version it ran."</p>
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        match templates.await {
                            Ok(list) => view! {
                                {list
                                    .into_iter()
                                    .map(|template| {
                                        let file = template_file(&template.definition);
                                        view! { <TemplateEditor template file/> }
                                    })
                                    .collect_view()}
                                <TemplateEditor template=blank_template() file=String::new()/>
                            }
                            .into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </crate::root::RequireSession>
    }
}

/// What "New template" starts from: one text step (version -1: not saved yet).
fn blank_template() -> WorkflowTemplate {
    WorkflowTemplate {
        name: String::new(),
        version: -1,
        definition: WorkflowDefinition {
            name: String::new(),
            description: String::new(),
            steps: vec![StepDef {
                key: "summary".into(),
                name: "Summary".into(),
                prompt: "Summarise this note for the team.\n\n{{note.title}}\n\n{{note.body}}"
                    .into(),
                output: StepOutput::Text,
                max_tokens: 1_000,
                chain: Vec::new(),
                fan_out: None,
                produces_insights: false,
            }],
        },
    }
}

/// A template as its TOML file (rendered on the server, where the TOML writer is).
fn template_file(definition: &WorkflowDefinition) -> String {
    #[cfg(not(target_arch = "wasm32"))]
    {
        definition.to_toml().unwrap_or_default()
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = definition;
        String::new()
    }
}

/// One step being edited: each field as typed (numbers and the schema are parsed when the
/// template is read, so a half-typed value is reported, not lost).
#[derive(Clone, Copy)]
struct StepDraft {
    /// Stable while the steps are reordered.
    id: u32,
    key: RwSignal<String>,
    name: RwSignal<String>,
    prompt: RwSignal<String>,
    json: RwSignal<bool>,
    schema: RwSignal<String>,
    max_tokens: RwSignal<String>,
    chain: RwSignal<String>,
    fans_out: RwSignal<bool>,
    over: RwSignal<String>,
    list: RwSignal<String>,
    id_field: RwSignal<String>,
    concurrency: RwSignal<String>,
    max_items: RwSignal<String>,
    insights: RwSignal<bool>,
}

impl StepDraft {
    fn of(id: u32, step: &StepDef) -> Self {
        let (json, schema) = match &step.output {
            StepOutput::Text => (false, String::new()),
            StepOutput::Json { schema } => (
                true,
                serde_json::to_string_pretty(schema).unwrap_or_default(),
            ),
        };
        let fan_out = step.fan_out.clone();
        Self {
            id,
            key: RwSignal::new(step.key.clone()),
            name: RwSignal::new(step.name.clone()),
            prompt: RwSignal::new(step.prompt.clone()),
            json: RwSignal::new(json),
            schema: RwSignal::new(schema),
            max_tokens: RwSignal::new(step.max_tokens.to_string()),
            chain: RwSignal::new(step.chain.join("\n")),
            fans_out: RwSignal::new(fan_out.is_some()),
            over: RwSignal::new(fan_out.as_ref().map(|f| f.over.clone()).unwrap_or_default()),
            list: RwSignal::new(fan_out.as_ref().map(|f| f.list.clone()).unwrap_or_default()),
            id_field: RwSignal::new(
                fan_out
                    .as_ref()
                    .map_or_else(|| "id".to_owned(), |f| f.id_field.clone()),
            ),
            concurrency: RwSignal::new(fan_out.as_ref().map_or(4, |f| f.concurrency).to_string()),
            max_items: RwSignal::new(fan_out.as_ref().map_or(20, |f| f.max_items).to_string()),
            insights: RwSignal::new(step.produces_insights),
        }
    }

    fn blank(id: u32, position: usize) -> Self {
        Self::of(
            id,
            &StepDef {
                key: format!("step_{}", position + 1),
                name: format!("Step {}", position + 1),
                prompt: String::new(),
                output: StepOutput::Text,
                max_tokens: 1_000,
                chain: Vec::new(),
                fan_out: None,
                produces_insights: false,
            },
        )
    }

    /// The step as typed (tracked: a form that reads it is read again on every change).
    fn read(&self, position: usize) -> Result<StepDef, ApiError> {
        let at = |field: &str| format!("steps[{position}].{field}");
        let number = |field: &str, text: String| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| ApiError::invalid(at(field), "must be a whole number"))
        };
        let output = if self.json.get() {
            let schema = serde_json::from_str(&self.schema.get()).map_err(|e| {
                ApiError::invalid(at("output.schema"), format!("is not JSON ({e})"))
            })?;
            StepOutput::Json { schema }
        } else {
            StepOutput::Text
        };
        let fan_out = if self.fans_out.get() {
            Some(FanOut {
                over: self.over.get().trim().to_owned(),
                list: self.list.get().trim().to_owned(),
                id_field: self.id_field.get().trim().to_owned(),
                concurrency: number("fan_out.concurrency", self.concurrency.get())?,
                max_items: number("fan_out.max_items", self.max_items.get())?,
            })
        } else {
            None
        };
        Ok(StepDef {
            key: self.key.get().trim().to_owned(),
            name: self.name.get().trim().to_owned(),
            prompt: self.prompt.get(),
            output,
            max_tokens: number("max_tokens", self.max_tokens.get())?,
            chain: self
                .chain
                .get()
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(str::to_owned)
                .collect(),
            fan_out,
            produces_insights: self.insights.get(),
        })
    }
}

/// A problem's place in words: `steps[2].prompt` is "Step 3 (Review), prompt".
fn place(field: &str, steps: &[StepDraft]) -> String {
    let Some(rest) = field.strip_prefix("steps[") else {
        return field.replace('_', " ");
    };
    let Some((index, field)) = rest.split_once("].") else {
        return field.to_owned();
    };
    let Ok(index) = index.parse::<usize>() else {
        return field.to_owned();
    };
    let name = steps
        .get(index)
        .map(|s| s.name.get_untracked())
        .unwrap_or_default();
    format!(
        "Step {} ({name}), {}",
        index + 1,
        field.replace("fan_out.", "fan-out ").replace('_', " ")
    )
}

/// The place in `text` of the UTF-16 offset `at` (what a text field's cursor reports).
fn byte_at_utf16(text: &str, at: usize) -> usize {
    let mut units = 0;
    for (byte, c) in text.char_indices() {
        if units >= at {
            return byte;
        }
        units += c.len_utf16();
    }
    text.len()
}

/// One template: its steps in an editor, checked as they are typed, and its file.
#[island_in(ai)]
fn TemplateEditor(template: WorkflowTemplate, file: String) -> impl IntoView {
    let is_new = template.version < 0;
    let version = RwSignal::new(template.version);
    let saved_name = RwSignal::new(template.name.clone());
    let name = RwSignal::new(template.definition.name.clone());
    let description = RwSignal::new(template.definition.description.clone());
    let next_id = StoredValue::new(0u32);
    let fresh_id = move || {
        next_id.update_value(|n| *n += 1);
        next_id.get_value()
    };
    let drafts_of = move |definition: &WorkflowDefinition| -> Vec<StepDraft> {
        definition
            .steps
            .iter()
            .map(|step| StepDraft::of(fresh_id(), step))
            .collect()
    };
    let steps = RwSignal::new(drafts_of(&template.definition));
    let file = RwSignal::new(file);
    let error = RwSignal::new(None::<ApiError>);
    let status = RwSignal::new(None::<String>);
    let save = Call::<WorkflowTemplate>::reporting_to(error);
    let import = Call::<WorkflowTemplate>::reporting_to(error);

    // The template as typed, checked as the server will check it.
    let checked = Memo::new(move |_| -> Result<WorkflowDefinition, ApiError> {
        let steps = steps.get();
        let definition = WorkflowDefinition {
            name: name.get().trim().to_owned(),
            description: description.get().trim().to_owned(),
            steps: steps
                .iter()
                .enumerate()
                .map(|(n, step)| step.read(n))
                .collect::<Result<_, _>>()?,
        };
        definition.check()?;
        Ok(definition)
    });
    let problem = move || {
        checked.with(|checked| match checked {
            Ok(_) => None,
            Err(ApiError::Invalid { field, reason }) => Some((field.clone(), reason.clone())),
            Err(other) => Some((String::new(), other.user_message())),
        })
    };
    // The problem when it is in the step `id`: its field and what is wrong.
    let problem_at = move |id: u32| {
        problem().and_then(|(field, reason)| {
            let index = field
                .strip_prefix("steps[")?
                .split(']')
                .next()?
                .parse::<usize>()
                .ok()?;
            (steps.with(|s| s.get(index).map(|s| s.id)) == Some(id)).then_some((field, reason))
        })
    };

    // After a save: what the server keeps, as the editor's starting point.
    let loaded = move |saved: &WorkflowTemplate| {
        version.set(saved.version);
        saved_name.set(saved.name.clone());
        name.set(saved.definition.name.clone());
        description.set(saved.definition.description.clone());
        steps.set(drafts_of(&saved.definition));
        status.set(Some(format!(
            "Saved {} as version {}.",
            saved.name, saved.version
        )));
        let saved_name = saved.name.clone();
        leptos::task::spawn_local(async move {
            if let Ok(text) = export_workflow_template(saved_name).await {
                file.set(text);
            }
        });
    };
    let on_save = move |_| {
        error.set(None);
        status.set(None);
        match checked.get_untracked() {
            Ok(definition) => save.dispatch_then(save_workflow_template(definition), loaded),
            Err(problem) => error.set(Some(problem)),
        }
    };
    let on_import = move |_| {
        error.set(None);
        status.set(None);
        import.dispatch_then(import_workflow_template(file.get_untracked()), loaded);
    };

    let title = move || {
        let shown = saved_name.get();
        match version.get() {
            v if v < 0 => "New template".to_owned(),
            0 => format!("{shown} (built in)"),
            v => format!("{shown} (version {v})"),
        }
    };
    let slug = template
        .name
        .to_lowercase()
        .replace(|c: char| !c.is_alphanumeric(), "-");
    let download_name = if slug.is_empty() {
        "template.toml".to_owned()
    } else {
        format!("{slug}.toml")
    };
    let field_id = move |what: &str| format!("{slug}-{what}");
    let (name_id, description_id) = (field_id("name"), field_id("description"));

    view! {
        <details class="template card-form" data-template=template.name.clone() open=is_new>
            <summary>{title}</summary>
            <div class="row">
                <div class="field">
                    <label for=name_id.clone()>"Name"</label>
                    <input id=name_id name="template-name" bind:value=name/>
                </div>
                <div class="field">
                    <label for=description_id.clone()>"What it is for"</label>
                    <input id=description_id name="template-description" bind:value=description/>
                </div>
            </div>
            <ol class="step-editor">
                <For each=move || steps.get() key=|step| step.id let:step>
                    <StepEditor step steps problem_at/>
                </For>
            </ol>
            <div class="actions">
                <button class="button" name="add-step" on:click=move |_| {
                    let position = steps.with_untracked(Vec::len);
                    let draft = StepDraft::blank(fresh_id(), position);
                    steps.update(|s| s.push(draft));
                }>"Add a step"</button>
            </div>
            <p class="check" aria-live="polite">
                {move || match problem() {
                    None => view! { <span class="success">"✓ Checked: ready to save."</span> }.into_any(),
                    Some((field, reason)) => {
                        let at = steps.with_untracked(|s| place(&field, s));
                        view! { <span class="field-error">{format!("{at}: {reason}")}</span> }.into_any()
                    }
                }}
            </p>
            <div class="actions">
                <button class="button primary" name="save-template"
                    disabled=move || save.pending().get() || checked.with(Result::is_err)
                    on:click=on_save>
                    {if is_new { "Save the template" } else { "Save as a new version" }}
                </button>
                {move || status.get().map(|said| view! { <span class="success" role="status">{said}</span> })}
            </div>
            {move || error.get().map(|error| view! { <ErrorNote error/> })}
            <details class="template-file">
                <summary>{if is_new { "Or import a file (TOML or JSON)" } else { "As a file (TOML)" }}</summary>
                <label class="visually-hidden" for=field_id("file")>"Template file (TOML or JSON)"</label>
                <textarea id=field_id("file") class="mono" name="template-file" rows="20" spellcheck="false" bind:value=file></textarea>
                <div class="actions">
                    <button class="button" name="import-template" disabled=move || import.pending().get()
                        on:click=on_import>
                        "Save this file as a new version"
                    </button>
                    {(!is_new).then(|| view! {
                        <a class="button ghost" download=download_name
                            href=move || format!("data:application/toml;charset=utf-8,{}", crate::components::percent_encoded(&file.get()))>
                            "Download"
                        </a>
                    })}
                </div>
            </details>
        </details>
    }
}

/// One step's fields, with its place in the list (move up, down, remove) and the references
/// its prompt may use.
#[component]
fn StepEditor(
    step: StepDraft,
    steps: RwSignal<Vec<StepDraft>>,
    problem_at: impl Fn(u32) -> Option<(String, String)> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = step.id;
    let position = move || steps.with(|s| s.iter().position(|d| d.id == id).unwrap_or(0));
    let count = move || steps.with(Vec::len);
    let move_by = move |by: isize| {
        steps.update(|s| {
            if let Some(from) = s.iter().position(|d| d.id == id) {
                let to = from.saturating_add_signed(by).min(s.len() - 1);
                s.swap(from, to);
            }
        });
    };
    let prompt_area = NodeRef::<leptos::html::Textarea>::new();
    // The references this step's prompt may use: the note's and project's, each earlier step's
    // output, and its item when it fans out.
    let references = move || {
        let mut all: Vec<String> = REFERENCES
            .iter()
            .filter(|r| r.starts_with("note.") || r.starts_with("project.") || **r == "context")
            .map(|r| (*r).to_owned())
            .collect();
        steps.with(|s| {
            for earlier in &s[..position().min(s.len())] {
                all.push(format!("steps.{}.output", earlier.key.get()));
            }
        });
        if step.fans_out.get() {
            all.push("item".into());
            all.push(format!("item.{}", step.id_field.get()));
        }
        all
    };
    let insert = move |reference: String| {
        let text = format!("{{{{{reference}}}}}");
        let Some(area) = prompt_area.get_untracked() else {
            step.prompt.update(|p| p.push_str(&text));
            return;
        };
        let prompt = area.value();
        let cursor = area.selection_start().ok().flatten().unwrap_or(u32::MAX) as usize;
        let at = byte_at_utf16(&prompt, cursor);
        let updated = format!("{}{text}{}", &prompt[..at], &prompt[at..]);
        area.set_value(&updated);
        step.prompt.set(updated);
        let after =
            u32::try_from(prompt[..at].encode_utf16().count() + text.encode_utf16().count())
                .unwrap_or(u32::MAX);
        let _ = area.focus();
        let _ = area.set_selection_range(after, after);
    };
    let id_of = move |what: &str| format!("step-{id}-{what}");
    let invalid = move |what: &'static str| {
        move || problem_at(id).is_some_and(|(field, _)| field.ends_with(what))
    };
    view! {
        <li class="step-card" data-step=move || step.key.get() class:invalid=move || problem_at(id).is_some()>
            <div class="step-head">
                <strong>{move || format!("{}.", position() + 1)}</strong>
                <div class="actions">
                    <button class="button ghost small" name="step-up" aria-label=move || format!("Move step {} up", position() + 1)
                        disabled=move || position() == 0 on:click=move |_| move_by(-1)>"↑"</button>
                    <button class="button ghost small" name="step-down" aria-label=move || format!("Move step {} down", position() + 1)
                        disabled=move || { position() + 1 >= count() } on:click=move |_| move_by(1)>"↓"</button>
                    <button class="button ghost small danger-text" name="step-remove" aria-label=move || format!("Remove step {}", position() + 1)
                        disabled=move || { count() <= 1 }
                        on:click=move |_| steps.update(|s| s.retain(|d| d.id != id))>"Remove"</button>
                </div>
            </div>
            {move || problem_at(id).map(|(field, reason)| {
                let field = field
                    .split_once("].")
                    .map_or_else(|| field.clone(), |(_, f)| f.replace("fan_out.", "fan-out ").replace('_', " "));
                view! { <p class="field-error step-error">{format!("{field}: {reason}")}</p> }
            })}
            <div class="row">
                <DraftInput id=id_of("name") label="Name" name="step-name" value=step.name
                    invalid=Signal::derive(invalid(".name"))/>
                <DraftInput id=id_of("key") label="Key" name="step-key" value=step.key
                    invalid=Signal::derive(invalid(".key")) mono=true/>
                <DraftInput id=id_of("max-tokens") label="Longest answer (tokens)" name="step-max-tokens" value=step.max_tokens
                    invalid=Signal::derive(invalid(".max_tokens")) number=true/>
            </div>
            <div class="field" class:invalid=invalid(".prompt")>
                <label for=id_of("prompt")>"Prompt"</label>
                <textarea id=id_of("prompt") name="step-prompt" rows="6" node_ref=prompt_area bind:value=step.prompt></textarea>
                <div class="references" role="group" aria-label="Insert a reference at the cursor">
                    <span class="hint">"Insert:"</span>
                    {move || references().into_iter().map(|reference| {
                        let shown = format!("{{{{{reference}}}}}");
                        view! {
                            <button type="button" class="chip mono" on:click=move |_| insert(reference.clone())>{shown}</button>
                        }
                    }).collect_view()}
                </div>
            </div>
            <div class="row">
                <div class="field">
                    <label for=id_of("output")>"Answer"</label>
                    <select id=id_of("output") name="step-output"
                        prop:value=move || if step.json.get() { "json" } else { "text" }
                        on:change=move |ev| step.json.set(event_target_value(&ev) == "json")>
                        <option value="text">"Text (Markdown)"</option>
                        <option value="json">"JSON against a schema"</option>
                    </select>
                </div>
                <div class="field" class:invalid=invalid(".chain")>
                    <label for=id_of("chain")>"Models, in order"</label>
                    <textarea id=id_of("chain") name="step-chain" class="mono" rows="2" placeholder="The team's chain"
                        bind:value=step.chain></textarea>
                    <span class="hint">"provider/model, one a line; empty: the team's chain."</span>
                </div>
            </div>
            <Show when=move || step.json.get()>
                <div class="field" class:invalid=invalid(".output.schema")>
                    <label for=id_of("schema")>"JSON Schema of the answer"</label>
                    <textarea id=id_of("schema") name="step-schema" class="mono" rows="8" spellcheck="false" bind:value=step.schema></textarea>
                </div>
                <label class="check-field">
                    <input type="checkbox" name="step-insights" bind:checked=step.insights/>
                    " Keep its \"insights\" list as the project's insights"
                </label>
            </Show>
            <label class="check-field">
                <input type="checkbox" name="step-fans-out" bind:checked=step.fans_out/>
                " Run once per item of an earlier step's list"
            </label>
            <Show when=move || step.fans_out.get()>
                <div class="row wrap">
                    <DraftInput id=id_of("over") label="Over step (key)" name="step-over" value=step.over
                        invalid=Signal::derive(invalid(".fan_out.over")) mono=true/>
                    <DraftInput id=id_of("list") label="Its list" name="step-list" value=step.list
                        invalid=Signal::derive(invalid(".fan_out.list")) mono=true/>
                    <DraftInput id=id_of("id-field") label="Item id field" name="step-id-field" value=step.id_field
                        invalid=Signal::derive(invalid(".fan_out.id_field")) mono=true/>
                    <DraftInput id=id_of("concurrency") label="At once" name="step-concurrency" value=step.concurrency
                        invalid=Signal::derive(invalid(".fan_out.concurrency")) number=true/>
                    <DraftInput id=id_of("max-items") label="Most items" name="step-max-items" value=step.max_items
                        invalid=Signal::derive(invalid(".fan_out.max_items")) number=true/>
                </div>
            </Show>
        </li>
    }
}

/// A one-line field of a step, marked when the template's problem is in it.
#[component]
fn DraftInput(
    id: String,
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    invalid: Signal<bool>,
    #[prop(optional)] mono: bool,
    #[prop(optional)] number: bool,
) -> impl IntoView {
    view! {
        <div class="field" class:narrow-field=number class:invalid=move || invalid.get()>
            <label for=id.clone()>{label}</label>
            <input id=id name=name class:mono=mono inputmode=number.then_some("numeric") bind:value=value/>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_after_wide_characters_is_placed_on_their_byte_boundary() {
        let text = "é😀x";
        assert_eq!(byte_at_utf16(text, 0), 0);
        assert_eq!(byte_at_utf16(text, 1), 2);
        assert_eq!(byte_at_utf16(text, 3), 6, "the emoji is two UTF-16 units");
        assert_eq!(byte_at_utf16(text, 99), text.len());
    }
}
