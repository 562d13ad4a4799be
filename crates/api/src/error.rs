//! The error the client sees.

use serde::{Deserialize, Serialize};

/// What went wrong, in terms a client can act on.
///
/// This is the only error type that crosses the wire. It carries no internal detail: the cause of an
/// `Internal` or `Unavailable` error is logged on the server under the request id, never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ApiError {
    /// The row does not exist, or belongs to another tenant (the two are indistinguishable).
    #[error("not found")]
    NotFound,
    /// A field failed validation.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field that was rejected.
        field: String,
        /// Why, in words a user can read.
        reason: String,
    },
    /// The request conflicts with existing state (a duplicate name, a sync already running).
    #[error("conflict: {message}")]
    Conflict {
        /// What conflicts.
        message: String,
    },
    /// No valid session, or wrong credentials.
    #[error("not signed in")]
    Unauthorized,
    /// Signed in, in the right tenant, but the role does not allow this (e.g. a member deleting a
    /// project). Never used for another tenant's rows: those are `NotFound`.
    #[error("not allowed: {reason}")]
    Forbidden {
        /// Why, in words a user can read.
        reason: String,
    },
    /// Too many attempts; retry after the given number of seconds.
    #[error("too many attempts, retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// A dependency (database, storage, GitHub, an LLM provider) is not available.
    #[error("{service} is unavailable")]
    Unavailable {
        /// Which service.
        service: String,
    },
    /// Something failed on the server; the details are in the server log under the request id.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// Shorthand for a validation error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The HTTP status code this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Invalid { .. } => 422,
            Self::Conflict { .. } => 409,
            Self::Unauthorized => 401,
            Self::Forbidden { .. } => 403,
            Self::RateLimited { .. } => 429,
            Self::Unavailable { .. } => 503,
            Self::Internal => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_a_tagged_enum() {
        let json = serde_json::to_value(ApiError::invalid("name", "must not be empty")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "invalid", "field": "name", "reason": "must not be empty"})
        );
        let back: ApiError = serde_json::from_value(json).unwrap();
        assert_eq!(back, ApiError::invalid("name", "must not be empty"));
    }

    #[test]
    fn internal_errors_carry_no_detail() {
        assert_eq!(
            serde_json::to_string(&ApiError::Internal).unwrap(),
            r#"{"kind":"internal"}"#
        );
        assert_eq!(ApiError::Internal.status_code(), 500);
        assert_eq!(ApiError::NotFound.status_code(), 404);
    }
}
