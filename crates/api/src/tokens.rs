//! Personal API tokens: a member's bearer credential for one team.

use crate::ApiError;
use crate::ids::ApiTokenId;
use serde::{Deserialize, Serialize};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Read only: every request runs in a read-only transaction, so nothing can be changed.
    Read,
    /// Whatever its member may do in the team.
    Write,
}

impl TokenScope {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            _ => None,
        }
    }
}

/// The longest a token may live.
pub const MAX_TOKEN_DAYS: u32 = 365;

/// A new token as the form sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenForm {
    /// What it is for ("CI", "my laptop").
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// Days until it stops working (1 to 365).
    pub expires_in_days: String,
}

/// An [`ApiTokenForm`] that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidApiToken {
    /// Name, trimmed, 1-100 characters.
    pub name: String,
    /// Scope.
    pub scope: TokenScope,
    /// Days of life.
    pub days: u32,
}

impl ApiTokenForm {
    /// Checks the form; each problem names its field.
    pub fn parse(&self) -> Result<ValidApiToken, ApiError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ApiError::invalid("name", "must be 1 to 100 characters"));
        }
        let days = self
            .expires_in_days
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=MAX_TOKEN_DAYS).contains(d))
            .ok_or_else(|| {
                ApiError::invalid(
                    "expires_in_days",
                    format!("must be a number of days from 1 to {MAX_TOKEN_DAYS}"),
                )
            })?;
        Ok(ValidApiToken {
            name: name.to_owned(),
            scope: self.scope,
            days,
        })
    }
}

/// A token as its owner sees it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// Id.
    pub id: ApiTokenId,
    /// Name.
    pub name: String,
    /// Scope.
    pub scope: TokenScope,
    /// Made at (RFC 3339).
    pub created_at: String,
    /// Stops working at.
    pub expires_at: String,
    /// Last used at, if ever.
    pub last_used_at: Option<String>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// A token just made: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiToken {
    /// The token's record.
    pub token: ApiToken,
    /// `cairn_…`: sent as `Authorization: Bearer cairn_…`.
    pub secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_form_names_what_is_wrong() {
        let form = |name: &str, days: &str| ApiTokenForm {
            name: name.into(),
            scope: TokenScope::Read,
            expires_in_days: days.into(),
        };
        assert_eq!(form(" CI ", "30").parse().unwrap().name, "CI");
        assert_eq!(form("CI", "365").parse().unwrap().days, 365);
        for (name, days, field) in [
            ("", "30", "name"),
            ("CI", "0", "expires_in_days"),
            ("CI", "366", "expires_in_days"),
            ("CI", "soon", "expires_in_days"),
        ] {
            match form(name, days).parse() {
                Err(ApiError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{name:?} {days:?}: {other:?}"),
            }
        }
    }
}
