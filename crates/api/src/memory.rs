//! The Memory Hub: a project's memory entries as the UI sends and receives them.

use crate::ApiError;
use crate::ids::{MemoryEntryId, ProjectId};
use crate::notes::NoteImage;
use serde::{Deserialize, Serialize};

/// Where an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryKind {
    /// Imported from a file of the linked repository.
    File,
    /// Written by a person.
    Manual,
    /// Produced by an AI workflow.
    Insight,
    /// A code pattern found by analysis.
    Pattern,
    /// The report of a finished workflow run.
    WorkflowReport,
}

impl MemoryKind {
    /// Every kind, in the order filters show them.
    pub const ALL: [MemoryKind; 5] = [
        Self::File,
        Self::Manual,
        Self::Insight,
        Self::Pattern,
        Self::WorkflowReport,
    ];

    /// The word shown in the UI and used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Manual => "manual",
            Self::Insight => "insight",
            Self::Pattern => "pattern",
            Self::WorkflowReport => "workflow_report",
        }
    }

    /// The kind named by [`MemoryKind::as_str`].
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                ApiError::invalid(
                    "kind",
                    "must be file, manual, insight, pattern or workflow_report",
                )
            })
    }
}

/// Whether an entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryStatus {
    /// Current: used to enrich notes and answers.
    Active,
    /// Replaced or retired; kept, and can be restored.
    Superseded,
}

impl MemoryStatus {
    /// The word shown in the UI and used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Superseded => "superseded",
        }
    }

    /// The status named by [`MemoryStatus::as_str`].
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        match text {
            "active" => Ok(Self::Active),
            "superseded" => Ok(Self::Superseded),
            _ => Err(ApiError::invalid("status", "must be active or superseded")),
        }
    }
}

/// Which entries to list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemoryQuery {
    /// Only entries with this status; all when `None`.
    pub status: Option<MemoryStatus>,
    /// Only entries of this kind; all when `None`.
    pub kind: Option<MemoryKind>,
    /// Full-text search over title and content (web-search syntax: words, "phrases", -exclusions).
    pub text: String,
    /// Page number, from 0.
    pub page: u32,
}

impl MemoryQuery {
    /// Entries on one page.
    pub const PAGE_SIZE: u64 = 50;
    /// Longest search text accepted.
    pub const MAX_TEXT_CHARS: usize = 500;

    /// Checks the search text.
    pub fn validate(&self) -> Result<(), ApiError> {
        if self.text.chars().count() > Self::MAX_TEXT_CHARS {
            return Err(ApiError::invalid(
                "text",
                format!("must be at most {} characters", Self::MAX_TEXT_CHARS),
            ));
        }
        Ok(())
    }
}

/// What the manual-entry form sends.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemoryEntryForm {
    /// Title.
    pub title: String,
    /// Content (Markdown).
    pub content: String,
}

/// A memory-entry form that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidMemoryEntry {
    /// Title, trimmed.
    pub title: String,
    /// Content.
    pub content: String,
}

impl MemoryEntryForm {
    /// Longest title accepted.
    pub const MAX_TITLE_CHARS: usize = 300;
    /// Longest content accepted.
    pub const MAX_CONTENT_CHARS: usize = 200_000;

    /// Checks every field.
    pub fn parse(&self) -> Result<ValidMemoryEntry, ApiError> {
        let title = self.title.trim();
        if title.is_empty() {
            return Err(ApiError::invalid("title", "is required"));
        }
        if title.chars().count() > Self::MAX_TITLE_CHARS || title.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                "title",
                format!(
                    "must be one line of at most {} characters",
                    Self::MAX_TITLE_CHARS
                ),
            ));
        }
        let content = self.content.trim_end();
        if content.trim().is_empty() {
            return Err(ApiError::invalid("content", "is required"));
        }
        if content.chars().count() > Self::MAX_CONTENT_CHARS {
            return Err(ApiError::invalid(
                "content",
                format!("must be at most {} characters", Self::MAX_CONTENT_CHARS),
            ));
        }
        Ok(ValidMemoryEntry {
            title: title.to_owned(),
            content: content.to_owned(),
        })
    }
}

/// A memory entry as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEntry {
    /// Id.
    pub id: MemoryEntryId,
    /// Project.
    pub project_id: ProjectId,
    /// Kind.
    pub kind: MemoryKind,
    /// Status.
    pub status: MemoryStatus,
    /// Title.
    pub title: String,
    /// Content.
    pub content: String,
    /// Repository path, for file entries.
    pub source_path: Option<String>,
    /// Language, for file entries whose name tells it.
    #[serde(default)]
    pub language: Option<String>,
    /// Images attached to the entry, in order.
    pub images: Vec<NoteImage>,
    /// Last change, RFC 3339.
    pub updated_at: String,
    /// A file's size in bytes, as synced (a list carries only the start of its text).
    #[serde(default)]
    pub byte_size: Option<u64>,
}

/// One page of entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryPage {
    /// The entries: best match first when searching, else most recently changed first.
    pub entries: Vec<MemoryEntry>,
    /// Whether another page follows.
    pub has_more: bool,
}

/// A project's active files, by path: what the Memory tab's tree shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTree {
    /// The files, in path order.
    pub files: Vec<TreeEntry>,
    /// Whether there were more than [`FileTree::MAX_FILES`].
    pub more: bool,
}

impl FileTree {
    /// The most files a tree lists.
    pub const MAX_FILES: u64 = 20_000;
}

/// One file of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeEntry {
    /// The entry.
    pub id: MemoryEntryId,
    /// Its path in the repository.
    pub path: String,
    /// Its size as synced.
    pub byte_size: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_statuses_round_trip_through_their_words() {
        for kind in MemoryKind::ALL {
            assert_eq!(MemoryKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(MemoryKind::parse("secret").is_err());
        assert_eq!(
            MemoryStatus::parse("superseded"),
            Ok(MemoryStatus::Superseded)
        );
    }

    #[test]
    fn a_manual_entry_needs_a_title_and_content() {
        let form = |title: &str, content: &str| MemoryEntryForm {
            title: title.into(),
            content: content.into(),
        };
        assert!(
            form("Retry policy", "Three times, then give up.")
                .parse()
                .is_ok()
        );
        assert_eq!(
            form(" ", "x").parse(),
            Err(ApiError::invalid("title", "is required"))
        );
        assert_eq!(
            form("t", "  \n").parse(),
            Err(ApiError::invalid("content", "is required"))
        );
    }
}
