//! Domain errors and their one mapping to what the client sees.

use api::ApiError;
use sea_orm::{DbErr, SqlErr};

/// What can go wrong in the domain layer.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The row does not exist or belongs to another tenant.
    #[error("not found")]
    NotFound,
    /// A uniqueness or state rule was violated.
    #[error("conflict: {0}")]
    Conflict(String),
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
}

impl From<DbErr> for DomainError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => Self::Conflict(detail),
            _ if matches!(err, DbErr::RecordNotFound(_)) => Self::NotFound,
            _ => Self::Database(err),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::NotFound => ApiError::NotFound,
            DomainError::Conflict(_) => ApiError::Conflict {
                message: "already exists".into(),
            },
            DomainError::Invalid { field, reason } => ApiError::Invalid { field, reason },
            DomainError::Database(source) => {
                tracing::error!(error = %source, "database error");
                ApiError::Internal
            }
        }
    }
}
