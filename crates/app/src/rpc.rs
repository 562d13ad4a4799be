//! The server functions: Cairn's typed RPC. Each is `POST /api/v1/<endpoint>` with a JSON body of its
//! arguments, answering JSON; errors are `ApiError` (the server gives each its HTTP status from
//! `ApiError::status_code`, in one place: `routes::server_fn_error_status`).
//! In the browser build these are thin clients; their bodies exist only on the server.
// `#[server]` generates an argument struct per function; its fields are the documented parameters.
#![allow(missing_docs)]

use api::ApiError;
use api::ids::{MemoryEntryId, NoteId, NoteImageId, ProjectId, TenantId, UserId};
use api::memory::{MemoryEntry, MemoryEntryForm, MemoryPage, MemoryQuery, MemoryStatus};
#[cfg(feature = "ssr")]
use api::notes::ImageCaption;
use api::notes::{ImageLimits, Note, NoteForm, NoteImage};
use api::projects::{Project, ProjectForm};
use api::tenants::{LogInForm, Member, Role, SessionView, SignUpForm};
use api::wire::Json;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::session_cookie;
#[cfg(feature = "ssr")]
use domain::{accounts, images, members, memory, notes, projects};

/// Who is signed in, or `None`.
#[server(prefix = "/api/v1", endpoint = "session", input = Json, output = Json)]
pub async fn current_session() -> Result<Option<SessionView>, ApiError> {
    let Some((state, signed_in)) = session_cookie::optional_session().await? else {
        return Ok(None);
    };
    Ok(Some(accounts::session_view(&state.db, &signed_in).await?))
}

/// Creates an account and its first team, and signs in.
#[server(prefix = "/api/v1", endpoint = "sign_up", input = Json, output = Json)]
pub async fn sign_up(form: SignUpForm) -> Result<SessionView, ApiError> {
    let state = session_cookie::state();
    let account = accounts::NewAccount::parse(&form)?;
    let client = session_cookie::client(&state).await?;
    let (signed_in, session) = accounts::sign_up(&state.db, account, &client).await?;
    session_cookie::set(&state, &session).await;
    Ok(accounts::session_view(&state.db, &signed_in).await?)
}

/// Signs in with e-mail and password.
#[server(prefix = "/api/v1", endpoint = "log_in", input = Json, output = Json)]
pub async fn log_in(form: LogInForm) -> Result<SessionView, ApiError> {
    let state = session_cookie::state();
    let client = session_cookie::client(&state).await?;
    let (signed_in, session) =
        accounts::log_in(&state.db, &form.email, &form.password, &client).await?;
    session_cookie::set(&state, &session).await;
    Ok(accounts::session_view(&state.db, &signed_in).await?)
}

/// Signs out: the session is revoked on the server, not just forgotten by the browser.
#[server(prefix = "/api/v1", endpoint = "log_out", input = Json, output = Json)]
pub async fn log_out() -> Result<(), ApiError> {
    let state = session_cookie::state();
    if let Some(token) = session_cookie::token().await? {
        accounts::log_out(&state.db, &token).await?;
    }
    session_cookie::clear(&state).await;
    Ok(())
}

/// Makes another of the user's tenants the active one.
#[server(prefix = "/api/v1", endpoint = "switch_tenant", input = Json, output = Json)]
pub async fn switch_tenant(tenant_id: TenantId) -> Result<SessionView, ApiError> {
    let (state, signed_in) = session_cookie::require_session().await?;
    accounts::switch_tenant(&state.db, &signed_in, tenant_id).await?;
    let signed_in = accounts::SignedIn {
        active_tenant: Some(tenant_id),
        ..signed_in
    };
    Ok(accounts::session_view(&state.db, &signed_in).await?)
}

/// The active tenant's members.
#[server(prefix = "/api/v1", endpoint = "list_members", input = Json, output = Json)]
pub async fn list_members() -> Result<Vec<Member>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(members::list(tx).await?)
}

/// Adds an existing user to the active tenant by e-mail.
#[server(prefix = "/api/v1", endpoint = "add_member", input = Json, output = Json)]
pub async fn add_member(email: String, role: Role) -> Result<Member, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(members::add(tx, &email, role).await?)
}

/// Removes a member from the active tenant (or leaves it, for one's own id).
#[server(prefix = "/api/v1", endpoint = "remove_member", input = Json, output = Json)]
pub async fn remove_member(user_id: UserId) -> Result<(), ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(members::remove(tx, user_id).await?)
}

/// The active tenant's projects, by name.
#[server(prefix = "/api/v1", endpoint = "list_projects", input = Json, output = Json)]
pub async fn list_projects() -> Result<Vec<Project>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(projects::list(tx).await?)
}

/// One project of the active tenant.
#[server(prefix = "/api/v1", endpoint = "get_project", input = Json, output = Json)]
pub async fn get_project(id: ProjectId) -> Result<Project, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(projects::get(tx, id).await?)
}

/// Creates a project in the active tenant.
#[server(prefix = "/api/v1", endpoint = "create_project", input = Json, output = Json)]
pub async fn create_project(form: ProjectForm) -> Result<Project, ApiError> {
    let project = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    Ok(projects::create(tx, project).await?)
}

/// Replaces a project's name, description and GitHub link.
#[server(prefix = "/api/v1", endpoint = "update_project", input = Json, output = Json)]
pub async fn update_project(id: ProjectId, form: ProjectForm) -> Result<Project, ApiError> {
    let project = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    Ok(projects::update(tx, id, project).await?)
}

/// Deletes a project and everything in it.
#[server(prefix = "/api/v1", endpoint = "delete_project", input = Json, output = Json)]
pub async fn delete_project(id: ProjectId) -> Result<(), ApiError> {
    let state = session_cookie::state();
    let tx = session_cookie::require_tenant().await?;
    Ok(projects::delete(tx, &state.images, id).await?)
}

/// A page of a project's notes, newest first, with their images; `true` when an older page follows.
#[server(prefix = "/api/v1", endpoint = "list_notes", input = Json, output = Json)]
pub async fn list_notes(project_id: ProjectId, page: u32) -> Result<(Vec<Note>, bool), ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(notes::list(tx, project_id, page).await?)
}

/// One note with its images.
#[server(prefix = "/api/v1", endpoint = "get_note", input = Json, output = Json)]
pub async fn get_note(id: NoteId) -> Result<Note, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(notes::get(tx, id).await?)
}

/// Creates a note in a project.
#[server(prefix = "/api/v1", endpoint = "create_note", input = Json, output = Json)]
pub async fn create_note(project_id: ProjectId, form: NoteForm) -> Result<Note, ApiError> {
    let note = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    Ok(notes::create(tx, project_id, note).await?)
}

/// Replaces a note's title and body.
#[server(prefix = "/api/v1", endpoint = "update_note", input = Json, output = Json)]
pub async fn update_note(id: NoteId, form: NoteForm) -> Result<Note, ApiError> {
    let note = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    Ok(notes::update(tx, id, note).await?)
}

/// Deletes a note with its images (rows and stored files).
#[server(prefix = "/api/v1", endpoint = "delete_note", input = Json, output = Json)]
pub async fn delete_note(id: NoteId) -> Result<(), ApiError> {
    let state = session_cookie::state();
    let tx = session_cookie::require_tenant().await?;
    Ok(notes::delete(tx, &state.images, id).await?)
}

/// The upload limits (images are added by `POST /api/v1/notes/{note_id}/images`, streamed).
#[server(prefix = "/api/v1", endpoint = "upload_limits", input = Json, output = Json)]
pub async fn upload_limits() -> Result<ImageLimits, ApiError> {
    // Only members see the limits; nothing is read.
    drop(session_cookie::require_tenant().await?);
    Ok(session_cookie::state().images.limits())
}

/// Removes one image (row and stored file).
#[server(prefix = "/api/v1", endpoint = "remove_image", input = Json, output = Json)]
pub async fn remove_image(id: NoteImageId) -> Result<(), ApiError> {
    let state = session_cookie::state();
    let tx = session_cookie::require_tenant().await?;
    Ok(images::remove(tx, &state.images, id).await?)
}

/// Puts a note's images in this order; the list names each of them exactly once.
#[server(prefix = "/api/v1", endpoint = "reorder_images", input = Json, output = Json)]
pub async fn reorder_images(
    note_id: NoteId,
    image_ids: Vec<NoteImageId>,
) -> Result<Vec<NoteImage>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(images::reorder(tx, note_id, &image_ids).await?)
}

/// Sets or clears an image's caption.
#[server(prefix = "/api/v1", endpoint = "set_image_description", input = Json, output = Json)]
pub async fn set_image_description(
    id: NoteImageId,
    description: String,
) -> Result<NoteImage, ApiError> {
    let caption = ImageCaption::parse(&description)?;
    let tx = session_cookie::require_tenant().await?;
    Ok(images::describe(tx, id, caption).await?)
}

/// A page of a project's memory entries, filtered and searched.
#[server(prefix = "/api/v1", endpoint = "list_memory", input = Json, output = Json)]
pub async fn list_memory(
    project_id: ProjectId,
    query: MemoryQuery,
) -> Result<MemoryPage, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(memory::list(tx, project_id, &query).await?)
}

/// Writes a manual memory entry.
#[server(prefix = "/api/v1", endpoint = "create_memory_entry", input = Json, output = Json)]
pub async fn create_memory_entry(
    project_id: ProjectId,
    form: MemoryEntryForm,
) -> Result<MemoryEntry, ApiError> {
    let entry = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    Ok(memory::create(tx, project_id, entry).await?)
}

/// Edits a manual memory entry.
#[server(prefix = "/api/v1", endpoint = "update_memory_entry", input = Json, output = Json)]
pub async fn update_memory_entry(
    id: MemoryEntryId,
    form: MemoryEntryForm,
) -> Result<MemoryEntry, ApiError> {
    let entry = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    Ok(memory::update(tx, id, entry).await?)
}

/// Marks a memory entry superseded, or restores it.
#[server(prefix = "/api/v1", endpoint = "set_memory_status", input = Json, output = Json)]
pub async fn set_memory_status(
    id: MemoryEntryId,
    status: MemoryStatus,
) -> Result<MemoryEntry, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(memory::set_status(tx, id, status).await?)
}
