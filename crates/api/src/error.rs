//! The error the client sees.

use serde::{Deserialize, Serialize};

/// What went wrong, in terms a client can act on.
///
/// This is the only error type that crosses the wire. It carries no internal detail: the cause of an
/// `Internal` or `Unavailable` error is logged on the server under the request id, never sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case", try_from = "WireError")]
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
        /// Seconds after which trying again makes sense, when known (also sent as `Retry-After`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_secs: Option<u64>,
    },
    /// Something failed on the server; the details are in the server log under the request id.
    #[error("internal error")]
    Internal,
}

/// `ApiError` as it is read back: one flat object instead of serde's internally tagged enum, whose
/// buffering deserializer is several kilobytes of the browser bundle. The JSON is the same.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireKind {
    NotFound,
    Invalid,
    Conflict,
    Unauthorized,
    Forbidden,
    RateLimited,
    Unavailable,
    Internal,
}

#[derive(Deserialize)]
struct WireError {
    kind: WireKind,
    field: Option<String>,
    reason: Option<String>,
    message: Option<String>,
    retry_after_secs: Option<u64>,
    service: Option<String>,
}

impl TryFrom<WireError> for ApiError {
    type Error = &'static str;

    fn try_from(wire: WireError) -> Result<Self, Self::Error> {
        fn needs<T>(value: Option<T>, name: &'static str) -> Result<T, &'static str> {
            value.ok_or(name)
        }
        Ok(match wire.kind {
            WireKind::NotFound => Self::NotFound,
            WireKind::Invalid => Self::Invalid {
                field: needs(wire.field, "missing field `field`")?,
                reason: needs(wire.reason, "missing field `reason`")?,
            },
            WireKind::Conflict => Self::Conflict {
                message: needs(wire.message, "missing field `message`")?,
            },
            WireKind::Unauthorized => Self::Unauthorized,
            WireKind::Forbidden => Self::Forbidden {
                reason: needs(wire.reason, "missing field `reason`")?,
            },
            WireKind::RateLimited => Self::RateLimited {
                retry_after_secs: needs(wire.retry_after_secs, "missing field `retry_after_secs`")?,
            },
            WireKind::Unavailable => Self::Unavailable {
                service: needs(wire.service, "missing field `service`")?,
                retry_after_secs: wire.retry_after_secs,
            },
            WireKind::Internal => Self::Internal,
        })
    }
}

impl ApiError {
    /// Shorthand for a validation error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same validation error, for the form field `field` (a parser shared by two fields names
    /// the first, e.g. `password` for a new password).
    pub fn renamed(self, field: &str) -> Self {
        match self {
            Self::Invalid { reason, .. } => Self::Invalid {
                field: field.to_owned(),
                reason,
            },
            other => other,
        }
    }

    /// Seconds the client should wait before trying again, for a `Retry-After` header.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            Self::Unavailable {
                retry_after_secs, ..
            } => *retry_after_secs,
            _ => None,
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

impl ApiError {
    /// The message a person sees: what happened and, where possible, what to do.
    pub fn user_message(&self) -> String {
        match self {
            Self::NotFound => {
                "Not found: it may have been deleted, or it belongs to another team.".into()
            }
            Self::Invalid { field, reason } => format!("{}: {reason}.", field_label(field)),
            Self::Conflict { message } => format!("{}.", capitalize(message)),
            Self::Unauthorized => "Please sign in.".into(),
            Self::Forbidden { reason } => format!("Not allowed: {reason}."),
            Self::RateLimited { retry_after_secs } => {
                let minutes = retry_after_secs.div_ceil(60);
                if *retry_after_secs < 60 {
                    format!("Too many attempts. Try again in {retry_after_secs} seconds.")
                } else {
                    format!("Too many attempts. Try again in {minutes} minutes.")
                }
            }
            Self::Unavailable { service, .. } => {
                format!("{} is unavailable. Try again shortly.", capitalize(service))
            }
            Self::Internal => {
                "Something went wrong on our side. Try again; if it persists, tell your admin."
                    .into()
            }
        }
    }
}

fn field_label(field: &str) -> String {
    match field {
        "email" => "E-mail".into(),
        "password" => "Password".into(),
        "display_name" => "Your name".into(),
        "tenant_name" => "Team name".into(),
        "name" => "Name".into(),
        "description" => "Description".into(),
        "github_repo" => "Repository".into(),
        "github_branch" => "Branch".into(),
        "github_path" => "Scan path".into(),
        other => capitalize(&other.replace('_', " ")),
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        // Field names are ASCII identifiers.
        Some(first) => std::iter::once(first.to_ascii_uppercase())
            .chain(chars)
            .collect(),
        None => String::new(),
    }
}

#[cfg(feature = "server-fn")]
impl server_fn::error::FromServerFnError for ApiError {
    type Encoder = crate::wire::JsonText;

    /// Framework-level failures: the request never reached Cairn, or could not be decoded.
    fn from_server_fn_error(error: server_fn::error::ServerFnErrorErr) -> Self {
        use server_fn::error::ServerFnErrorErr as E;
        match error {
            E::Request(_) | E::Response(_) => Self::Unavailable {
                service: "Cairn".into(),
                retry_after_secs: None,
            },
            E::Args(text) | E::MissingArg(text) | E::Deserialization(text) => {
                crate::wire::malformed_request(&text)
            }
            _ => Self::Internal,
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
    fn every_variant_reads_back_as_written_and_incomplete_errors_are_refused() {
        let all = [
            ApiError::NotFound,
            ApiError::invalid("email", "is required"),
            ApiError::Conflict {
                message: "taken".into(),
            },
            ApiError::Unauthorized,
            ApiError::Forbidden {
                reason: "owners only".into(),
            },
            ApiError::RateLimited {
                retry_after_secs: 30,
            },
            ApiError::Unavailable {
                service: "storage".into(),
                retry_after_secs: None,
            },
            ApiError::Unavailable {
                service: "password checks".into(),
                retry_after_secs: Some(2),
            },
            ApiError::Internal,
        ];
        for error in all {
            let text = serde_json::to_string(&error).unwrap();
            assert_eq!(
                serde_json::from_str::<ApiError>(&text).unwrap(),
                error,
                "{text}"
            );
        }
        let incomplete = serde_json::from_str::<ApiError>(r#"{"kind":"invalid","field":"email"}"#);
        assert!(incomplete.unwrap_err().to_string().contains("reason"));
        assert!(serde_json::from_str::<ApiError>(r#"{"kind":"bogus"}"#).is_err());
    }

    #[test]
    fn messages_read_like_sentences() {
        assert_eq!(
            ApiError::invalid("github_branch", "is required").user_message(),
            "Branch: is required."
        );
        assert_eq!(
            ApiError::RateLimited {
                retry_after_secs: 300
            }
            .user_message(),
            "Too many attempts. Try again in 5 minutes."
        );
        assert_eq!(
            ApiError::Conflict {
                message: "a project with this name already exists".into()
            }
            .user_message(),
            "A project with this name already exists."
        );
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
