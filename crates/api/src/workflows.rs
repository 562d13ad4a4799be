//! AI workflows: a template's ordered steps (each a prompt that may use the note, the project and
//! earlier steps' outputs; a step may run once per item of an earlier step's JSON list), and the
//! runs of a template on a note, step by step.
//!
//! A template's definition is parsed at the edge ([`WorkflowDefinition::check`]): every reference
//! a prompt makes must exist and come from an earlier step, so a run never meets an unknown one.

use crate::ApiError;
use crate::ids::{JobId, NoteId, ProjectId, WorkflowRunId};
use crate::jobs::JobStatus;
use serde::{Deserialize, Serialize};

/// What a step answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepOutput {
    /// Free text (Markdown).
    Text,
    /// A JSON object matching `schema` (checked on every answer: one that does not match is a
    /// failed attempt).
    Json {
        /// A JSON Schema whose top level is an object.
        schema: serde_json::Value,
    },
}

/// A step that runs once per item of an earlier step's JSON list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FanOut {
    /// The earlier (JSON) step whose output holds the list.
    pub over: String,
    /// The field of that output holding the list.
    pub list: String,
    /// The field of each item that identifies it (each item's output must name it).
    pub id_field: String,
    /// Items asked at once.
    pub concurrency: u32,
    /// The most items the list may hold (a longer one fails the run, saying so); the run's
    /// estimate counts this many.
    #[serde(default = "default_max_items")]
    pub max_items: u32,
}

fn default_max_items() -> u32 {
    20
}

/// One step of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    /// Its key in references (`{{steps.KEY.output}}`): lowercase letters, digits and `_`.
    pub key: String,
    /// What the run page calls it.
    pub name: String,
    /// The prompt, with references in `{{…}}` (see [`REFERENCES`]).
    pub prompt: String,
    /// What it answers.
    pub output: StepOutput,
    /// The longest answer, in tokens.
    pub max_tokens: u32,
    /// Its models, `provider/model` in order; empty: the team's chain.
    #[serde(default)]
    pub chain: Vec<String>,
    /// Once per item of an earlier step's list, if set.
    #[serde(default)]
    pub fan_out: Option<FanOut>,
    /// Its JSON output's `insights` (title, body, kind, severity each) are kept as the project's
    /// workflow insights.
    #[serde(default)]
    pub produces_insights: bool,
}

/// A template: its name and steps, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowDefinition {
    /// Its name, unique in the team.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The steps, in the order they run.
    pub steps: Vec<StepDef>,
}

/// What a prompt may refer to. `steps.KEY.output` is an earlier step's output (all of a fan-out
/// step's outputs, one after another); `item` and `item.FIELD` exist in a fan-out step only.
pub const REFERENCES: [&str; 10] = [
    "note.title",
    "note.body",
    "note.captions",
    "note.images",
    "project.name",
    "project.description",
    "context",
    "steps.KEY.output",
    "item",
    "item.FIELD",
];

/// The most steps a template may have, and the most items a fan-out runs.
pub const MAX_STEPS: usize = 32;
/// The most items one fan-out step runs (a list longer than this fails the run, saying so).
pub const MAX_FAN_OUT: usize = 64;

/// A reference in a prompt, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// `note.title`.
    NoteTitle,
    /// `note.body`.
    NoteBody,
    /// `note.captions`: the images' captions, one per line.
    NoteCaptions,
    /// `note.images`: the images themselves go with the request (a model without vision gets the
    /// captions); the text says how many.
    NoteImages,
    /// `project.name`.
    ProjectName,
    /// `project.description`.
    ProjectDescription,
    /// `context`: the project's knowledge retrieved for the note (its files, notes, reports,
    /// insights), numbered `[1]`… so answers can cite it; retrieved once per run and kept with it.
    Context,
    /// `steps.KEY.output`.
    StepOutput(String),
    /// `item`: the fan-out item, as JSON.
    Item,
    /// `item.FIELD`.
    ItemField(String),
}

impl Reference {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "note.title" => Self::NoteTitle,
            "note.body" => Self::NoteBody,
            "note.captions" => Self::NoteCaptions,
            "note.images" => Self::NoteImages,
            "project.name" => Self::ProjectName,
            "project.description" => Self::ProjectDescription,
            "context" => Self::Context,
            "item" => Self::Item,
            _ => {
                if let Some(field) = text.strip_prefix("item.") {
                    return is_key(field).then(|| Self::ItemField(field.to_owned()));
                }
                let key = text.strip_prefix("steps.")?.strip_suffix(".output")?;
                return is_key(key).then(|| Self::StepOutput(key.to_owned()));
            }
        })
    }
}

fn is_key(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 40
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A piece of a prompt: text as written, or a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Written text.
    Text(&'a str),
    /// A `{{…}}` reference.
    Ref(Reference),
}

/// Splits `prompt` into text and references; the first unknown reference is the error (its text).
pub fn pieces(prompt: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = prompt;
    while let Some(start) = rest.find("{{") {
        out.push(Piece::Text(&rest[..start]));
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "a `{{` is never closed".to_owned())?;
        let name = after[..end].trim();
        out.push(Piece::Ref(
            Reference::parse(name).ok_or_else(|| format!("{{{{{name}}}}}"))?,
        ));
        rest = &after[end + 2..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

impl WorkflowDefinition {
    /// Checks the whole template, naming the first problem's place (`steps[2].prompt`) and what
    /// is wrong: names and keys, unknown references, a reference to a later step (or its own,
    /// which would be a cycle), a fan-out over a step that gives no list, limits, schemas whose
    /// top level is not an object.
    pub fn check(&self) -> Result<(), ApiError> {
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            return Err(ApiError::invalid("name", "must be 1 to 100 characters"));
        }
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(ApiError::invalid(
                "steps",
                format!("a template has 1 to {MAX_STEPS} steps"),
            ));
        }
        for (n, step) in self.steps.iter().enumerate() {
            let at = |field: &str| format!("steps[{n}].{field}");
            if !is_key(&step.key) {
                return Err(ApiError::invalid(
                    at("key"),
                    "must start with a lowercase letter and hold only lowercase letters, digits \
                     and _ (at most 40)",
                ));
            }
            let earlier = &self.steps[..n];
            if earlier.iter().any(|s| s.key == step.key) {
                return Err(ApiError::invalid(
                    at("key"),
                    format!("{:?} is the key of an earlier step", step.key),
                ));
            }
            if step.name.trim().is_empty() || step.name.chars().count() > 100 {
                return Err(ApiError::invalid(at("name"), "must be 1 to 100 characters"));
            }
            if !(1..=32_000).contains(&step.max_tokens) {
                return Err(ApiError::invalid(at("max_tokens"), "must be 1 to 32000"));
            }
            if let StepOutput::Json { schema } = &step.output
                && schema.get("type").and_then(|t| t.as_str()) != Some("object")
            {
                return Err(ApiError::invalid(
                    at("output.schema"),
                    "must be a JSON Schema whose type is \"object\"",
                ));
            }
            if step.produces_insights {
                let lists = match &step.output {
                    StepOutput::Json { schema } => {
                        schema["properties"]["insights"]["type"].as_str() == Some("array")
                    }
                    StepOutput::Text => false,
                };
                if !lists || step.fan_out.is_some() {
                    return Err(ApiError::invalid(
                        at("produces_insights"),
                        "a step that produces insights answers JSON with an \"insights\" list, \
                         and does not fan out",
                    ));
                }
            }
            for model in &step.chain {
                if model
                    .split_once('/')
                    .is_none_or(|(p, m)| p.is_empty() || m.is_empty())
                {
                    return Err(ApiError::invalid(
                        at("chain"),
                        format!("{model:?} is not provider/model"),
                    ));
                }
            }
            if let Some(fan_out) = &step.fan_out {
                let Some(source) = earlier.iter().find(|s| s.key == fan_out.over) else {
                    return Err(ApiError::invalid(
                        at("fan_out.over"),
                        format!("{:?} is not an earlier step", fan_out.over),
                    ));
                };
                let lists = match &source.output {
                    StepOutput::Json { schema } => {
                        schema["properties"][&fan_out.list]["type"].as_str() == Some("array")
                    }
                    StepOutput::Text => false,
                };
                if !lists || source.fan_out.is_some() {
                    return Err(ApiError::invalid(
                        at("fan_out.list"),
                        format!(
                            "step {:?} gives no list {:?} (a JSON step whose schema has that \
                             array property)",
                            source.key, fan_out.list
                        ),
                    ));
                }
                if !is_key(&fan_out.id_field) {
                    return Err(ApiError::invalid(
                        at("fan_out.id_field"),
                        "is not a field name",
                    ));
                }
                if !(1..=16).contains(&fan_out.concurrency) {
                    return Err(ApiError::invalid(
                        at("fan_out.concurrency"),
                        "must be 1 to 16",
                    ));
                }
                if !(1..=MAX_FAN_OUT).contains(&(fan_out.max_items as usize)) {
                    return Err(ApiError::invalid(
                        at("fan_out.max_items"),
                        format!("must be 1 to {MAX_FAN_OUT}"),
                    ));
                }
            }
            let parts = pieces(&step.prompt).map_err(|unknown| {
                ApiError::invalid(
                    at("prompt"),
                    format!(
                        "{unknown} is not a reference (it may use {})",
                        REFERENCES.join(", ")
                    ),
                )
            })?;
            if step.prompt.trim().is_empty() || step.prompt.len() > 20_000 {
                return Err(ApiError::invalid(at("prompt"), "must be 1 to 20,000 bytes"));
            }
            for part in parts {
                match part {
                    Piece::Ref(Reference::StepOutput(key)) if key == step.key => {
                        return Err(ApiError::invalid(
                            at("prompt"),
                            format!(
                                "{{{{steps.{key}.output}}}} is this step's own output (a cycle)"
                            ),
                        ));
                    }
                    Piece::Ref(Reference::StepOutput(key))
                        if !earlier.iter().any(|s| s.key == key) =>
                    {
                        return Err(ApiError::invalid(
                            at("prompt"),
                            format!("{{{{steps.{key}.output}}}} is not an earlier step's output"),
                        ));
                    }
                    Piece::Ref(Reference::Item | Reference::ItemField(_))
                        if step.fan_out.is_none() =>
                    {
                        return Err(ApiError::invalid(
                            at("prompt"),
                            "{{item}} exists only in a step that fans out",
                        ));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Parses a template file: TOML, or JSON when it starts with `{`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_file(text: &str) -> Result<Self, ApiError> {
        let parsed: Result<Self, String> = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| e.to_string())
        } else {
            toml::from_str(text).map_err(|e| e.message().to_owned())
        };
        let definition = parsed.map_err(|why| ApiError::invalid("file", why))?;
        definition.check()?;
        Ok(definition)
    }

    /// The template as a TOML file.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_toml(&self) -> Result<String, ApiError> {
        toml::to_string(self).map_err(|_| ApiError::Internal)
    }
}

/// What an insight is about.
pub const INSIGHT_KINDS: [&str; 5] = ["gap", "conflict", "risk", "order", "other"];
/// How much an insight matters.
pub const SEVERITIES: [&str; 3] = ["low", "medium", "high"];

/// A key finding a workflow step produced, kept with the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowInsight {
    /// Its title.
    pub title: String,
    /// What it says.
    pub body: String,
    /// gap, conflict, risk, order or other.
    pub kind: String,
    /// low, medium or high.
    pub severity: String,
    /// The run it came from (`None` once that run is deleted with its note).
    pub run_id: Option<WorkflowRunId>,
    /// The note the run was on.
    pub note_id: Option<NoteId>,
    /// The step that produced it.
    pub step_key: String,
    /// When (RFC 3339).
    pub created_at: String,
}

/// How a refusal to start a run that only wants a confirmation begins (a 409): the page asks,
/// then starts the run again with `confirm`.
pub const CONFIRM_PREFIX: &str = "Confirm to start:";

/// The built-in template's name.
pub const IMAGE_TO_IMPLEMENTATION: &str = "Image to implementation";

/// The built-in template "Image to implementation": the note → its action points (JSON) → one
/// implementation plan per action point → a synthesis review → one final implementation prompt.
pub fn image_to_implementation() -> WorkflowDefinition {
    let action_points = serde_json::json!({
        "type": "object",
        "properties": {
            "action_points": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "minLength": 1},
                        "title": {"type": "string", "minLength": 1},
                        "rationale": {"type": "string"},
                        "acceptance": {"type": "string"}
                    },
                    "required": ["id", "title", "rationale", "acceptance"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["action_points"],
        "additionalProperties": false
    });
    let review = serde_json::json!({
        "type": "object",
        "properties": {
            "review": {"type": "string", "minLength": 1},
            "insights": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string", "minLength": 1},
                        "body": {"type": "string"},
                        "kind": {"type": "string", "enum": INSIGHT_KINDS},
                        "severity": {"type": "string", "enum": SEVERITIES}
                    },
                    "required": ["title", "body", "kind", "severity"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["review", "insights"],
        "additionalProperties": false
    });
    let step = |key: &str, name: &str, prompt: &str, output, max_tokens, fan_out| StepDef {
        key: key.into(),
        name: name.into(),
        prompt: prompt.into(),
        output,
        max_tokens,
        chain: Vec::new(),
        fan_out,
        produces_insights: false,
    };
    WorkflowDefinition {
        name: IMAGE_TO_IMPLEMENTATION.into(),
        description: "A note with screenshots → its action points → an implementation plan for \
                      each → a review of the plans together → one prompt a coding agent can follow."
            .into(),
        steps: vec![
            step(
                "action_points",
                "Action points",
                "You turn a software team's note into action points.\n\nProject: \
                 {{project.name}}: {{project.description}}\n\nNote: {{note.title}}\n\n{{note.body}}\n\n\
                 Screenshots: {{note.images}}\nTheir captions:\n{{note.captions}}\n\nList every \
                 distinct action point the note asks for, as JSON: {\"action_points\": [{\"id\": \
                 \"AP-1\", \"title\", \"rationale\", \"acceptance\"}]}. Number the ids AP-1, AP-2, …",
                StepOutput::Json {
                    schema: action_points,
                },
                4096,
                None,
            ),
            step(
                "plans",
                "Implementation plans",
                "Write the implementation plan for one action point of the project \
                 {{project.name}}. Start with its id, {{item.id}}, on the first line. Then: the \
                 files to change, the code, the tests, the commands to run, the risks.\n\nThe \
                 action point:\n{{item}}\n\nThe note it comes from: {{note.title}}\n{{note.body}}",
                StepOutput::Text,
                4096,
                Some(FanOut {
                    over: "action_points".into(),
                    list: "action_points".into(),
                    id_field: "id".into(),
                    concurrency: 4,
                    max_items: 20,
                }),
            ),
            StepDef {
                produces_insights: true,
                ..step(
                    "review",
                    "Synthesis review",
                    "Review these implementation plans together: gaps, conflicts between plans, \
                     the order to do them in.\n\nAction points:\n{{steps.action_points.output}}\n\n\
                     Plans:\n{{steps.plans.output}}\n\nAnswer JSON: {\"review\": the review in \
                     Markdown, \"insights\": [{\"title\", \"body\", \"kind\" (gap, conflict, \
                     risk, order or other), \"severity\" (low, medium or high)}]} with the key \
                     findings a team should remember.",
                    StepOutput::Json { schema: review },
                    4096,
                    None,
                )
            },
            step(
                "final_prompt",
                "Final implementation prompt",
                "Write one document a coding agent can follow to implement all of this, in the \
                 order the review gives, with each action point's id.\n\nPlans:\n\
                 {{steps.plans.output}}\n\nReview:\n{{steps.review.output}}",
                StepOutput::Text,
                8192,
                None,
            ),
        ],
    }
}

/// A stored template, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowTemplate {
    /// Its name.
    pub name: String,
    /// Its latest version (0: the built-in one, never stored).
    pub version: i32,
    /// The definition of that version.
    pub definition: WorkflowDefinition,
}

/// How a step of a run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Its output is stored.
    Completed,
    /// Its output was copied from the run this one re-runs.
    Copied,
}

/// One stored step (or fan-out item) of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowStep {
    /// The template step's key.
    pub step_key: String,
    /// The fan-out item's id, if it is one.
    pub item: Option<String>,
    /// Completed or copied.
    pub status: StepStatus,
    /// The output (never empty).
    pub output: String,
    /// Who answered.
    pub provider: Option<String>,
    /// With which model.
    pub model: Option<String>,
    /// Every attempt, the answering one last.
    pub attempts: Vec<crate::ai::Attempt>,
    /// Tokens in and out over its attempts.
    pub tokens_in: u32,
    /// Tokens out.
    pub tokens_out: u32,
    /// USD over its attempts.
    pub cost_usd: f64,
    /// How long it took.
    pub duration_ms: u32,
}

/// A step (or fan-out item) being answered, as its run's event stream shows it: the answer so far
/// of the attempt under way. It is replaced as the answer grows, and gone once the step is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepPreview {
    /// The template step's key.
    pub step_key: String,
    /// The fan-out item's id, if it is one.
    pub item: Option<String>,
    /// The provider asked.
    pub provider: String,
    /// Its model.
    pub model: String,
    /// The answer's last [`PREVIEW_CHARS`] characters.
    pub text: String,
    /// Whether earlier text was left out.
    pub clipped: bool,
}

/// The most of an answer under way a preview carries.
pub const PREVIEW_CHARS: usize = 2_000;

impl StepPreview {
    /// Its place in the run's live reports: one per step and item.
    pub fn slot(step_key: &str, item: Option<&str>) -> String {
        format!("step:{step_key}:{}", item.unwrap_or_default())
    }
}

/// A run of a template on a note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowRun {
    /// Its id.
    pub id: WorkflowRunId,
    /// The note.
    pub note_id: NoteId,
    /// The note's project.
    pub project_id: ProjectId,
    /// The template's name and the version it ran (0: built-in).
    pub template: String,
    /// The version.
    pub template_version: i32,
    /// The definition it ran.
    pub definition: WorkflowDefinition,
    /// Queued, running, completed, failed or cancelled.
    pub status: JobStatus,
    /// Its job (its event stream).
    pub job_id: Option<JobId>,
    /// Why it failed.
    pub error: Option<String>,
    /// The steps stored so far, in order.
    pub steps: Vec<WorkflowStep>,
    /// The project's knowledge retrieved for the note, as `{{context}}` gave it to the prompts
    /// (none when no step uses it).
    #[serde(default)]
    pub sources: Vec<crate::knowledge::CitedSource>,
    /// Fan-out items with a stored output, against the items of the list (13 / 13).
    pub traced: Option<(u32, u32)>,
    /// The worst case it was started with (USD).
    pub estimate_usd: f64,
    /// USD spent so far.
    pub cost_usd: f64,
    /// Who started it.
    pub requested_by: Option<String>,
    /// When (RFC 3339).
    pub created_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
}

impl WorkflowRun {
    /// Whether every output of `step` is stored: its one output, or, for a fan-out, one per item
    /// of the list (known once the fan-out counted it).
    pub fn answered(&self, step: &StepDef) -> bool {
        let stored = self.steps.iter().filter(|s| s.step_key == step.key).count();
        match (&step.fan_out, self.traced) {
            (None, _) => stored == 1,
            (Some(_), Some((done, of))) => done == of && stored == of as usize,
            (Some(_), None) => false,
        }
    }

    /// The position of the first step of the template not yet answered (`None`: all are).
    pub fn next_step(&self) -> Option<usize> {
        self.definition
            .steps
            .iter()
            .position(|step| !self.answered(step))
    }
}

/// A finished run as one Markdown document: the pipeline as a Mermaid diagram, the traceability
/// chain (note → run → steps, with their ids), the execution record (model, attempts, tokens,
/// cost, duration per step) and the outputs.
pub fn report_markdown(run: &WorkflowRun, note_title: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let title = |step: &WorkflowStep| match &step.item {
        Some(item) => format!("{} — {item}", step.step_key),
        None => step.step_key.clone(),
    };
    let _ = writeln!(out, "# {}: {note_title}\n", run.template);
    let _ = writeln!(
        out,
        "Run `{}` of template \"{}\" (version {}) on note `{}`, {}. Status: {}. Cost: ${:.4}.\n",
        run.id,
        run.template,
        run.template_version,
        run.note_id,
        run.created_at,
        run.status.as_str(),
        run.cost_usd
    );
    if let Some((done, of)) = run.traced {
        let _ = writeln!(out, "Traceability: {done} / {of} items planned.\n");
    }
    let _ = writeln!(out, "## Pipeline\n\n```mermaid\nflowchart TD");
    let _ = writeln!(out, "    note[\"Note\"]");
    let mut previous = "note".to_owned();
    for step in &run.definition.steps {
        let label = match &step.fan_out {
            Some(fan_out) => format!("{} (once per item of {})", step.name, fan_out.over),
            None => step.name.clone(),
        };
        let _ = writeln!(
            out,
            "    {previous} --> {}[\"{}\"]",
            step.key,
            label.replace('"', "'")
        );
        previous = step.key.clone();
    }
    let _ = writeln!(out, "```\n\n## Traceability\n");
    let _ = writeln!(out, "- note `{}` → run `{}`", run.note_id, run.id);
    for step in &run.steps {
        let _ = writeln!(
            out,
            "  - {} → {} ({})",
            title(step),
            step.model.as_deref().unwrap_or("?"),
            match step.status {
                StepStatus::Completed => "completed",
                StepStatus::Copied => "copied",
            }
        );
    }
    let _ = writeln!(
        out,
        "\n## Execution record\n\n| step | model | attempts | tokens in | tokens out | cost (USD) | duration (ms) |\n| --- | --- | --- | --- | --- | --- | --- |"
    );
    for step in &run.steps {
        let _ = writeln!(
            out,
            "| {} | {}/{} | {} | {} | {} | {:.6} | {} |",
            title(step),
            step.provider.as_deref().unwrap_or("?"),
            step.model.as_deref().unwrap_or("?"),
            step.attempts.len(),
            step.tokens_in,
            step.tokens_out,
            step.cost_usd,
            step.duration_ms
        );
    }
    if !run.sources.is_empty() {
        let _ = writeln!(out, "\n## Context sent (`{{{{context}}}}`)\n");
        for source in &run.sources {
            let _ = writeln!(out, "- {} ({})", source.label(), source.link);
        }
    }
    let _ = writeln!(out, "\n## Outputs");
    for step in &run.steps {
        let _ = writeln!(out, "\n### {}\n\n{}", title(step), step.output.trim());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_template_is_valid_and_round_trips_as_toml() {
        let builtin = image_to_implementation();
        builtin.check().unwrap();
        let file = builtin.to_toml().unwrap();
        assert_eq!(WorkflowDefinition::from_file(&file).unwrap(), builtin);
        let json = serde_json::to_string(&builtin).unwrap();
        assert_eq!(WorkflowDefinition::from_file(&json).unwrap(), builtin);
    }

    fn field(error: ApiError) -> (String, String) {
        match error {
            ApiError::Invalid { field, reason } => (field, reason),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_references_later_steps_cycles_and_bad_fan_outs_are_refused_by_name() {
        let mut unknown = image_to_implementation();
        unknown.steps[2].prompt.push_str("{{note.author}}");
        let (at, why) = field(unknown.check().unwrap_err());
        assert_eq!(at, "steps[2].prompt");
        assert!(why.contains("{{note.author}} is not a reference"), "{why}");

        let mut later = image_to_implementation();
        later.steps[1].prompt = "{{steps.review.output}}".into();
        let (at, why) = field(later.check().unwrap_err());
        assert_eq!(at, "steps[1].prompt");
        assert!(why.contains("not an earlier step"), "{why}");

        let mut cycle = image_to_implementation();
        cycle.steps[2].prompt = "{{steps.review.output}}".into();
        assert!(field(cycle.check().unwrap_err()).1.contains("cycle"));

        let mut item = image_to_implementation();
        item.steps[2].prompt = "{{item.id}}".into();
        assert!(field(item.check().unwrap_err()).1.contains("fans out"));

        let mut fan = image_to_implementation();
        fan.steps[1].fan_out.as_mut().unwrap().list = "points".into();
        assert_eq!(field(fan.check().unwrap_err()).0, "steps[1].fan_out.list");

        let mut schema = image_to_implementation();
        schema.steps[0].output = StepOutput::Json {
            schema: serde_json::json!({"type": "array"}),
        };
        assert_eq!(
            field(schema.check().unwrap_err()).0,
            "steps[0].output.schema"
        );
    }
}
