//! Projects as the UI sends and receives them.

use crate::ApiError;
use crate::accounts::Name;
use crate::github::{BranchName, GithubRepo, ScanPath};
use crate::ids::ProjectId;
use serde::{Deserialize, Serialize};

/// What the project form sends: raw text, parsed by [`ProjectForm::parse`] on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProjectForm {
    /// Project name, unique in the tenant (case-insensitively).
    pub name: String,
    /// Free text.
    pub description: String,
    /// `owner/repo` or a GitHub URL; empty for a project without a repository.
    pub github_repo: String,
    /// Branch to sync; `main` when left empty.
    pub github_branch: String,
    /// Directory to scan; empty or `/` for the root.
    pub github_path: String,
    /// More paths a sync leaves out, one per line: a folder (`generated/`), a file type (`*.snap`)
    /// or a path (`docs/old.md`).
    #[serde(default)]
    pub sync_ignore: String,
    /// Minutes between scheduled checks of the branch (a sync runs only when it moved); empty for
    /// no schedule.
    #[serde(default)]
    pub sync_every_minutes: String,
}

/// A project's GitHub link, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GithubLink {
    /// Repository.
    pub repo: GithubRepo,
    /// Branch.
    pub branch: BranchName,
    /// Scan path.
    pub path: ScanPath,
}

/// A project form that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidProject {
    /// Name.
    pub name: Name,
    /// Description, trimmed.
    pub description: String,
    /// GitHub link, if a repository was given.
    pub github: Option<GithubLink>,
    /// What syncs leave out beyond the defaults.
    pub sync_ignore: Vec<String>,
    /// Minutes between scheduled checks of the branch, if scheduled.
    pub sync_every_minutes: Option<u32>,
}

impl ProjectForm {
    /// Longest schedule interval accepted: a week.
    pub const MAX_SYNC_EVERY_MINUTES: u32 = 10_080;

    /// Longest description accepted.
    pub const MAX_DESCRIPTION_CHARS: usize = 2000;

    /// Checks every field; the first problem found is returned.
    pub fn parse(&self) -> Result<ValidProject, ApiError> {
        let name = Name::parse_for("name", &self.name)?;
        let description = self.description.trim().to_owned();
        if description.chars().count() > Self::MAX_DESCRIPTION_CHARS {
            return Err(ApiError::invalid(
                "description",
                format!("must be at most {} characters", Self::MAX_DESCRIPTION_CHARS),
            ));
        }
        let github = if self.github_repo.trim().is_empty() {
            if !self.github_branch.trim().is_empty() || !self.github_path.trim().is_empty() {
                return Err(ApiError::invalid(
                    "github_repo",
                    "is required when a branch or path is given",
                ));
            }
            None
        } else {
            let branch = if self.github_branch.trim().is_empty() {
                "main"
            } else {
                &self.github_branch
            };
            Some(GithubLink {
                repo: GithubRepo::parse(&self.github_repo)?,
                branch: BranchName::parse(branch)?,
                path: ScanPath::parse(&self.github_path)?,
            })
        };
        let sync_ignore: Vec<String> = self
            .sync_ignore
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect();
        if sync_ignore.len() > 100
            || sync_ignore
                .iter()
                .any(|p| p.len() > 200 || p.chars().any(char::is_control))
        {
            return Err(ApiError::invalid(
                "sync_ignore",
                "must be at most 100 lines of at most 200 characters",
            ));
        }
        let sync_every_minutes = match self.sync_every_minutes.trim() {
            "" => None,
            text => match text.parse::<u32>() {
                Ok(minutes) if (1..=Self::MAX_SYNC_EVERY_MINUTES).contains(&minutes) => {
                    Some(minutes)
                }
                _ => {
                    return Err(ApiError::invalid(
                        "sync_every_minutes",
                        format!(
                            "must be a whole number of minutes from 1 to {}, or empty",
                            Self::MAX_SYNC_EVERY_MINUTES
                        ),
                    ));
                }
            },
        };
        if sync_every_minutes.is_some() && github.is_none() {
            return Err(ApiError::invalid(
                "sync_every_minutes",
                "needs a GitHub repository to check",
            ));
        }
        Ok(ValidProject {
            name,
            description,
            github,
            sync_ignore,
            sync_every_minutes,
        })
    }
}

/// A project as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Id.
    pub id: ProjectId,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// GitHub link.
    pub github: Option<GithubLink>,
    /// What syncs leave out beyond the defaults.
    #[serde(default)]
    pub sync_ignore: Vec<String>,
    /// Minutes between scheduled checks of the branch, if scheduled.
    #[serde(default)]
    pub sync_every_minutes: Option<u32>,
    /// When the schedule last checked the branch, RFC 3339.
    #[serde(default)]
    pub sync_checked_at: Option<String>,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Last change, RFC 3339.
    pub updated_at: String,
}

impl Project {
    /// The form pre-filled with this project, for editing.
    pub fn to_form(&self) -> ProjectForm {
        let (repo, branch, path) = match &self.github {
            Some(link) => (
                link.repo.to_string(),
                link.branch.as_str().to_owned(),
                link.path.as_str().to_owned(),
            ),
            None => Default::default(),
        };
        ProjectForm {
            name: self.name.clone(),
            description: self.description.clone(),
            github_repo: repo,
            github_branch: branch,
            github_path: path,
            sync_ignore: self.sync_ignore.join("\n"),
            sync_every_minutes: self
                .sync_every_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(repo: &str, branch: &str, path: &str) -> ProjectForm {
        ProjectForm {
            name: " Cairn ".into(),
            description: " A knowledge base ".into(),
            github_repo: repo.into(),
            github_branch: branch.into(),
            github_path: path.into(),
            sync_ignore: String::new(),
            sync_every_minutes: String::new(),
        }
    }

    #[test]
    fn a_full_form_parses_and_normalises() {
        let valid = form("https://github.com/acme/cairn", "", "/")
            .parse()
            .unwrap();
        assert_eq!(valid.name.as_str(), "Cairn");
        assert_eq!(valid.description, "A knowledge base");
        let link = valid.github.unwrap();
        assert_eq!(
            (
                link.repo.to_string().as_str(),
                link.branch.as_str(),
                link.path.as_str()
            ),
            ("acme/cairn", "main", "")
        );
    }

    #[test]
    fn a_project_without_a_repository_is_fine_but_not_half_a_link() {
        assert!(form("", "", "").parse().unwrap().github.is_none());
        assert_eq!(
            form("", "dev", "").parse().unwrap_err(),
            ApiError::invalid("github_repo", "is required when a branch or path is given")
        );
    }

    #[test]
    fn each_field_reports_its_own_error() {
        let mut f = form("acme/cairn", "main", "");
        f.name = " ".into();
        assert!(matches!(f.parse(), Err(ApiError::Invalid { field, .. }) if field == "name"));
        assert!(
            matches!(form("acme/cairn", "a..b", "").parse(), Err(ApiError::Invalid { field, .. }) if field == "github_branch")
        );
        assert!(
            matches!(form("acme/cairn", "main", "../x").parse(), Err(ApiError::Invalid { field, .. }) if field == "github_path")
        );
        assert!(
            matches!(form("acme", "main", "").parse(), Err(ApiError::Invalid { field, .. }) if field == "github_repo")
        );
    }

    #[test]
    fn a_schedule_is_minutes_within_a_week_and_needs_a_repository() {
        for bad in ["0", "-5", "1.5", "10081", "soon"] {
            let mut f = form("acme/cairn", "main", "");
            f.sync_every_minutes = bad.into();
            assert!(
                matches!(f.parse(), Err(ApiError::Invalid { field, .. }) if field == "sync_every_minutes"),
                "{bad}"
            );
        }
        let mut f = form("", "", "");
        f.sync_every_minutes = "60".into();
        assert!(
            matches!(f.parse(), Err(ApiError::Invalid { field, .. }) if field == "sync_every_minutes")
        );
        let mut f = form("acme/cairn", "main", "");
        f.sync_every_minutes = "10080".into();
        assert_eq!(f.parse().unwrap().sync_every_minutes, Some(10_080));
    }

    #[test]
    fn a_project_round_trips_through_its_form() {
        let mut f = form("acme/cairn", "dev", "docs");
        f.sync_every_minutes = " 15 ".into();
        let valid = f.parse().unwrap();
        assert_eq!(valid.sync_every_minutes, Some(15));
        let project = Project {
            id: ProjectId::from_uuid(uuid::Uuid::nil()),
            name: valid.name.to_string(),
            description: valid.description.clone(),
            github: valid.github.clone(),
            sync_ignore: valid.sync_ignore.clone(),
            sync_every_minutes: valid.sync_every_minutes,
            sync_checked_at: None,
            created_at: String::new(),
            updated_at: String::new(),
        };
        assert_eq!(project.to_form().parse().unwrap(), valid);
    }
}
