//! The server functions: Cairn's typed RPC. Each is `POST /api/v1/<endpoint>` with a JSON body of its
//! arguments, answering JSON; errors are `ApiError` (the server gives each its HTTP status from
//! `ApiError::status_code`, in one place: `routes::server_fn_error_status`).
//! In the browser build these are thin clients; their bodies exist only on the server.
// `#[server]` generates an argument struct per function; its fields are the documented parameters.
#![allow(missing_docs)]

use api::ApiError;
use api::ids::{
    InvitationId, JobId, MemoryEntryId, NoteId, NoteImageId, ProjectId, ProjectSyncId, SessionId,
    TenantId, UserId,
};
use api::memory::{MemoryEntry, MemoryEntryForm, MemoryPage, MemoryQuery, MemoryStatus};
#[cfg(feature = "ssr")]
use api::notes::ImageCaption;
use api::notes::{ImageLimits, Note, NoteForm, NoteImage};
use api::projects::{Project, ProjectForm};
use api::syncs::{ProjectSync, SourceSecrets};
use api::tenants::{
    Invitation, InvitationSent, InvitationView, InvitedSignUpForm, LogInForm, Member,
    PasswordChangeForm, Role, SessionInfo, SessionView, SignUpForm,
};
use api::wire::Json;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::session_cookie;
#[cfg(feature = "ssr")]
use domain::accounts::{recovery, sessions};
#[cfg(feature = "ssr")]
use domain::{
    accounts, images, invitations, job_runs, members, memory, notes, project_secrets, projects,
    syncs,
};
#[cfg(feature = "ssr")]
use services::delivery;

/// Who is signed in, or `None`.
#[server(prefix = "/api/v1", endpoint = "session", input = Json, output = Json)]
pub async fn current_session() -> Result<Option<SessionView>, ApiError> {
    let Some((state, signed_in)) = session_cookie::optional_session().await? else {
        return Ok(None);
    };
    Ok(Some(
        accounts::session_view(&state.ctx.db, &signed_in).await?,
    ))
}

/// Creates an account and its first team, and signs in.
#[server(prefix = "/api/v1", endpoint = "sign_up", input = Json, output = Json)]
pub async fn sign_up(form: SignUpForm) -> Result<SessionView, ApiError> {
    let state = session_cookie::state()?;
    let account = accounts::NewAccount::parse(&form)?;
    let client = session_cookie::client(&state).await?;
    let (signed_in, session) =
        accounts::sign_up(&state.ctx.db, &state.ctx.passwords, account, &client).await?;
    session_cookie::set(&state, &session).await;
    delivery::send_verification_soon(&state.ctx, &signed_in);
    Ok(accounts::session_view(&state.ctx.db, &signed_in).await?)
}

/// Signs in with e-mail and password.
#[server(prefix = "/api/v1", endpoint = "log_in", input = Json, output = Json)]
pub async fn log_in(form: LogInForm) -> Result<SessionView, ApiError> {
    let state = session_cookie::state()?;
    let client = session_cookie::client(&state).await?;
    let (signed_in, session) = accounts::log_in(
        &state.ctx.db,
        &state.ctx.passwords,
        &form.email,
        &form.password,
        &client,
    )
    .await?;
    session_cookie::set(&state, &session).await;
    Ok(accounts::session_view(&state.ctx.db, &signed_in).await?)
}

/// Signs out: the session is revoked on the server, not just forgotten by the browser.
#[server(prefix = "/api/v1", endpoint = "log_out", input = Json, output = Json)]
pub async fn log_out() -> Result<(), ApiError> {
    let state = session_cookie::state()?;
    if let Some(token) = session_cookie::token().await? {
        accounts::log_out(&state.ctx.db, &token).await?;
    }
    session_cookie::clear(&state).await;
    Ok(())
}

/// Makes another of the user's tenants the active one.
#[server(prefix = "/api/v1", endpoint = "switch_tenant", input = Json, output = Json)]
pub async fn switch_tenant(tenant_id: TenantId) -> Result<SessionView, ApiError> {
    let (state, signed_in) = session_cookie::require_session().await?;
    accounts::switch_tenant(&state.ctx.db, &signed_in, tenant_id).await?;
    let signed_in = accounts::SignedIn {
        active_tenant: Some(tenant_id),
        ..signed_in
    };
    Ok(accounts::session_view(&state.ctx.db, &signed_in).await?)
}

/// The active tenant's members.
#[server(prefix = "/api/v1", endpoint = "list_members", input = Json, output = Json)]
pub async fn list_members() -> Result<Vec<Member>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(members::list(&tx).await?)
}

/// Changes a member's role (owners only; a team keeps at least one owner).
#[server(prefix = "/api/v1", endpoint = "change_member_role", input = Json, output = Json)]
pub async fn change_member_role(user_id: UserId, role: Role) -> Result<Member, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    let member = members::change_role(&tx, user_id, role).await?;
    tx.commit().await?;
    Ok(member)
}

/// Invites an e-mail address to the active team. The answer is the same whether or not the address
/// has an account. With e-mail configured the link is mailed (and not shown: only the address's
/// owner may follow it); without, the inviter gets the link to hand over.
#[server(prefix = "/api/v1", endpoint = "invite_member", input = Json, output = Json)]
pub async fn invite_member(email: String, role: Role) -> Result<InvitationSent, ApiError> {
    let state = session_cookie::state()?;
    let email = api::accounts::Email::parse(&email)?;
    let tx = session_cookie::require_tenant().await?;
    let issued = invitations::create(
        &state.ctx.db,
        &tx,
        &email,
        role,
        state.ctx.mailer.is_enabled(),
    )
    .await?;
    delivery::invitation(&state.ctx, tx, issued).await
}

/// The active team's pending invitations.
#[server(prefix = "/api/v1", endpoint = "list_invitations", input = Json, output = Json)]
pub async fn list_invitations() -> Result<Vec<Invitation>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    // Listing marks expired invitations so (and audits it): commit.
    let pending = invitations::list_pending(&tx).await?;
    tx.commit().await?;
    Ok(pending)
}

/// Sends a pending invitation again, with a new link (the previous one stops working).
#[server(prefix = "/api/v1", endpoint = "resend_invitation", input = Json, output = Json)]
pub async fn resend_invitation(id: InvitationId) -> Result<InvitationSent, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    let issued = invitations::resend(&state.ctx.db, &tx, id, state.ctx.mailer.is_enabled()).await?;
    delivery::invitation(&state.ctx, tx, issued).await
}

/// Takes a pending invitation back.
#[server(prefix = "/api/v1", endpoint = "revoke_invitation", input = Json, output = Json)]
pub async fn revoke_invitation(id: InvitationId) -> Result<(), ApiError> {
    let tx = session_cookie::require_tenant().await?;
    invitations::revoke(&tx, id).await?;
    tx.commit().await?;
    Ok(())
}

/// What an invitation's link shows (the team, who invited, the address, whether it still works).
#[server(prefix = "/api/v1", endpoint = "view_invitation", input = Json, output = Json)]
pub async fn view_invitation(token: String) -> Result<InvitationView, ApiError> {
    let signed_in = session_cookie::optional_session().await?;
    let state = session_cookie::state()?;
    Ok(invitations::view(&state.ctx.db, &token, signed_in.as_ref().map(|(_, s)| s)).await?)
}

/// Accepts an invitation as the signed-in user (whose address must be the invited one) and makes
/// its team the active one.
#[server(prefix = "/api/v1", endpoint = "accept_invitation", input = Json, output = Json)]
pub async fn accept_invitation(token: String) -> Result<SessionView, ApiError> {
    let (state, signed_in) = session_cookie::require_session().await?;
    let tenant_id = invitations::accept(&state.ctx.db, &token, &signed_in).await?;
    let signed_in = accounts::SignedIn {
        active_tenant: Some(tenant_id),
        ..signed_in
    };
    Ok(accounts::session_view(&state.ctx.db, &signed_in).await?)
}

/// Creates an account from an invitation's link (the address is the invitation's), joins the team
/// and signs in.
#[server(prefix = "/api/v1", endpoint = "sign_up_invited", input = Json, output = Json)]
pub async fn sign_up_invited(
    token: String,
    form: InvitedSignUpForm,
) -> Result<SessionView, ApiError> {
    let state = session_cookie::state()?;
    let client = session_cookie::client(&state).await?;
    let (signed_in, session) =
        invitations::sign_up_invited(&state.ctx.db, &state.ctx.passwords, &token, &form, &client)
            .await?;
    session_cookie::set(&state, &session).await;
    Ok(accounts::session_view(&state.ctx.db, &signed_in).await?)
}

/// Changes the signed-in user's password; every other session of theirs is signed out.
#[server(prefix = "/api/v1", endpoint = "change_password", input = Json, output = Json)]
pub async fn change_password(form: PasswordChangeForm) -> Result<u64, ApiError> {
    let new = api::accounts::NewPassword::parse(&form.new_password)
        .map_err(|e| e.renamed("new_password"))?;
    let (state, signed_in) = session_cookie::require_session().await?;
    Ok(recovery::change_password(
        &state.ctx.db,
        &state.ctx.passwords,
        &signed_in,
        &form.current_password,
        &new,
    )
    .await?)
}

/// Changes the signed-in user's name.
#[server(prefix = "/api/v1", endpoint = "rename_account", input = Json, output = Json)]
pub async fn rename_account(display_name: String) -> Result<(), ApiError> {
    let name = api::accounts::Name::parse_for("display_name", &display_name)?;
    let (state, signed_in) = session_cookie::require_session().await?;
    Ok(recovery::rename(&state.ctx.db, &signed_in, &name).await?)
}

/// E-mails a link to `new_email` that makes it the account's address once followed (after the
/// current password). Needs mail: without it, an address cannot be proven.
#[server(prefix = "/api/v1", endpoint = "change_email", input = Json, output = Json)]
pub async fn change_email(new_email: String, password: String) -> Result<(), ApiError> {
    let new_email = api::accounts::Email::parse(&new_email).map_err(|e| e.renamed("new_email"))?;
    let (state, signed_in) = session_cookie::require_session().await?;
    delivery::require_mail(&state.ctx)?;
    let link = recovery::request_email_change(
        &state.ctx.db,
        &state.ctx.passwords,
        &signed_in,
        &new_email,
        &password,
    )
    .await?;
    delivery::email_change(&state.ctx, link).await
}

/// E-mails a password-reset link to `email` if an account uses it. The answer is the same either
/// way; without e-mail configured it is `Unavailable`.
#[server(prefix = "/api/v1", endpoint = "request_password_reset", input = Json, output = Json)]
pub async fn request_password_reset(email: String) -> Result<(), ApiError> {
    let state = session_cookie::state()?;
    delivery::require_mail(&state.ctx)?;
    let client = session_cookie::client(&state).await?;
    if let Some(link) = recovery::request_password_reset(&state.ctx.db, &email, &client).await? {
        delivery::password_reset_soon(&state.ctx, link);
    }
    Ok(())
}

/// Sets a new password through a reset link; every session of the account is signed out, and
/// this browser is signed in.
#[server(prefix = "/api/v1", endpoint = "reset_password", input = Json, output = Json)]
pub async fn reset_password(token: String, password: String) -> Result<SessionView, ApiError> {
    let password = api::accounts::NewPassword::parse(&password)?;
    let state = session_cookie::state()?;
    let client = session_cookie::client(&state).await?;
    let (signed_in, session) = recovery::reset_password(
        &state.ctx.db,
        &state.ctx.passwords,
        &token,
        &password,
        &client,
    )
    .await?;
    session_cookie::set(&state, &session).await;
    Ok(accounts::session_view(&state.ctx.db, &signed_in).await?)
}

/// E-mails the signed-in user a link that verifies their address (nothing when verified already).
#[server(prefix = "/api/v1", endpoint = "send_verification_email", input = Json, output = Json)]
pub async fn send_verification_email() -> Result<(), ApiError> {
    let (state, signed_in) = session_cookie::require_session().await?;
    delivery::require_mail(&state.ctx)?;
    if let Some(link) = recovery::request_verification(&state.ctx.db, &signed_in).await? {
        delivery::verification(&state.ctx, link).await?;
    }
    Ok(())
}

/// Follows a verification link.
#[server(prefix = "/api/v1", endpoint = "verify_email", input = Json, output = Json)]
pub async fn verify_email(token: String) -> Result<(), ApiError> {
    Ok(recovery::verify_email(&session_cookie::state()?.ctx.db, &token).await?)
}

/// Whether this Cairn sends e-mail (otherwise invitation links are handed over by the inviter).
#[server(prefix = "/api/v1", endpoint = "mail_enabled", input = Json, output = Json)]
pub async fn mail_enabled() -> Result<bool, ApiError> {
    Ok(session_cookie::state()?.ctx.mailer.is_enabled())
}

/// The signed-in user's live sessions (browsers and devices).
#[server(prefix = "/api/v1", endpoint = "list_sessions", input = Json, output = Json)]
pub async fn list_sessions() -> Result<Vec<SessionInfo>, ApiError> {
    let (state, signed_in) = session_cookie::require_session().await?;
    Ok(sessions::list(&state.ctx.db, &signed_in).await?)
}

/// Signs one of the user's sessions out (another user's is not found).
#[server(prefix = "/api/v1", endpoint = "revoke_session", input = Json, output = Json)]
pub async fn revoke_session(id: SessionId) -> Result<(), ApiError> {
    let (state, signed_in) = session_cookie::require_session().await?;
    Ok(sessions::revoke(&state.ctx.db, &signed_in, id).await?)
}

/// Signs out every session of the user but this one; answers how many there were.
#[server(prefix = "/api/v1", endpoint = "revoke_other_sessions", input = Json, output = Json)]
pub async fn revoke_other_sessions() -> Result<u64, ApiError> {
    let (state, signed_in) = session_cookie::require_session().await?;
    Ok(sessions::revoke_others(&state.ctx.db, &signed_in).await?)
}

/// Removes a member from the active tenant (or leaves it, for one's own id).
#[server(prefix = "/api/v1", endpoint = "remove_member", input = Json, output = Json)]
pub async fn remove_member(user_id: UserId) -> Result<(), ApiError> {
    let tx = session_cookie::require_tenant().await?;
    members::remove(&tx, user_id).await?;
    tx.commit().await?;
    Ok(())
}

/// The active tenant's projects, by name.
#[server(prefix = "/api/v1", endpoint = "list_projects", input = Json, output = Json)]
pub async fn list_projects() -> Result<Vec<Project>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(projects::list(&tx).await?)
}

/// One project of the active tenant.
#[server(prefix = "/api/v1", endpoint = "get_project", input = Json, output = Json)]
pub async fn get_project(id: ProjectId) -> Result<Project, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(projects::get(&tx, id).await?)
}

/// Creates a project in the active tenant.
#[server(prefix = "/api/v1", endpoint = "create_project", input = Json, output = Json)]
pub async fn create_project(form: ProjectForm) -> Result<Project, ApiError> {
    let project = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    let project = projects::create(&tx, project).await?;
    tx.commit().await?;
    Ok(project)
}

/// Replaces a project's name, description and GitHub link.
#[server(prefix = "/api/v1", endpoint = "update_project", input = Json, output = Json)]
pub async fn update_project(id: ProjectId, form: ProjectForm) -> Result<Project, ApiError> {
    let project = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    let project = projects::update(&tx, id, project).await?;
    tx.commit().await?;
    Ok(project)
}

/// Deletes a project and everything in it.
#[server(prefix = "/api/v1", endpoint = "delete_project", input = Json, output = Json)]
pub async fn delete_project(id: ProjectId) -> Result<(), ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    let orphans = projects::delete(&tx, id).await?;
    tx.commit().await?;
    orphans.delete_from(&state.ctx.images).await;
    Ok(())
}

/// A page of a project's notes, newest first, with their images; `true` when an older page follows.
#[server(prefix = "/api/v1", endpoint = "list_notes", input = Json, output = Json)]
pub async fn list_notes(project_id: ProjectId, page: u32) -> Result<(Vec<Note>, bool), ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(notes::list(&tx, project_id, page).await?)
}

/// One note with its images.
#[server(prefix = "/api/v1", endpoint = "get_note", input = Json, output = Json)]
pub async fn get_note(id: NoteId) -> Result<Note, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(notes::get(&tx, id).await?)
}

/// Creates a note in a project.
#[server(prefix = "/api/v1", endpoint = "create_note", input = Json, output = Json)]
pub async fn create_note(project_id: ProjectId, form: NoteForm) -> Result<Note, ApiError> {
    let note = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    let note = notes::create(&tx, project_id, note).await?;
    tx.commit().await?;
    Ok(note)
}

/// Replaces a note's title and body.
#[server(prefix = "/api/v1", endpoint = "update_note", input = Json, output = Json)]
pub async fn update_note(id: NoteId, form: NoteForm) -> Result<Note, ApiError> {
    let note = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    let note = notes::update(&tx, id, note).await?;
    tx.commit().await?;
    Ok(note)
}

/// Deletes a note with its images (rows and stored files).
#[server(prefix = "/api/v1", endpoint = "delete_note", input = Json, output = Json)]
pub async fn delete_note(id: NoteId) -> Result<(), ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    let orphans = notes::delete(&tx, id).await?;
    tx.commit().await?;
    orphans.delete_from(&state.ctx.images).await;
    Ok(())
}

/// The upload limits (images are added by `POST /api/v1/notes/{note_id}/images`, streamed).
#[server(prefix = "/api/v1", endpoint = "upload_limits", input = Json, output = Json)]
pub async fn upload_limits() -> Result<ImageLimits, ApiError> {
    // Only members see the limits; nothing is read.
    drop(session_cookie::require_tenant().await?);
    Ok(session_cookie::state()?.ctx.images.limits())
}

/// Removes one image (row and stored file).
#[server(prefix = "/api/v1", endpoint = "remove_image", input = Json, output = Json)]
pub async fn remove_image(id: NoteImageId) -> Result<(), ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    let orphans = images::remove(&tx, id).await?;
    tx.commit().await?;
    orphans.delete_from(&state.ctx.images).await;
    Ok(())
}

/// Puts a note's images in this order; the list names each of them exactly once.
#[server(prefix = "/api/v1", endpoint = "reorder_images", input = Json, output = Json)]
pub async fn reorder_images(
    note_id: NoteId,
    image_ids: Vec<NoteImageId>,
) -> Result<Vec<NoteImage>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    let images = images::reorder(&tx, note_id, &image_ids).await?;
    tx.commit().await?;
    Ok(images)
}

/// Sets or clears an image's caption.
#[server(prefix = "/api/v1", endpoint = "set_image_description", input = Json, output = Json)]
pub async fn set_image_description(
    id: NoteImageId,
    description: String,
) -> Result<NoteImage, ApiError> {
    let caption = ImageCaption::parse(&description)?;
    let tx = session_cookie::require_tenant().await?;
    let image = images::describe(&tx, id, caption).await?;
    tx.commit().await?;
    Ok(image)
}

/// A page of a project's memory entries, filtered and searched.
#[server(prefix = "/api/v1", endpoint = "list_memory", input = Json, output = Json)]
pub async fn list_memory(
    project_id: ProjectId,
    query: MemoryQuery,
) -> Result<MemoryPage, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(memory::list(&tx, project_id, &query).await?)
}

/// The project's active files by path, for the Memory tab's tree.
#[server(prefix = "/api/v1", endpoint = "memory_file_tree", input = Json, output = Json)]
pub async fn memory_file_tree(project_id: ProjectId) -> Result<api::memory::FileTree, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(memory::file_tree(&tx, project_id).await?)
}

/// One memory entry; a file entry comes with its contents as highlighted HTML, made on the server.
#[server(prefix = "/api/v1", endpoint = "get_memory_entry", input = Json, output = Json)]
pub async fn get_memory_entry(
    id: MemoryEntryId,
) -> Result<(MemoryEntry, Option<String>, Option<String>), ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    let entry = memory::get(&tx, id).await?;
    let on_github = services::sources::file_url(&state.ctx, &tx, &entry).await?;
    tx.end_read();
    let highlighted = match &entry.source_path {
        Some(path) => {
            let (path, code) = (path.clone(), entry.content.clone());
            tokio::task::spawn_blocking(move || crate::highlight::to_html(&path, &code))
                .await
                .ok()
                .flatten()
        }
        None => None,
    };
    Ok((entry, highlighted, on_github))
}

/// The stylesheet of highlighted code's classes (light, and dark for dark mode).
#[server(prefix = "/api/v1", endpoint = "code_stylesheet", input = Json, output = Json)]
pub async fn code_stylesheet() -> Result<String, ApiError> {
    Ok(crate::highlight::stylesheet().to_owned())
}

/// Writes a manual memory entry.
#[server(prefix = "/api/v1", endpoint = "create_memory_entry", input = Json, output = Json)]
pub async fn create_memory_entry(
    project_id: ProjectId,
    form: MemoryEntryForm,
) -> Result<MemoryEntry, ApiError> {
    let entry = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    let entry = memory::create(&tx, project_id, entry).await?;
    tx.commit().await?;
    Ok(entry)
}

/// Edits a manual memory entry.
#[server(prefix = "/api/v1", endpoint = "update_memory_entry", input = Json, output = Json)]
pub async fn update_memory_entry(
    id: MemoryEntryId,
    form: MemoryEntryForm,
) -> Result<MemoryEntry, ApiError> {
    let entry = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    let entry = memory::update(&tx, id, entry).await?;
    tx.commit().await?;
    Ok(entry)
}

/// Marks a memory entry superseded, or restores it.
#[server(prefix = "/api/v1", endpoint = "set_memory_status", input = Json, output = Json)]
pub async fn set_memory_status(
    id: MemoryEntryId,
    status: MemoryStatus,
) -> Result<MemoryEntry, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    let entry = memory::set_status(&tx, id, status).await?;
    tx.commit().await?;
    Ok(entry)
}

/// Asks one of the team's background jobs to stop: a queued job at once, a running one at its next
/// step (its events stream says when). A job already over is a conflict.
#[server(prefix = "/api/v1", endpoint = "cancel_job", input = Json, output = Json)]
pub async fn cancel_job(id: JobId) -> Result<(), ApiError> {
    let tx = session_cookie::require_tenant().await?;
    job_runs::cancel(&tx, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Makes a personal API token for the signed-in member in their active team. The answer holds the
/// token, which is never shown again. From a browser session only.
#[server(prefix = "/api/v1", endpoint = "create_api_token", input = Json, output = Json)]
pub async fn create_api_token(
    form: api::tokens::ApiTokenForm,
) -> Result<api::tokens::NewApiToken, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    let made = domain::api_tokens::create(&tx, &form).await?;
    tx.commit().await?;
    Ok(made)
}

/// The signed-in member's API tokens in their active team (never the tokens themselves).
#[server(prefix = "/api/v1", endpoint = "list_api_tokens", input = Json, output = Json)]
pub async fn list_api_tokens() -> Result<Vec<api::tokens::ApiToken>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(domain::api_tokens::list(&tx).await?)
}

/// Revokes one of the signed-in member's API tokens: it stops working at once.
#[server(prefix = "/api/v1", endpoint = "revoke_api_token", input = Json, output = Json)]
pub async fn revoke_api_token(id: api::ids::ApiTokenId) -> Result<api::tokens::ApiToken, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    let revoked = domain::api_tokens::revoke(&tx, id).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// The team's jobs, running and queued first, then the latest (100). Owners and admins only.
#[server(prefix = "/api/v1", endpoint = "list_jobs", input = Json, output = Json)]
pub async fn list_jobs() -> Result<Vec<api::jobs::TeamJob>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(job_runs::list(&tx, 100).await?)
}

/// Tries a failed or cancelled job again (a sync: a new sync of its project). Owners and admins
/// only.
#[server(prefix = "/api/v1", endpoint = "retry_job", input = Json, output = Json)]
pub async fn retry_job(id: JobId) -> Result<(), ApiError> {
    let tx = session_cookie::require_tenant().await?;
    job_runs::retry(&tx, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Syncs the project's linked branch into the Memory Hub, or answers the sync already queued or
/// running (pressing Sync twice starts one). Its `job_id` is the live progress stream
/// (`/api/v1/events/jobs/{job_id}`).
#[server(prefix = "/api/v1", endpoint = "sync_project", input = Json, output = Json)]
pub async fn sync_project(project_id: ProjectId) -> Result<ProjectSync, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    let sync = syncs::start(&tx, project_id, api::syncs::SyncTrigger::Button).await?;
    tx.commit().await?;
    Ok(sync)
}

/// [`sync_project`] for the Sync button, which only needs to know that it worked: the page then
/// loads again and shows the running sync.
#[server(prefix = "/api/v1", endpoint = "start_sync", input = Json, output = Json)]
pub async fn start_sync(project_id: ProjectId) -> Result<(), ApiError> {
    sync_project(project_id).await.map(drop)
}

/// The project's syncs, newest first (the last 50).
#[server(prefix = "/api/v1", endpoint = "list_syncs", input = Json, output = Json)]
pub async fn list_syncs(project_id: ProjectId) -> Result<Vec<ProjectSync>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(syncs::history(&tx, project_id, 50).await?)
}

/// One sync.
#[server(prefix = "/api/v1", endpoint = "get_sync", input = Json, output = Json)]
pub async fn get_sync(id: ProjectSyncId) -> Result<ProjectSync, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(syncs::get(&tx, id).await?)
}

/// The paths a sync added, changed, moved and removed.
#[server(prefix = "/api/v1", endpoint = "sync_changes", input = Json, output = Json)]
pub async fn sync_changes(id: ProjectSyncId) -> Result<api::syncs::SyncChanges, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(syncs::changes(&tx, id).await?)
}

/// What a sync did to one path: the entries before and after, and the line diff between them.
#[server(prefix = "/api/v1", endpoint = "sync_file_change", input = Json, output = Json)]
pub async fn sync_file_change(
    id: ProjectSyncId,
    path: String,
) -> Result<api::syncs::SyncFileChange, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(syncs::file_change(&tx, id, &path).await?)
}

/// Cancels the sync, whatever state it is in (queued, running, or left open by a worker that
/// stopped): nothing it did becomes visible. A sync over already is left as it is.
#[server(prefix = "/api/v1", endpoint = "cancel_sync", input = Json, output = Json)]
pub async fn cancel_sync(id: ProjectSyncId) -> Result<(), ApiError> {
    let tx = session_cookie::require_tenant().await?;
    syncs::cancel(&tx, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Which of the project's GitHub credentials are set (never their values), and the webhook's
/// payload URL.
#[server(prefix = "/api/v1", endpoint = "source_secrets", input = Json, output = Json)]
pub async fn get_source_secrets(project_id: ProjectId) -> Result<SourceSecrets, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    let (github_token_set_at, webhook_secret_set_at) =
        project_secrets::set_at(&tx, project_id).await?;
    Ok(SourceSecrets {
        github_token_set_at,
        webhook_secret_set_at,
        webhook_url: state
            .ctx
            .link(&format!("/api/v1/webhooks/github/{project_id}")),
    })
}

/// Sets the project's GitHub token (owners and admins). It is stored sealed and never shown again.
#[server(prefix = "/api/v1", endpoint = "set_github_token", input = Json, output = Json)]
pub async fn set_github_token(project_id: ProjectId, token: String) -> Result<(), ApiError> {
    let token = api::syncs::GithubToken::parse(&token)?;
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    project_secrets::set_github_token(&tx, &state.ctx.secrets, project_id, &token).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes the project's GitHub token (public repositories need none).
#[server(prefix = "/api/v1", endpoint = "clear_github_token", input = Json, output = Json)]
pub async fn clear_github_token(project_id: ProjectId) -> Result<(), ApiError> {
    let tx = session_cookie::require_tenant().await?;
    project_secrets::clear(&tx, project_id, project_secrets::SecretKind::GithubToken).await?;
    tx.commit().await?;
    Ok(())
}

/// Makes a new webhook secret (the previous one stops verifying) and answers it, once, to paste
/// into GitHub's webhook settings.
#[server(prefix = "/api/v1", endpoint = "new_webhook_secret", input = Json, output = Json)]
pub async fn new_webhook_secret(project_id: ProjectId) -> Result<String, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    let secret = project_secrets::new_webhook_secret(&tx, &state.ctx.secrets, project_id).await?;
    tx.commit().await?;
    Ok(secret)
}

/// Removes the webhook secret: pushes no longer start syncs.
#[server(prefix = "/api/v1", endpoint = "clear_webhook_secret", input = Json, output = Json)]
pub async fn clear_webhook_secret(project_id: ProjectId) -> Result<(), ApiError> {
    let tx = session_cookie::require_tenant().await?;
    project_secrets::clear(&tx, project_id, project_secrets::SecretKind::WebhookSecret).await?;
    tx.commit().await?;
    Ok(())
}

/// The branches of `github_repo` for the branch picker (the first thousand), with its default
/// branch. With `project_id`, the project's token is used (a private repository); without, only
/// public repositories answer.
#[server(prefix = "/api/v1", endpoint = "list_branches", input = Json, output = Json)]
pub async fn list_branches(
    github_repo: String,
    project_id: Option<ProjectId>,
) -> Result<api::github::BranchChoices, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    services::sources::list_branches(&state.ctx, tx, &github_repo, project_id).await
}

/// The team's AI providers (never their keys), with each one's state and spend this month.
#[server(prefix = "/api/v1", endpoint = "list_ai_providers", input = Json, output = Json)]
pub async fn list_ai_providers() -> Result<Vec<api::ai::AiProvider>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(domain::ai::list_providers(&tx).await?)
}

/// Adds a provider (`id` none) or changes one (owners and admins). A key given is stored sealed and
/// never shown again; an empty key keeps the one set.
#[server(prefix = "/api/v1", endpoint = "save_ai_provider", input = Json, output = Json)]
pub async fn save_ai_provider(
    id: Option<api::ids::AiProviderId>,
    form: api::ai::AiProviderForm,
) -> Result<api::ai::AiProvider, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    services::ai::save_provider(&state.ctx, tx, id, form).await
}

/// Removes a provider (owners and admins).
#[server(prefix = "/api/v1", endpoint = "remove_ai_provider", input = Json, output = Json)]
pub async fn remove_ai_provider(id: api::ids::AiProviderId) -> Result<(), ApiError> {
    let tx = session_cookie::require_tenant().await?;
    domain::ai::remove_provider(&tx, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Clears a provider's "out of credit", "key refused" or cooldown (owners and admins), e.g. after
/// topping up the account.
#[server(prefix = "/api/v1", endpoint = "clear_ai_provider", input = Json, output = Json)]
pub async fn clear_ai_provider(
    id: api::ids::AiProviderId,
) -> Result<api::ai::AiProvider, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    let provider = domain::ai::clear_provider_state(&tx, id).await?;
    tx.commit().await?;
    Ok(provider)
}

/// Test connection: a one-word question to the provider's first enabled model (owners and
/// admins). Its attempt says how it went; success clears the provider's state (the probe that ends
/// an "out of credit"), a failure records it.
#[server(prefix = "/api/v1", endpoint = "test_ai_provider", input = Json, output = Json)]
pub async fn test_ai_provider(
    id: api::ids::AiProviderId,
) -> Result<api::ai::ConnectionTest, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    services::ai::test_provider(&state.ctx, tx, id).await
}

/// The team's default chain, monthly budget and spend this month.
#[server(prefix = "/api/v1", endpoint = "get_ai_settings", input = Json, output = Json)]
pub async fn get_ai_settings() -> Result<api::ai::AiSettings, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(domain::ai::settings(&tx).await?)
}

/// The instance's providers and chain (from the server's configuration), read-only, and whether
/// they answer this team's questions; `None` when the instance has none.
#[server(prefix = "/api/v1", endpoint = "get_instance_ai", input = Json, output = Json)]
pub async fn get_instance_ai() -> Result<Option<api::ai::InstanceAi>, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    services::ai::instance_ai(&state.ctx, tx).await
}

/// Sets the team's chain and monthly budget (owners and admins).
#[server(prefix = "/api/v1", endpoint = "set_ai_settings", input = Json, output = Json)]
pub async fn set_ai_settings(
    form: api::ai::AiSettingsForm,
) -> Result<api::ai::AiSettings, ApiError> {
    let valid = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    let settings = domain::ai::set_settings(&tx, valid).await?;
    tx.commit().await?;
    Ok(settings)
}

/// The models the team can pick, grouped by provider, with price, context, vision and "fast";
/// those of a provider that is out of credit or cooling down say so.
#[server(prefix = "/api/v1", endpoint = "list_ai_models", input = Json, output = Json)]
pub async fn list_ai_models() -> Result<Vec<api::ai::ModelChoice>, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    services::ai::model_choices(&state.ctx, tx).await
}

/// Asks the team's chain about a note and answers once done: the stored answer with every attempt
/// (an answer nobody could give is stored too, `failed`, saying why).
#[server(prefix = "/api/v1", endpoint = "ask_note", input = Json, output = Json)]
pub async fn ask_note(note_id: NoteId, question: String) -> Result<api::ai::NoteAnswer, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    services::ai::ask_note(&state.ctx, tx, note_id, &question, None).await
}

/// A note's answers, newest first.
#[server(prefix = "/api/v1", endpoint = "list_note_answers", input = Json, output = Json)]
pub async fn list_note_answers(note_id: NoteId) -> Result<Vec<api::ai::NoteAnswer>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(domain::ai::answers(&tx, note_id).await?)
}

/// Whether the team can ask AI: it has a provider of its own, or the instance has some.
#[server(prefix = "/api/v1", endpoint = "ai_available", input = Json, output = Json)]
pub async fn ai_available() -> Result<bool, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    services::ai::available(&state.ctx, tx).await
}

/// Adds a model the catalog lacks to a provider, with its context window and prices, and enables
/// it (owners and admins).
#[server(prefix = "/api/v1", endpoint = "add_ai_model", input = Json, output = Json)]
pub async fn add_ai_model(
    provider_id: api::ids::AiProviderId,
    form: api::ai::CustomModelForm,
) -> Result<api::ai::AiProvider, ApiError> {
    let model = form.parse()?;
    let tx = session_cookie::require_tenant().await?;
    let provider = domain::ai::add_custom_model(&tx, provider_id, &model).await?;
    tx.commit().await?;
    Ok(provider)
}

/// The team's workflow templates (the latest version of each) and the built-in one.
#[server(prefix = "/api/v1", endpoint = "list_workflow_templates", input = Json, output = Json)]
pub async fn list_workflow_templates() -> Result<Vec<api::workflows::WorkflowTemplate>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(domain::workflows::templates(&tx).await?)
}

/// Saves a template as the next version of its name, after checking it whole (422 naming the
/// step and field at fault: an unknown reference, a later step's output, a bad fan-out or schema).
#[server(prefix = "/api/v1", endpoint = "save_workflow_template", input = Json, output = Json)]
pub async fn save_workflow_template(
    definition: api::workflows::WorkflowDefinition,
) -> Result<api::workflows::WorkflowTemplate, ApiError> {
    definition.check()?;
    let tx = session_cookie::require_tenant().await?;
    let saved = domain::workflows::save_template(&tx, &definition).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Imports a template file (TOML, or JSON), saved as the next version of its name.
#[server(prefix = "/api/v1", endpoint = "import_workflow_template", input = Json, output = Json)]
pub async fn import_workflow_template(
    file: String,
) -> Result<api::workflows::WorkflowTemplate, ApiError> {
    let definition = api::workflows::WorkflowDefinition::from_file(&file)?;
    let tx = session_cookie::require_tenant().await?;
    let saved = domain::workflows::save_template(&tx, &definition).await?;
    tx.commit().await?;
    Ok(saved)
}

/// A template as a TOML file.
#[server(prefix = "/api/v1", endpoint = "export_workflow_template", input = Json, output = Json)]
pub async fn export_workflow_template(name: String) -> Result<String, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    domain::workflows::template(&tx, &name)
        .await?
        .definition
        .to_toml()
}

/// Starts a run of the template on the note (refused when its worst case exceeds what is left of
/// the team's month); its `job_id` is its event stream.
#[server(prefix = "/api/v1", endpoint = "start_workflow_run", input = Json, output = Json)]
pub async fn start_workflow_run(
    note_id: NoteId,
    template: String,
    confirm: Option<bool>,
) -> Result<api::workflows::WorkflowRun, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    services::workflows::start(&state.ctx, tx, note_id, &template, confirm == Some(true)).await
}

/// A run with its stored steps.
#[server(prefix = "/api/v1", endpoint = "get_workflow_run", input = Json, output = Json)]
pub async fn get_workflow_run(
    id: api::ids::WorkflowRunId,
) -> Result<api::workflows::WorkflowRun, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(domain::workflows::get_run(&tx, id).await?)
}

/// A note's runs, newest first, without their steps.
#[server(prefix = "/api/v1", endpoint = "list_workflow_runs", input = Json, output = Json)]
pub async fn list_workflow_runs(
    note_id: NoteId,
) -> Result<Vec<api::workflows::WorkflowRun>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(domain::workflows::runs_of_note(&tx, note_id).await?)
}

/// Resumes a failed or cancelled run: it starts after its last stored step.
#[server(prefix = "/api/v1", endpoint = "resume_workflow_run", input = Json, output = Json)]
pub async fn resume_workflow_run(
    id: api::ids::WorkflowRunId,
) -> Result<api::workflows::WorkflowRun, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    let run = domain::workflows::resume_run(&tx, id).await?;
    tx.commit().await?;
    Ok(run)
}

/// A run's report as one Markdown document (the pipeline, the traceability chain, the execution
/// record and the outputs).
#[server(prefix = "/api/v1", endpoint = "workflow_report", input = Json, output = Json)]
pub async fn workflow_report(id: api::ids::WorkflowRunId) -> Result<String, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(domain::workflows::report(&tx, id).await?)
}

/// A new run of the same template version on the same note, starting at step `from`: the steps
/// before it are copied from this run (marked copied), the rest asked. The original stays.
#[server(prefix = "/api/v1", endpoint = "rerun_workflow_from", input = Json, output = Json)]
pub async fn rerun_workflow_from(
    id: api::ids::WorkflowRunId,
    from: String,
) -> Result<api::workflows::WorkflowRun, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    let run = domain::workflows::rerun_from(&tx, id, &from).await?;
    tx.commit().await?;
    Ok(run)
}

/// The project's workflow insights (the key findings of steps that produce them), newest first.
#[server(prefix = "/api/v1", endpoint = "list_workflow_insights", input = Json, output = Json)]
pub async fn list_workflow_insights(
    project_id: ProjectId,
) -> Result<Vec<api::workflows::WorkflowInsight>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(domain::workflows::insights(&tx, project_id).await?)
}

/// The project's runs, newest first, without their steps.
#[server(prefix = "/api/v1", endpoint = "list_project_workflow_runs", input = Json, output = Json)]
pub async fn list_project_workflow_runs(
    project_id: ProjectId,
) -> Result<Vec<api::workflows::WorkflowRun>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(domain::workflows::runs_of_project(&tx, project_id).await?)
}

/// Searches the team's knowledge (file entries, manual entries, notes, reports, insights) by words
/// and, when the team has an embedding model, by meaning, fused; filters narrow it.
#[server(prefix = "/api/v1", endpoint = "search_knowledge", input = Json, output = Json)]
pub async fn search_knowledge(
    query: api::knowledge::SearchQuery,
) -> Result<api::knowledge::SearchResults, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    services::knowledge::search(&state.ctx, tx, query).await
}

/// The team's embedding spaces (active, building, retired) with how full each is.
#[server(prefix = "/api/v1", endpoint = "list_embedding_spaces", input = Json, output = Json)]
pub async fn list_embedding_spaces() -> Result<Vec<api::knowledge::EmbeddingSpace>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(domain::knowledge::spaces(&tx).await?)
}

/// The team's embedding spaces and how their indexing stands (the AI page follows it while a
/// space builds).
#[server(prefix = "/api/v1", endpoint = "get_knowledge_indexing", input = Json, output = Json)]
pub async fn get_knowledge_indexing() -> Result<api::knowledge::KnowledgeIndexing, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    Ok(api::knowledge::KnowledgeIndexing {
        spaces: domain::knowledge::spaces(&tx).await?,
        state: domain::knowledge::indexing_state(&tx).await?,
    })
}

/// Chooses the team's embedding model (owners and admins): a new space builds beside the current
/// one, and search switches to it when it is complete.
#[server(prefix = "/api/v1", endpoint = "choose_embedding_model", input = Json, output = Json)]
pub async fn choose_embedding_model(
    choice: api::knowledge::EmbeddingChoice,
) -> Result<api::knowledge::EmbeddingSpace, ApiError> {
    let state = session_cookie::state()?;
    let tx = session_cookie::require_tenant().await?;
    services::knowledge::choose_model(&state.ctx, tx, choice).await
}

/// Removes a retired embedding space with its vectors (owners and admins); answers how many
/// vectors went.
#[server(prefix = "/api/v1", endpoint = "drop_embedding_space", input = Json, output = Json)]
pub async fn drop_embedding_space(id: api::ids::EmbeddingSpaceId) -> Result<u64, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    let removed = domain::knowledge::drop_space(&tx, id).await?;
    tx.commit().await?;
    Ok(removed)
}

/// Queues the team's indexing now (owners and admins): what changed is chunked, what has no
/// vector is embedded. Answers the job to follow, or none when one is already waiting.
#[server(prefix = "/api/v1", endpoint = "start_knowledge_indexing", input = Json, output = Json)]
pub async fn start_knowledge_indexing() -> Result<Option<api::ids::JobId>, ApiError> {
    let tx = session_cookie::require_tenant().await?;
    tx.ctx().require(api::tenants::Permission::ManageAi)?;
    let job = domain::knowledge::queue_indexing(&tx).await?;
    tx.commit().await?;
    Ok(job)
}
