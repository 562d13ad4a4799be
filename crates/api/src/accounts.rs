//! Account input: e-mail addresses, passwords, display names and tenant names. The browser validates
//! with the same parsers before sending, and the server parses again: the server's word is final.

use crate::ApiError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A syntactically valid e-mail address, trimmed and lower-cased (addresses are compared without case).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Longest address accepted (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;

    /// Parses an address typed by a person, folded to lower case so that `Ada@X.org` and
    /// `ada@x.org` are one account.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let email = fold_case(text.trim());
        let invalid = |reason: &str| Err(ApiError::invalid("email", reason));
        if email.is_empty() {
            return invalid("is required");
        }
        if email.len() > Self::MAX_LEN {
            return invalid("is too long");
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid("must not contain spaces");
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return invalid("must look like name@example.com");
        };
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return invalid("must look like name@example.com");
        }
        Ok(Self(email))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The server folds case with Unicode's rules: the address it stores and looks up (by
/// `lower(email)`) is that one. The browser only validates before sending the text as typed; the
/// checks do not depend on the case of letters (only the byte length of a few non-ASCII ones, which
/// the server then judges), so it folds ASCII only and ships without Unicode's case tables.
#[cfg(not(target_arch = "wasm32"))]
fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

#[cfg(target_arch = "wasm32")]
fn fold_case(text: &str) -> String {
    text.to_ascii_lowercase()
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = ApiError;
    fn try_from(text: String) -> Result<Self, ApiError> {
        Self::parse(&text)
    }
}

impl From<Email> for String {
    fn from(email: Email) -> String {
        email.0
    }
}

/// A new password that meets the policy. Never logged or serialized back.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    /// Fewest characters accepted.
    pub const MIN_CHARS: usize = 10;
    /// Most characters accepted (argon2 hashes anything, but a megabyte "password" is an attack).
    pub const MAX_CHARS: usize = 256;

    /// Checks a password chosen at sign-up.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let chars = text.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(ApiError::invalid(
                "password",
                format!("must be at least {} characters", Self::MIN_CHARS),
            ));
        }
        if chars > Self::MAX_CHARS {
            return Err(ApiError::invalid(
                "password",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if text.trim().is_empty() {
            return Err(ApiError::invalid("password", "must not be only spaces"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The password, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([REDACTED])")
    }
}

/// A short human name: a person's display name or a tenant's name. Trimmed, 1 to 100 characters, no
/// control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    /// Most characters accepted.
    pub const MAX_CHARS: usize = 100;

    /// Parses a name for `field`.
    pub fn parse_for(field: &str, text: &str) -> Result<Self, ApiError> {
        let name = text.trim();
        if name.is_empty() {
            return Err(ApiError::invalid(field, "is required"));
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(ApiError::invalid(
                field,
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(ApiError::invalid(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Name {
    type Error = ApiError;
    fn try_from(text: String) -> Result<Self, ApiError> {
        Self::parse_for("name", &text)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@exa..mple.com",
            "ada@.example.com",
            "ada@example.com.",
            "ada@ex_ample.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(
            Email::parse(&long),
            Err(ApiError::invalid("email", "is too long"))
        );
    }

    #[test]
    fn email_deserialization_validates() {
        assert!(serde_json::from_str::<Email>("\"not-an-email\"").is_err());
        assert_eq!(
            serde_json::from_str::<Email>("\"A@B.io\"")
                .unwrap()
                .as_str(),
            "a@b.io"
        );
    }

    #[test]
    fn passwords_have_length_limits_and_never_print() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("          ").is_err());
        assert!(NewPassword::parse(&"x".repeat(257)).is_err());
        let password = NewPassword::parse("correct horse battery").unwrap();
        assert_eq!(password.expose(), "correct horse battery");
        assert!(!format!("{password:?}").contains("horse"));
        // Characters, not bytes: ten accented letters are enough.
        assert!(NewPassword::parse("éééééééééé").is_ok());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            Name::parse_for("name", "  Acme  ").unwrap().as_str(),
            "Acme"
        );
        assert_eq!(
            Name::parse_for("tenant_name", " "),
            Err(ApiError::invalid("tenant_name", "is required"))
        );
        assert!(Name::parse_for("name", &"n".repeat(101)).is_err());
        assert!(Name::parse_for("name", "bad\u{0}name").is_err());
    }
}
