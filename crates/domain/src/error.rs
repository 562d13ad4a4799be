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
    /// The object store failed.
    #[error("storage error: {0}")]
    Storage(#[from] object_store::Error),
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
}

/// Named database rules whose violation is the user's to fix, with the message they see.
const RULES: &[(&str, &str)] = &[(
    "memberships_keep_an_owner",
    "a team needs at least one owner",
)];

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
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => {
                // The constraint detail names columns and values: log it, show a plain message.
                tracing::debug!(%detail, "unique violation");
                Self::Conflict("already exists".into())
            }
            _ if matches!(err, DbErr::RecordNotFound(_)) => Self::NotFound,
            _ => match violated_constraint(&err)
                .and_then(|name| RULES.iter().find(|(rule, _)| *rule == name))
            {
                Some((_, message)) => Self::Conflict((*message).into()),
                None => Self::Database(err),
            },
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
            DomainError::Storage(source) => {
                tracing::error!(error = %source, "storage error");
                ApiError::Unavailable {
                    service: "image storage".into(),
                    retry_after_secs: None,
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
