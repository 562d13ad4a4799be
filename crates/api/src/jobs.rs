//! Background jobs as clients see them: their status and the events streamed while they run.

use serde::{Deserialize, Serialize};

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting to be claimed (also between retries).
    Queued,
    /// An instance is working on it.
    Running,
    /// Done.
    Completed,
    /// Given up: its error says why.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl JobStatus {
    /// Parses the status as the queue stores it.
    pub fn parse(status: &str) -> Option<Self> {
        Some(match status {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }

    /// As the queue stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether the job is over: nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// One event of a job's stream, in the order they happened. `id` orders them and is what a client
/// sends back as `Last-Event-ID` to resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEvent {
    /// Position in the job's stream (increasing).
    pub id: i64,
    /// What happened.
    #[serde(flatten)]
    pub body: JobEventBody,
    /// When, RFC 3339.
    pub at: String,
}

/// What a job event says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobEventBody {
    /// The job's status changed (queued, running, a retry, the end).
    Status {
        /// The new status.
        status: JobStatus,
        /// The attempt it is on (0 before the first).
        attempt: i32,
        /// Attempts allowed.
        max_attempts: i32,
        /// Why the last attempt failed, when it did.
        error: Option<String>,
    },
    /// The job's own report of its progress: what the kind chose to say (phase, counts, ETA).
    Progress {
        /// The report.
        progress: serde_json::Value,
    },
}

impl JobEvent {
    /// Whether this is the job's last event (a final status).
    pub fn is_end(&self) -> bool {
        matches!(&self.body, JobEventBody::Status { status, .. } if status.is_final())
    }
}

/// One of a team's jobs, as the Jobs page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamJob {
    /// Id.
    pub id: crate::ids::JobId,
    /// Its kind (`project.sync`).
    pub kind: String,
    /// What it is, in words ("Sync of Widgets").
    pub title: String,
    /// Where it is.
    pub status: JobStatus,
    /// Who asked for it, when a member did.
    pub requested_by: Option<String>,
    /// Attempts made.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// Why its last attempt failed, if one did.
    pub last_error: Option<String>,
    /// Queued at (RFC 3339).
    pub created_at: String,
    /// Seconds from its first start to its end (or to now, while it runs).
    pub duration_secs: Option<u64>,
    /// Whether it can be tried again from here (it failed or was cancelled).
    pub retryable: bool,
}
