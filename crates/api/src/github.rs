//! A project's link to GitHub: repository, branch and scan path, parsed the way GitHub and git would.

use crate::ApiError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `owner/repo` on GitHub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubRepo {
    owner: String,
    name: String,
}

impl GithubRepo {
    /// Parses `owner/repo`, also accepting a pasted `https://github.com/owner/repo(.git)` URL.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let invalid = |reason: &str| Err(ApiError::invalid("github_repo", reason));
        let trimmed = text.trim();
        let path = trimmed
            .strip_prefix("https://github.com/")
            .or_else(|| trimmed.strip_prefix("http://github.com/"))
            .or_else(|| trimmed.strip_prefix("github.com/"))
            .unwrap_or(trimmed);
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        let Some((owner, name)) = path.split_once('/') else {
            return invalid("must be owner/repository");
        };
        let owner_ok = (1..=39).contains(&owner.len())
            && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !owner.starts_with('-')
            && !owner.ends_with('-');
        if !owner_ok {
            return invalid("owner must be 1-39 letters, digits or inner hyphens");
        }
        let name_ok = (1..=100).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && name != "."
            && name != "..";
        if !name_ok {
            return invalid("repository must be 1-100 letters, digits, '-', '_' or '.'");
        }
        Ok(Self {
            owner: owner.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The owner (user or organisation).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The repository name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for GithubRepo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A branch name git would accept (`git check-ref-format --branch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BranchName(String);

impl BranchName {
    /// Parses a branch name.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let branch = text.trim();
        let invalid = |reason: &str| Err(ApiError::invalid("github_branch", reason));
        if branch.is_empty() {
            return invalid("is required");
        }
        if branch.len() > 255 {
            return invalid("is too long");
        }
        let bad_char = |c: char| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c);
        if branch.chars().any(bad_char)
            || branch.contains("..")
            || branch.contains("//")
            || branch.contains("@{")
            || branch == "@"
            || branch.starts_with(['/', '-', '.'])
            || branch.ends_with(['/', '.'])
            || branch.ends_with(".lock")
            || branch
                .split('/')
                .any(|part| part.starts_with('.') || part.ends_with(".lock"))
        {
            return invalid("is not a valid git branch name");
        }
        Ok(Self(branch.to_owned()))
    }

    /// The branch name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A directory inside the repository to scan: relative, normalised, `''` for the root.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScanPath(String);

impl ScanPath {
    /// Parses a path typed by a person: `/`, `''` and `.` mean the root; `docs/` becomes `docs`.
    /// `..` and absolute paths are refused rather than "fixed".
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let path = text.trim();
        let invalid = |reason: &str| Err(ApiError::invalid("github_path", reason));
        if path.is_empty() || path == "/" || path == "." {
            return Ok(Self::default());
        }
        if path.starts_with('/') {
            return invalid("must be relative to the repository root (no leading /)");
        }
        if path.len() > 1024 {
            return invalid("is too long");
        }
        if path.chars().any(|c| c.is_control() || c == '\\') {
            return invalid("must not contain control characters or backslashes");
        }
        let mut parts = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => return invalid("must not contain .."),
                part => parts.push(part),
            }
        }
        Ok(Self(parts.join("/")))
    }

    /// The path as stored: `''` for the root.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path as shown: `/` for the root, `/docs` otherwise.
    pub fn display(&self) -> String {
        format!("/{}", self.0)
    }
}

/// The branches a repository offers, for the branch picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchChoices {
    /// The branch GitHub shows by default.
    pub default_branch: String,
    /// Branch names, as GitHub lists them.
    pub branches: Vec<String>,
    /// Whether there are more than were listed (the picker shows the first thousand).
    pub more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repos_parse_from_slugs_and_urls() {
        let repo = GithubRepo::parse(" rust-lang/rust ").unwrap();
        assert_eq!((repo.owner(), repo.name()), ("rust-lang", "rust"));
        assert_eq!(
            GithubRepo::parse("https://github.com/tokio-rs/axum.git")
                .unwrap()
                .to_string(),
            "tokio-rs/axum"
        );
        assert_eq!(
            GithubRepo::parse("github.com/a/b.c/").unwrap().to_string(),
            "a/b.c"
        );
        for bad in [
            "",
            "rust",
            "/rust",
            "rust/",
            "-bad/repo",
            "bad-/repo",
            "a/..",
            "a/b/c",
            "a b/c",
            "a/b c",
            &format!("{}/x", "o".repeat(40)),
        ] {
            assert!(GithubRepo::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn branches_follow_git_rules() {
        for good in ["main", "release/1.2", "feature/x-y_z", "v1.0"] {
            assert_eq!(BranchName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "", "a..b", "a b", "-x", "/x", "x/", "x.lock", "a//b", "a@{1}", "@", "a~1", "a^",
            "a:b", ".hidden", "a/.b", "x.",
        ] {
            assert!(BranchName::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn scan_paths_are_relative_and_normalised() {
        for root in ["", " ", "/", "."] {
            let path = ScanPath::parse(root).unwrap();
            assert_eq!((path.as_str(), path.display().as_str()), ("", "/"));
        }
        assert_eq!(ScanPath::parse("docs/").unwrap().as_str(), "docs");
        assert_eq!(ScanPath::parse("./src//app/").unwrap().as_str(), "src/app");
        assert_eq!(ScanPath::parse("src/app").unwrap().display(), "/src/app");
        assert_eq!(
            ScanPath::parse("/etc"),
            Err(ApiError::invalid(
                "github_path",
                "must be relative to the repository root (no leading /)"
            ))
        );
        assert_eq!(
            ScanPath::parse("docs/../../secret"),
            Err(ApiError::invalid("github_path", "must not contain .."))
        );
        assert!(ScanPath::parse("a\\b").is_err());
    }
}
