//! Projects of a tenant: every member sees and edits the same projects.

use crate::audit::AuditAction;
use crate::entities::projects;
use crate::storage::Orphans;
use crate::{DomainError, TenantTxn, audit, images};
use api::github::{BranchName, GithubRepo, ScanPath};
use api::ids::{ProjectId, UserId};
use api::projects::{GithubLink, Project, ValidProject};
use api::tenants::Permission;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

const NAME_TAKEN: &str = "a project with this name already exists";

/// The tenant's projects, by name.
pub async fn list(tx: &TenantTxn) -> Result<Vec<Project>, DomainError> {
    let ctx = tx.ctx();
    // Row-level security narrows the scan to the tenant; the explicit filter says so in the code too.
    let rows = projects::Entity::find()
        .filter(projects::Column::TenantId.eq(ctx.tenant_id().into_uuid()))
        .order_by_asc(Expr::cust("lower(name)"))
        .all(tx.txn())
        .await?;
    Ok(rows.into_iter().map(to_dto).collect())
}

/// One project; another tenant's is `NotFound`.
pub async fn get(tx: &TenantTxn, id: ProjectId) -> Result<Project, DomainError> {
    Ok(to_dto(find(tx, id).await?))
}

/// Creates a project. Names are unique per tenant, ignoring case.
pub async fn create(tx: &TenantTxn, project: ValidProject) -> Result<Project, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    let ctx = tx.ctx();
    let id = Uuid::now_v7();
    let (owner, repo, branch, path) = link_columns(project.github.as_ref());
    let row = projects::ActiveModel {
        id: Set(id),
        tenant_id: Set(ctx.tenant_id().into_uuid()),
        name: Set(project.name.to_string()),
        description: Set(project.description),
        github_owner: Set(owner),
        github_repo: Set(repo),
        github_branch: Set(branch),
        github_path: Set(path),
        sync_ignore: Set(project.sync_ignore.join("\n")),
        sync_every_minutes: Set(project.sync_every_minutes.map(minutes_column)),
        created_by: Set(ctx.user_id().map(UserId::into_uuid)),
        ..Default::default()
    }
    .insert(tx.txn())
    .await
    .map_err(name_conflict)?;
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::ProjectCreate,
        id,
        serde_json::json!({"name": row.name}),
    )
    .await?;
    Ok(to_dto(row))
}

/// Replaces a project's name, description and GitHub link.
pub async fn update(
    tx: &TenantTxn,
    id: ProjectId,
    project: ValidProject,
) -> Result<Project, DomainError> {
    tx.ctx().require(Permission::EditContent)?;
    let current = find(tx, id).await?;
    let (owner, repo, branch, path) = link_columns(project.github.as_ref());
    // A project's GitHub token reads what the project points at: with a token set, only those who
    // manage sources re-point it, and a new repository drops the token (given for the old one).
    let same_repository = current
        .github_owner
        .as_deref()
        .zip(current.github_repo.as_deref())
        .zip(owner.as_deref().zip(repo.as_deref()))
        .is_some_and(|((o1, r1), (o2, r2))| {
            o1.eq_ignore_ascii_case(o2) && r1.eq_ignore_ascii_case(r2)
        });
    let repointed =
        !same_repository || current.github_branch != branch || current.github_path != path;
    if repointed && crate::project_secrets::has_github_token(tx, id).await? {
        tx.ctx().require(api::tenants::Permission::ManageSources)?;
        if !same_repository {
            crate::project_secrets::drop_token_for_moved_repository(tx, id).await?;
        }
    }
    // A new schedule starts with a check now.
    let schedule_changed =
        current.sync_every_minutes != project.sync_every_minutes.map(minutes_column);
    let mut row: projects::ActiveModel = current.into();
    if schedule_changed {
        row.sync_checked_at = Set(None);
    }
    row.name = Set(project.name.to_string());
    row.description = Set(project.description);
    row.github_owner = Set(owner);
    row.github_repo = Set(repo);
    row.github_branch = Set(branch);
    row.github_path = Set(path);
    row.sync_ignore = Set(project.sync_ignore.join("\n"));
    row.sync_every_minutes = Set(project.sync_every_minutes.map(minutes_column));
    row.updated_at = Set(chrono::Utc::now().fixed_offset());
    let row = row.update(tx.txn()).await.map_err(name_conflict)?;
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::ProjectUpdate,
        row.id,
        serde_json::json!({"name": row.name}),
    )
    .await?;
    Ok(to_dto(row))
}

/// Deletes a project and everything in it (notes, images, memory, syncs); the stored objects of its
/// images go once the caller committed. Owners and admins only.
pub async fn delete(tx: &TenantTxn, id: ProjectId) -> Result<Orphans, DomainError> {
    let ctx = tx.ctx();
    ctx.require(api::tenants::Permission::DeleteProjects)?;
    let row = find(tx, id).await?;
    let image_keys = images::keys_where(tx.txn(), images::in_project(row.id)).await?;
    projects::Entity::delete_by_id(row.id)
        .exec(tx.txn())
        .await?;
    audit::record(
        tx.txn(),
        tx.ctx(),
        AuditAction::ProjectDelete,
        row.id,
        serde_json::json!({"name": row.name, "images": image_keys.len()}),
    )
    .await?;
    Ok(Orphans::new(image_keys))
}

pub(crate) async fn find(tx: &TenantTxn, id: ProjectId) -> Result<projects::Model, DomainError> {
    tx.find::<projects::Entity>(id.into_uuid()).await
}

fn name_conflict(err: sea_orm::DbErr) -> DomainError {
    match DomainError::from(err) {
        DomainError::Conflict(_) => DomainError::Conflict(NAME_TAKEN.into()),
        other => other,
    }
}

type LinkColumns = (Option<String>, Option<String>, Option<String>, String);

fn link_columns(link: Option<&GithubLink>) -> LinkColumns {
    match link {
        Some(link) => (
            Some(link.repo.owner().to_owned()),
            Some(link.repo.name().to_owned()),
            Some(link.branch.as_str().to_owned()),
            link.path.as_str().to_owned(),
        ),
        None => (None, None, None, String::new()),
    }
}

/// The row's GitHub link. Rows were validated on the way in; a row edited by hand into an invalid
/// link shows no link rather than failing the whole list.
fn link_of(row: &projects::Model) -> Option<GithubLink> {
    let (owner, repo, branch) = (
        row.github_owner.as_ref()?,
        row.github_repo.as_ref()?,
        row.github_branch.as_ref()?,
    );
    Some(GithubLink {
        repo: GithubRepo::parse(&format!("{owner}/{repo}")).ok()?,
        branch: BranchName::parse(branch).ok()?,
        path: ScanPath::parse(&row.github_path).ok()?,
    })
}

/// A schedule interval as stored (at most a week, so it fits).
fn minutes_column(minutes: u32) -> i32 {
    i32::try_from(minutes).unwrap_or(i32::MAX)
}

fn to_dto(row: projects::Model) -> Project {
    Project {
        sync_every_minutes: row
            .sync_every_minutes
            .and_then(|minutes| u32::try_from(minutes).ok()),
        sync_checked_at: row
            .sync_checked_at
            .map(|at| at.with_timezone(&chrono::Utc).to_rfc3339()),
        id: ProjectId::from_uuid(row.id),
        github: link_of(&row),
        sync_ignore: row
            .sync_ignore
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        name: row.name,
        description: row.description,
        created_at: row.created_at.to_rfc3339(),
        updated_at: row.updated_at.to_rfc3339(),
    }
}
