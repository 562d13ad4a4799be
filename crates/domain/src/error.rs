//! Domain errors and their one mapping to what the client sees.

use api::ApiError;
use sea_orm::{DbErr, SqlErr};

/// What can go wrong in the domain layer.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The row does not exist or belongs to another tenant.
    #[error("not found")]
    NotFound,
    /// A uniqueness or state rule was violated; the message is safe to show.
    #[error("conflict: {0}")]
    Conflict(String),
    /// No valid session, or the e-mail and password do not match.
    #[error("unauthorized")]
    Unauthorized,
    /// The role does not allow this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// Too many failed attempts.
    #[error("rate limited for {retry_after_secs} s")]
    RateLimited {
        /// Seconds until another attempt is allowed.
        retry_after_secs: u64,
    },
    /// Input failed validation.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The database failed.
    #[error("database error: {0}")]
    Database(DbErr),
    /// A service Cairn calls failed or refused: GitHub, an LLM provider, the object store, the
    /// mail server. The user learns which service and when to try again; the cause is logged at
    /// the one boundary, never sent.
    #[error("{service} failed: {cause}")]
    Upstream {
        /// Which service.
        service: Upstream,
        /// What went wrong, for the log.
        cause: String,
        /// When trying again makes sense, if the service said.
        retry_after_secs: Option<u64>,
    },
    /// A service Cairn depends on (the mail server, the password hasher's capacity) cannot serve
    /// this now. `service` names it for the user; the cause is logged where it happened.
    #[error("{service} unavailable")]
    Unavailable {
        /// What is unavailable, in the user's words.
        service: String,
        /// When trying again makes sense, if known.
        retry_after_secs: Option<u64>,
    },
    /// A failure that is Cairn's own fault (a task that panicked, a broken invariant).
    #[error("internal error: {0}")]
    Internal(String),
    /// A job's attempt no longer holds its job: it was reaped (its worker stalled past the
    /// staleness limit) and is another attempt's now, or it ended. Nothing of the transaction
    /// was written.
    #[error("this attempt no longer holds its job (taken over or ended)")]
    LeaseLost,
}

/// The services Cairn depends on beyond its database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// GitHub (or a GitHub Enterprise Server).
    GitHub,
    /// An LLM provider, by its name in the team's settings.
    LlmProvider(String),
    /// The object store holding images.
    Storage,
    /// The SMTP server.
    Mail,
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::GitHub => f.write_str("GitHub"),
            Self::LlmProvider(name) => write!(f, "the AI provider {name}"),
            Self::Storage => f.write_str("image storage"),
            Self::Mail => f.write_str("e-mail"),
        }
    }
}

impl DomainError {
    /// `service` failed because of `cause` (kept for the log).
    pub fn upstream(service: Upstream, cause: impl std::fmt::Display) -> Self {
        Self::Upstream {
            service,
            cause: cause.to_string(),
            retry_after_secs: None,
        }
    }
}

impl DomainError {
    /// How a job step that failed with this error ends its attempt. The message is what the job's
    /// events show the team, so causes that are logged but not shown stay out of it, as at the
    /// request boundary: upstream and database failures are worth another attempt; the rest would
    /// fail the same way again.
    pub fn into_job_failure(self) -> jobs::JobFailure {
        use jobs::JobFailure;
        match self {
            Self::Upstream {
                service, ref cause, ..
            } => {
                tracing::warn!(%service, %cause, "a job step's upstream service failed");
                JobFailure::Retry(format!("{service} is unavailable"))
            }
            Self::Unavailable { service, .. } => {
                JobFailure::Retry(format!("{service} is unavailable"))
            }
            Self::Database(source) => {
                tracing::error!(error = %source, "a job step's database error");
                JobFailure::Retry("the database failed".into())
            }
            Self::Internal(cause) => {
                tracing::error!(%cause, "a job step's internal error");
                JobFailure::Fatal("internal error".into())
            }
            Self::RateLimited { retry_after_secs } => {
                JobFailure::Retry(format!("rate limited for {retry_after_secs} s"))
            }
            // Its runtime finds the job is no longer its own and writes nothing more either.
            Self::LeaseLost => {
                tracing::warn!("a job step was refused: its attempt no longer holds the job");
                JobFailure::Retry(Self::LeaseLost.to_string())
            }
            other => JobFailure::Fatal(other.to_string()),
        }
    }
}

impl From<object_store::Error> for DomainError {
    fn from(error: object_store::Error) -> Self {
        Self::upstream(Upstream::Storage, error)
    }
}

/// Named database rules whose violation is the user's to fix, with the message they see.
const RULES: &[(&str, &str)] = &[
    (
        "memberships_keep_an_owner",
        "a team needs at least one owner",
    ),
    (
        "memory_entries_one_active_path",
        "another version of this file became the active one meanwhile: reload and try again",
    ),
];

/// The SQLSTATE of a database error, if it has one.
fn sql_state(err: &DbErr) -> Option<String> {
    use sea_orm::RuntimeErr;
    use std::ops::Deref;
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.deref() {
                sea_orm::sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The constraint a database error names, if any.
fn violated_constraint(err: &DbErr) -> Option<&str> {
    use sea_orm::RuntimeErr;
    use std::ops::Deref;
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.deref() {
                sea_orm::sqlx::Error::Database(db) => db.constraint(),
                _ => None,
            }
        }
        _ => None,
    }
}

impl From<DbErr> for DomainError {
    fn from(err: DbErr) -> Self {
        let rule = violated_constraint(&err)
            .and_then(|name| RULES.iter().find(|(rule, _)| *rule == name))
            .map(|(_, message)| *message);
        if let Some(message) = rule {
            return Self::Conflict(message.into());
        }
        // A read-only token's transaction refused a write (read_only_sql_transaction).
        if sql_state(&err).as_deref() == Some("25006") {
            return Self::Forbidden(crate::tenant::READ_ONLY_TOKEN.into());
        }
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => {
                // The constraint detail names columns and values: log it, show a plain message.
                tracing::debug!(%detail, "unique violation");
                Self::Conflict("already exists".into())
            }
            _ if matches!(err, DbErr::RecordNotFound(_)) => Self::NotFound,
            _ => Self::Database(err),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::NotFound => ApiError::NotFound,
            DomainError::Conflict(message) => ApiError::Conflict { message },
            DomainError::Unauthorized => ApiError::Unauthorized,
            DomainError::Forbidden(reason) => ApiError::Forbidden { reason },
            DomainError::RateLimited { retry_after_secs } => {
                ApiError::RateLimited { retry_after_secs }
            }
            DomainError::Invalid { field, reason } => ApiError::Invalid { field, reason },
            DomainError::Database(source) => {
                tracing::error!(error = %source, "database error");
                ApiError::Internal
            }
            DomainError::Upstream {
                service,
                cause,
                retry_after_secs,
            } => {
                tracing::error!(%service, %cause, "upstream service failed");
                ApiError::Unavailable {
                    service: service.to_string(),
                    retry_after_secs,
                }
            }
            DomainError::Unavailable {
                service,
                retry_after_secs,
            } => ApiError::Unavailable {
                service,
                retry_after_secs,
            },
            DomainError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                ApiError::Internal
            }
            // Only a job's transactions take a lease; no request gets here.
            DomainError::LeaseLost => {
                tracing::error!("a request's transaction reported a lost job lease");
                ApiError::Internal
            }
        }
    }
}

impl From<ApiError> for DomainError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Invalid { field, reason } => Self::Invalid { field, reason },
            ApiError::NotFound => Self::NotFound,
            other => Self::Internal(other.to_string()),
        }
    }
}
