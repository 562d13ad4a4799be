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
            DomainError::Storage(source) => {
                tracing::error!(error = %source, "storage error");
                ApiError::Unavailable {
                    service: "image storage".into(),
                }
            }
        }
    }
}

impl From<ApiError> for DomainError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Invalid { field, reason } => Self::Invalid { field, reason },
            ApiError::NotFound => Self::NotFound,
            other => Self::Database(DbErr::Custom(other.to_string())),
        }
    }
}
