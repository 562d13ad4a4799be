//! Knowledge search: everything a team has (file entries, manual entries, notes, workflow reports
//! and insights), cut into chunks that full-text search and — when the team has an embedding
//! model — vector search rank together (Reciprocal Rank Fusion); and the embedding spaces the
//! vectors live in.

use crate::ApiError;
use crate::ids::{EmbeddingSpaceId, ProjectId};
use serde::{Deserialize, Serialize};

/// What a chunk comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A file imported from the repository.
    File,
    /// A manual memory entry.
    Manual,
    /// A note (its text and its images' captions).
    Note,
    /// A workflow insight.
    Insight,
    /// A workflow run's report.
    Report,
}

impl SourceKind {
    /// Every kind, in the order filters list them.
    pub const ALL: [Self; 5] = [
        Self::File,
        Self::Manual,
        Self::Note,
        Self::Insight,
        Self::Report,
    ];

    /// As stored and as the address says it (`file`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Manual => "manual",
            Self::Note => "note",
            Self::Insight => "insight",
            Self::Report => "report",
        }
    }

    /// From [`SourceKind::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// In words, plural ("Files").
    pub fn label(self) -> &'static str {
        match self {
            Self::File => "Files",
            Self::Manual => "Manual entries",
            Self::Note => "Notes",
            Self::Insight => "Insights",
            Self::Report => "Reports",
        }
    }
}

/// A search, as the search page and the top bar's box send it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Words or a question.
    pub text: String,
    /// One project only.
    #[serde(default)]
    pub project_id: Option<ProjectId>,
    /// These kinds only (empty: all).
    #[serde(default)]
    pub kinds: Vec<SourceKind>,
    /// Files in this language only (`rust`).
    #[serde(default)]
    pub language: Option<String>,
    /// Files under this path only (`src/`).
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// By words, by meaning or both (the default).
    #[serde(default)]
    pub by: SearchBy,
}

/// What a search compares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchBy {
    /// Words and meaning, fused (meaning once the team has an embedding model).
    #[default]
    Both,
    /// Words only.
    Words,
    /// Meaning only (needs an embedding model).
    Meaning,
}

impl SearchBy {
    /// Every choice, as the search page offers them.
    pub const ALL: [Self; 3] = [Self::Both, Self::Words, Self::Meaning];

    /// As sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Both => "both",
            Self::Words => "words",
            Self::Meaning => "meaning",
        }
    }

    /// From [`SearchBy::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|by| by.as_str() == text)
    }

    /// In words.
    pub fn label(self) -> &'static str {
        match self {
            Self::Both => "Words and meaning",
            Self::Words => "Words only",
            Self::Meaning => "Meaning only",
        }
    }
}

/// The most hits one search answers.
pub const MAX_HITS: usize = 20;

impl SearchQuery {
    /// The query with its text trimmed, or why it cannot run.
    pub fn validated(mut self) -> Result<Self, ApiError> {
        self.text = self.text.trim().to_owned();
        if self.text.is_empty() || self.text.chars().count() > 500 {
            return Err(ApiError::invalid("text", "must be 1 to 500 characters"));
        }
        let trimmed =
            |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        self.language = trimmed(self.language);
        self.path_prefix = trimmed(self.path_prefix);
        if self.path_prefix.as_ref().is_some_and(|p| p.len() > 500) {
            return Err(ApiError::invalid(
                "path_prefix",
                "must be at most 500 characters",
            ));
        }
        if self.language.as_ref().is_some_and(|l| l.len() > 50) {
            return Err(ApiError::invalid(
                "language",
                "must be at most 50 characters",
            ));
        }
        Ok(self)
    }
}

/// Why a hit was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matched {
    /// Its words match.
    Words,
    /// Its meaning is near the query's.
    Meaning,
    /// Both.
    Both,
}

impl Matched {
    /// In words.
    pub fn label(self) -> &'static str {
        match self {
            Self::Words => "words",
            Self::Meaning => "meaning",
            Self::Both => "words and meaning",
        }
    }
}

/// Where a snippet's matching words start and end (private-use characters, which no text Cairn
/// stores carries in practice: the page turns them into highlights and drops any others).
pub const MARK_START: char = '\u{E000}';
/// See [`MARK_START`].
pub const MARK_END: char = '\u{E001}';

/// One hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// What it comes from.
    pub kind: SourceKind,
    /// Its project.
    pub project_id: ProjectId,
    /// The project's name.
    pub project_name: String,
    /// A file's path, a note's or insight's title.
    pub title: String,
    /// A file's lines, first and last.
    pub lines: Option<(u32, u32)>,
    /// The matching part, with matching words between [`MARK_START`] and [`MARK_END`].
    pub snippet: String,
    /// Where it opens (the entry, the note, the run).
    pub link: String,
    /// Why it was found.
    pub matched: Matched,
    /// Its fused score (higher first).
    pub score: f64,
}

/// How a search ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Words and meaning, fused.
    Hybrid,
    /// Words only: as asked, or the team has no embedding model (or its provider failed: see
    /// the note).
    FullText,
    /// Meaning only, as asked.
    Meaning,
}

/// A search's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    /// The hits, best first.
    pub hits: Vec<SearchHit>,
    /// How it ran.
    pub mode: SearchMode,
    /// What the user should know about how it ran ("No embedding model: words only.").
    pub note: Option<String>,
}

/// An embedding space's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpaceStatus {
    /// Being filled; search uses the active space meanwhile.
    Building,
    /// What search uses.
    Active,
    /// Replaced; kept until an owner removes it.
    Retired,
}

impl SpaceStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Building => "building",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }

    /// From [`SpaceStatus::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Building, Self::Active, Self::Retired]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// An embedding space: one model's vectors of a team's chunks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingSpace {
    /// Its id.
    pub id: EmbeddingSpaceId,
    /// The provider serving the model.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Its vectors' size.
    pub dimensions: u32,
    /// Building, active or retired.
    pub status: SpaceStatus,
    /// Chunks with a vector in it.
    pub vectors: u64,
    /// Chunks the team has.
    pub chunks: u64,
    /// Vectors stored a second, lately (over the last 30 seconds).
    #[serde(default)]
    pub per_second: f64,
    /// When it was made (RFC 3339).
    pub created_at: String,
}

/// How a team's indexing stands, as its latest indexing job says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum IndexingState {
    /// Nothing queued or under way.
    Idle,
    /// Queued or running.
    Working,
    /// Waiting before trying again (a rate limit, a failed request).
    Waiting {
        /// Why, as the attempt said it.
        reason: String,
        /// When it tries again (RFC 3339).
        retry_at: String,
    },
    /// Failed for good.
    Failed {
        /// Why.
        reason: String,
    },
}

/// A team's embedding spaces and how their indexing stands: what the AI page follows while a
/// space builds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeIndexing {
    /// The spaces, in use first.
    pub spaces: Vec<EmbeddingSpace>,
    /// The indexing.
    pub state: IndexingState,
}

impl KnowledgeIndexing {
    /// Whether anything is left to embed or under way (worth following).
    pub fn busy(&self) -> bool {
        matches!(
            self.state,
            IndexingState::Working | IndexingState::Waiting { .. }
        ) || self
            .spaces
            .iter()
            .any(|s| s.status != SpaceStatus::Retired && s.vectors < s.chunks)
    }
}

/// The embedding model a team chooses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingChoice {
    /// The provider (a team provider's name, or the instance's).
    pub provider: String,
    /// The model.
    pub model: String,
}

/// A piece of the team's knowledge sent with a question, numbered as the answer cites it ([1]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitedSource {
    /// Its number in the prompt.
    pub n: u32,
    /// What it comes from.
    pub kind: SourceKind,
    /// A file's path, a note's or entry's title.
    pub title: String,
    /// A file's lines, first and last.
    pub lines: Option<(u32, u32)>,
    /// Where it opens.
    pub link: String,
    /// The text sent, exactly as the model saw it.
    pub text: String,
}

/// The most characters of sources one question carries (about 3,000 tokens).
pub const CONTEXT_CHARS: usize = 12_000;

/// The most sources one question carries.
pub const MAX_SOURCES: usize = 8;

impl CitedSource {
    /// How the prompt and the answer's page name it: `[2] src/refunds.rs, lines 10–24`.
    pub fn label(&self) -> String {
        match self.lines {
            Some((start, end)) => format!("[{}] {}, lines {start}–{end}", self.n, self.title),
            None => format!("[{}] {}", self.n, self.title),
        }
    }
}

/// The sources as a prompt carries them: each numbered, its text fenced.
pub fn sources_prompt(sources: &[CitedSource]) -> String {
    let mut text = String::new();
    for source in sources {
        text.push_str(&source.label());
        text.push_str("\n```\n");
        text.push_str(&source.text);
        text.push_str("\n```\n\n");
    }
    text
}
