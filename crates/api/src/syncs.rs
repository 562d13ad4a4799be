//! Project Sync as clients see it: a sync's record and its live progress.

use crate::ids::{JobId, MemoryEntryId, ProjectId, ProjectSyncId};
use crate::jobs::JobStatus;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What started a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncTrigger {
    /// Someone pressed Sync.
    Button,
    /// `cairn sync`.
    Cli,
    /// A push to the branch (GitHub's webhook).
    Webhook,
    /// The project's schedule.
    Schedule,
}

impl SyncTrigger {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Button => "button",
            Self::Cli => "cli",
            Self::Webhook => "webhook",
            Self::Schedule => "schedule",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "button" => Self::Button,
            "cli" => Self::Cli,
            "webhook" => Self::Webhook,
            "schedule" => Self::Schedule,
            _ => return None,
        })
    }
}

/// The steps of a sync, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    /// Asking GitHub for the branch's head.
    Prepare,
    /// Listing the tree and comparing it with the Memory Hub.
    Scan,
    /// Fetching new and changed files.
    Import,
    /// Making the new state current, in one transaction.
    Finalize,
}

impl SyncPhase {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Prepare => "prepare",
            Self::Scan => "scan",
            Self::Import => "import",
            Self::Finalize => "finalize",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "prepare" => Self::Prepare,
            "scan" => Self::Scan,
            "import" => Self::Import,
            "finalize" => Self::Finalize,
            _ => return None,
        })
    }
}

/// Files by what the sync did with them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCounts {
    /// Files in the tree under the scan path.
    pub scanned: u32,
    /// New paths.
    pub added: u32,
    /// Same path, new contents.
    pub changed: u32,
    /// Same contents, new path (re-pointed without fetching).
    pub moved: u32,
    /// Gone from the branch (superseded).
    pub removed: u32,
    /// Neither fetched nor touched.
    pub unchanged: u32,
    /// Left out, by reason (`binary`, `too_large`, `ignored`).
    pub skipped: BTreeMap<String, u32>,
}

impl SyncCounts {
    /// "+3 added, 2 changed, 1 moved, −1 removed, 500 unchanged, 9 skipped" (what is zero left out),
    /// or "no files".
    pub fn summary(&self) -> String {
        let skipped: u32 = self.skipped.values().sum();
        let parts: Vec<String> = [
            (self.added, "+", " added"),
            (self.changed, "", " changed"),
            (self.moved, "", " moved"),
            (self.removed, "\u{2212}", " removed"),
            (self.unchanged, "", " unchanged"),
            (skipped, "", " skipped"),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, sign, what)| format!("{sign}{n}{what}"))
        .collect();
        if parts.is_empty() {
            "no files".into()
        } else {
            parts.join(", ")
        }
    }
}

/// A sync's live progress: what the banner shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncProgress {
    /// The step it is on.
    pub phase: SyncPhase,
    /// Files so far.
    pub counts: SyncCounts,
    /// Files to fetch in the import.
    pub to_fetch: u32,
    /// Fetched so far.
    pub fetched: u32,
    /// Requests sent to GitHub.
    pub github_requests: u64,
    /// GitHub's remaining rate limit, when it said.
    pub rate_limit_remaining: Option<u64>,
    /// Seconds the import should still take, once it can tell.
    pub eta_secs: Option<u64>,
    /// Waiting for GitHub's rate limit until this moment (RFC 3339), when it is.
    pub waiting_until: Option<String>,
    /// The commit being synced, once the branch's head is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// What a sync is of, as its title says: "Sync of main at 3cd4bef", or "Sync of main" before
/// the branch's head is read.
pub fn sync_title(branch: &str, commit: Option<&str>) -> String {
    match commit {
        Some(sha) => format!("Sync of {branch} at {}", short_sha(sha)),
        None => format!("Sync of {branch}"),
    }
}

/// A commit's first seven characters, as git shows it.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// One sync of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSync {
    /// Id.
    pub id: ProjectSyncId,
    /// The project.
    pub project_id: ProjectId,
    /// The job running it: its events are the live progress.
    pub job_id: Option<JobId>,
    /// What started it.
    pub trigger: SyncTrigger,
    /// Who pressed Sync (or ran the command), when a person did.
    pub requested_by: Option<String>,
    /// The branch.
    pub branch: String,
    /// The folder synced (`""`: the whole repository).
    pub scan_path: String,
    /// The commit synced, once known.
    pub head_sha: Option<String>,
    /// Where it is.
    pub status: JobStatus,
    /// The step it reached.
    pub phase: Option<SyncPhase>,
    /// Files by outcome: what a completed sync changed; what a sync that did not complete had
    /// found to do (it changed nothing).
    pub counts: SyncCounts,
    /// Files it had to fetch.
    pub to_fetch: u32,
    /// Files it fetched.
    pub fetched: u32,
    /// Requests sent to GitHub.
    pub github_requests: u32,
    /// Why it failed.
    pub error: Option<String>,
    /// Queued at (RFC 3339).
    pub created_at: String,
    /// Started at.
    pub started_at: Option<String>,
    /// Ended at.
    pub finished_at: Option<String>,
}

impl ProjectSync {
    /// What the sync did to the Memory Hub, in words. A completed sync: its counts. One that failed
    /// or was cancelled changed nothing, whatever it had found ("Changed nothing (it had found +38
    /// added; fetched 30 of 38)"); one under way, what it found so far.
    pub fn outcome(&self) -> String {
        let found = self.counts.summary();
        let fetched =
            (self.to_fetch > 0).then(|| format!("fetched {} of {}", self.fetched, self.to_fetch));
        match self.status {
            JobStatus::Completed => found,
            JobStatus::Failed | JobStatus::Cancelled => {
                let mut detail = Vec::new();
                if self.counts.scanned > 0 {
                    detail.push(format!("it had found {found}"));
                }
                detail.extend(fetched);
                if detail.is_empty() {
                    "Changed nothing".into()
                } else {
                    format!("Changed nothing ({})", detail.join("; "))
                }
            }
            JobStatus::Queued | JobStatus::Running => {
                so_far(&self.counts, self.fetched, self.to_fetch)
            }
        }
    }
}

impl SyncProgress {
    /// What a running sync has done, as its history row says it: see [`so_far`].
    pub fn so_far(&self) -> String {
        so_far(&self.counts, self.fetched, self.to_fetch)
    }
}

/// "Not scanned yet", or "So far: +3 added, 9 unchanged; fetched 1 of 3".
fn so_far(counts: &SyncCounts, fetched: u32, to_fetch: u32) -> String {
    if counts.scanned == 0 {
        return "Not scanned yet".into();
    }
    let mut line = format!("So far: {}", counts.summary());
    if to_fetch > 0 {
        line.push_str(&format!("; fetched {fetched} of {to_fetch}"));
    }
    line
}

/// Which of a project's secrets are set (never their values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSecrets {
    /// When the GitHub token was last set, if one is.
    pub github_token_set_at: Option<String>,
    /// When the webhook secret was last made, if one is.
    pub webhook_secret_set_at: Option<String>,
    /// The address to paste into GitHub's webhook settings.
    pub webhook_url: String,
}

/// A GitHub token as pasted: 1-255 visible characters, no spaces.
#[derive(Clone, PartialEq, Eq)]
pub struct GithubToken(String);

impl std::fmt::Debug for GithubToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GithubToken([REDACTED])")
    }
}

impl GithubToken {
    /// Parses a pasted token (surrounding spaces are dropped).
    pub fn parse(text: &str) -> Result<Self, crate::ApiError> {
        let token = text.trim();
        if token.is_empty() {
            return Err(crate::ApiError::invalid("github_token", "is required"));
        }
        if token.len() > 255 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(crate::ApiError::invalid(
                "github_token",
                "must be one line of at most 255 characters without spaces",
            ));
        }
        Ok(Self(token.to_owned()))
    }

    /// The token itself, for sealing it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The paths one sync changed, by what it did (at most 1,000 in all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncChanges {
    /// New paths.
    pub added: Vec<String>,
    /// Paths whose contents changed.
    pub changed: Vec<String>,
    /// Paths an unchanged file moved to.
    pub moved: Vec<String>,
    /// Paths gone from the branch.
    pub removed: Vec<String>,
    /// Whether there were more than listed.
    pub more: bool,
    /// The files the sync left out, with why (at most 1,000; the counts have them all).
    #[serde(default)]
    pub skipped: Vec<SkippedFile>,
}

/// A file a sync did not import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedFile {
    /// Its path in the repository.
    pub path: String,
    /// Why, as a person reads it ("a lock file", "binary (.png)").
    pub why: String,
}

/// The most skipped files a sync keeps by name.
pub const MAX_SKIPPED_LISTED: usize = 1000;

/// What one sync did to one path: the text before and after, as a line diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncFileChange {
    /// The path.
    pub path: String,
    /// The entry this sync wrote for it (added, changed, moved here).
    pub new_entry: Option<MemoryEntryId>,
    /// The entry this sync superseded for it (changed, removed).
    pub old_entry: Option<MemoryEntryId>,
    /// The diff's lines, in hunks with three lines of context around each change.
    pub lines: Vec<DiffLine>,
    /// Lines left out at the end (a very long diff is cut).
    pub more_lines: u32,
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLine {
    /// `+` added, `-` removed, ` ` unchanged, `@` a hunk's start (its text says where).
    pub sign: char,
    /// Its number in the old text, if it is there.
    pub old_line: Option<u32>,
    /// Its number in the new text, if it is there.
    pub new_line: Option<u32>,
    /// The line, without its end.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync(status: JobStatus, counts: SyncCounts, to_fetch: u32, fetched: u32) -> ProjectSync {
        ProjectSync {
            id: ProjectSyncId::from_uuid(uuid::Uuid::nil()),
            project_id: ProjectId::from_uuid(uuid::Uuid::nil()),
            job_id: None,
            trigger: SyncTrigger::Cli,
            requested_by: None,
            branch: "main".into(),
            scan_path: String::new(),
            head_sha: None,
            status,
            phase: None,
            counts,
            to_fetch,
            fetched,
            github_requests: 0,
            error: None,
            created_at: String::new(),
            started_at: None,
            finished_at: None,
        }
    }

    #[test]
    fn a_sync_that_did_not_complete_says_it_changed_nothing_and_what_it_had_found() {
        let found = SyncCounts {
            scanned: 40,
            added: 38,
            skipped: BTreeMap::from([("binary".to_owned(), 2)]),
            ..SyncCounts::default()
        };
        assert_eq!(
            sync(JobStatus::Completed, found.clone(), 38, 38).outcome(),
            "+38 added, 2 skipped"
        );
        assert_eq!(
            sync(JobStatus::Failed, found.clone(), 38, 30).outcome(),
            "Changed nothing (it had found +38 added, 2 skipped; fetched 30 of 38)"
        );
        assert_eq!(
            sync(JobStatus::Cancelled, SyncCounts::default(), 0, 0).outcome(),
            "Changed nothing"
        );
        assert_eq!(
            sync(JobStatus::Running, found, 38, 12).outcome(),
            "So far: +38 added, 2 skipped; fetched 12 of 38"
        );
        assert_eq!(
            sync(JobStatus::Queued, SyncCounts::default(), 0, 0).outcome(),
            "Not scanned yet"
        );
    }
}
