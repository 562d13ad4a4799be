//! A project's source on GitHub, as the project form sees it: which branches a repository has.

use crate::AppContext;
use api::ApiError;
use api::github::{BranchChoices, GithubRepo};
use api::ids::ProjectId;
use domain::{TenantTxn, project_secrets, projects};
use github::GitHubError;

/// Branch pages read at most (a hundred branches each).
const MAX_BRANCH_PAGES: u32 = 10;

/// The branches of `github_repo` for the branch picker (the first thousand), with its default
/// branch. With `project_id`, the project's token is used (a private repository); without, only
/// public repositories answer.
pub async fn list_branches(
    app: &AppContext,
    tx: TenantTxn,
    github_repo: &str,
    project_id: Option<ProjectId>,
) -> Result<BranchChoices, ApiError> {
    let repo = GithubRepo::parse(github_repo)?;
    // The project's token, and only for the project's own repository: it was given for that one,
    // and must not list (or reveal the existence of) any other the token can see.
    let token = match project_id {
        Some(project) => {
            let linked = projects::get(&tx, project).await?.github;
            if linked.is_some_and(|link| {
                link.repo
                    .to_string()
                    .eq_ignore_ascii_case(&repo.to_string())
            }) {
                project_secrets::github_token(&tx, &app.secrets, project).await?
            } else {
                None
            }
        }
        None => None,
    };
    tx.end_read();
    let refused = |error: GitHubError| unavailable(error, project_id.is_some());
    let client = app.github.client(token.as_ref()).map_err(refused)?;
    let repository = client.repository(&repo).await.map_err(refused)?;
    let mut branches = Vec::new();
    let mut more = false;
    for page in 1..=MAX_BRANCH_PAGES {
        let listed = client.branches(&repo, page).await.map_err(refused)?;
        branches.extend(listed.branches.into_iter().map(|b| b.name));
        more = listed.has_next;
        if !more {
            break;
        }
    }
    Ok(BranchChoices {
        default_branch: repository.default_branch,
        branches,
        more,
    })
}

/// What the form is told when GitHub would not list the branches: what to do next, on the form
/// the user is on (a new project has no token yet; a saved one takes it in its Sources tab).
fn unavailable(error: GitHubError, saved_project: bool) -> ApiError {
    match error {
        GitHubError::NotFound(_) | GitHubError::Forbidden(_) => ApiError::invalid(
            "github_repo",
            if saved_project {
                "is not on GitHub, or is private: check its spelling, or add a token that can read \
                 it in this project's Sources tab and choose again"
            } else {
                "is not on GitHub, or is private: check its spelling; for a private repository, \
                 type the branch, create the project, then add a token in its Sources tab"
            },
        ),
        GitHubError::Unauthorized => ApiError::invalid("github_token", "was refused by GitHub"),
        GitHubError::RateLimited { until } => ApiError::RateLimited {
            retry_after_secs: u64::try_from((until - chrono::Utc::now()).num_seconds().max(1))
                .unwrap_or(60),
        },
        other => {
            tracing::warn!(error = %other, "listing branches");
            ApiError::Unavailable {
                service: "GitHub".into(),
                retry_after_secs: None,
            }
        }
    }
}

/// A file entry's page on GitHub, at the commit its sync read (`None` for a manual entry, or a
/// file whose sync recorded no commit).
pub async fn file_url(
    app: &AppContext,
    tx: &TenantTxn,
    entry: &api::memory::MemoryEntry,
) -> Result<Option<String>, ApiError> {
    let Some(path) = &entry.source_path else {
        return Ok(None);
    };
    Ok(domain::memory::synced_from(tx, entry.id)
        .await?
        .map(|(repo, commit)| github::file_url(&app.github.api_url, &repo, &commit, path)))
}
