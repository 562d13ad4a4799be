//! The audit log: who did what to which row, written in the same transaction as the change.

use crate::entities::audit_log;
use crate::tenant::Principal;
use crate::{DomainError, TenantCtx};
use api::ids::{TenantId, UserId};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use uuid::Uuid;

/// What was done, to which table: the audit log's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuditAction {
    /// `ai_provider.clear` on `ai_providers`: its out-of-credit or refused-key state cleared.
    AiProviderClear,
    /// `ai_provider.remove` on `ai_providers`.
    AiProviderRemove,
    /// `ai_provider.set` on `ai_providers` (whether a key was set, never the key).
    AiProviderSet,
    /// `ai_settings.set` on `ai_settings` (the team's chain and budget).
    AiSettingsSet,
    /// `note.ask` on `note_answers`.
    NoteAsk,
    /// `invitation.accept` on `invitations`.
    InvitationAccept,
    /// `invitation.create` on `invitations`.
    InvitationCreate,
    /// `invitation.expire` on `invitations`.
    InvitationExpire,
    /// `invitation.resend` on `invitations`.
    InvitationResend,
    /// `invitation.revoke` on `invitations`.
    InvitationRevoke,
    /// `job.cancel` on `jobs`.
    /// `api_token.create` on `api_tokens` (name, scope, days; never the token).
    ApiTokenCreate,
    /// `api_token.revoke` on `api_tokens`.
    ApiTokenRevoke,
    JobCancel,
    /// `job.retry` on `jobs`.
    JobRetry,
    /// `member.remove` on `memberships`.
    MemberRemove,
    /// `member.role` on `memberships`.
    MemberRole,
    /// `memory.create` on `memory_entries`.
    MemoryCreate,
    /// `memory.update` on `memory_entries`.
    MemoryUpdate,
    /// `memory.restore` on `memory_entries`.
    MemoryRestore,
    /// `memory.supersede` on `memory_entries`.
    MemorySupersede,
    /// `note.create` on `project_notes`.
    NoteCreate,
    /// `note.delete` on `project_notes`.
    NoteDelete,
    /// `note.update` on `project_notes`.
    NoteUpdate,
    /// `secret.clear` on `projects` (which secret, in the detail).
    SecretClear,
    /// `secret.set` on `projects` (which secret, in the detail; never the value).
    SecretSet,
    /// `sync.cancel` on `project_syncs`: closed directly, its job being over or gone.
    SyncCancel,
    /// `sync.complete` on `project_syncs`.
    SyncComplete,
    /// `sync.start` on `project_syncs`.
    SyncStart,
    /// A workflow run was started on a note.
    WorkflowStart,
    /// A workflow template was saved (a new version).
    WorkflowTemplateSave,
    /// `embedding_space.create` on `embedding_spaces`: a model chosen, its space building.
    EmbeddingSpaceCreate,
    /// `embedding_space.drop` on `embedding_spaces`: a retired space removed with its vectors.
    EmbeddingSpaceDrop,
    /// `project.create` on `projects`.
    ProjectCreate,
    /// `project.delete` on `projects`.
    ProjectDelete,
    /// `project.update` on `projects`.
    ProjectUpdate,
}

impl AuditAction {
    /// The action as the log stores it, `noun.verb`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::AiProviderClear => "ai_provider.clear",
            Self::AiProviderRemove => "ai_provider.remove",
            Self::AiProviderSet => "ai_provider.set",
            Self::AiSettingsSet => "ai_settings.set",
            Self::NoteAsk => "note.ask",
            Self::InvitationAccept => "invitation.accept",
            Self::InvitationCreate => "invitation.create",
            Self::InvitationExpire => "invitation.expire",
            Self::InvitationResend => "invitation.resend",
            Self::InvitationRevoke => "invitation.revoke",
            Self::ApiTokenCreate => "api_token.create",
            Self::ApiTokenRevoke => "api_token.revoke",
            Self::JobCancel => "job.cancel",
            Self::JobRetry => "job.retry",
            Self::MemberRemove => "member.remove",
            Self::MemberRole => "member.role",
            Self::MemoryCreate => "memory.create",
            Self::MemoryUpdate => "memory.update",
            Self::MemoryRestore => "memory.restore",
            Self::MemorySupersede => "memory.supersede",
            Self::NoteCreate => "note.create",
            Self::NoteDelete => "note.delete",
            Self::NoteUpdate => "note.update",
            Self::SecretClear => "secret.clear",
            Self::SecretSet => "secret.set",
            Self::SyncCancel => "sync.cancel",
            Self::SyncComplete => "sync.complete",
            Self::SyncStart => "sync.start",
            Self::WorkflowStart => "workflow.start",
            Self::WorkflowTemplateSave => "workflow.template_save",
            Self::EmbeddingSpaceCreate => "embedding_space.create",
            Self::EmbeddingSpaceDrop => "embedding_space.drop",
            Self::ProjectCreate => "project.create",
            Self::ProjectDelete => "project.delete",
            Self::ProjectUpdate => "project.update",
        }
    }

    /// The table whose row the action is about.
    pub(crate) fn table(self) -> &'static str {
        match self {
            Self::AiProviderClear | Self::AiProviderRemove | Self::AiProviderSet => "ai_providers",
            Self::AiSettingsSet => "ai_settings",
            Self::NoteAsk => "note_answers",
            Self::InvitationAccept
            | Self::InvitationCreate
            | Self::InvitationExpire
            | Self::InvitationResend
            | Self::InvitationRevoke => "invitations",
            Self::JobCancel | Self::JobRetry => "jobs",
            Self::ApiTokenCreate | Self::ApiTokenRevoke => "api_tokens",
            Self::MemberRemove | Self::MemberRole => "memberships",
            Self::MemoryCreate
            | Self::MemoryUpdate
            | Self::MemoryRestore
            | Self::MemorySupersede => "memory_entries",
            Self::NoteCreate | Self::NoteDelete | Self::NoteUpdate => "project_notes",
            Self::ProjectCreate
            | Self::ProjectDelete
            | Self::ProjectUpdate
            | Self::SecretClear
            | Self::SecretSet => "projects",
            Self::SyncCancel | Self::SyncComplete | Self::SyncStart => "project_syncs",
            Self::WorkflowStart => "workflow_runs",
            Self::WorkflowTemplateSave => "workflow_templates",
            Self::EmbeddingSpaceCreate | Self::EmbeddingSpaceDrop => "embedding_spaces",
        }
    }
}

/// Records `action` on the row `target_id` by the context's user, with extra `detail`.
pub(crate) async fn record(
    txn: &impl ConnectionTrait,
    ctx: &TenantCtx,
    action: AuditAction,
    target_id: Uuid,
    detail: serde_json::Value,
) -> Result<(), DomainError> {
    // A job's entries say which job, beside the user it acted for; a token's, which token.
    let detail = match (ctx.principal(), detail) {
        (Principal::ApiToken { token, .. }, serde_json::Value::Object(mut fields)) => {
            fields.insert("by_token".into(), serde_json::json!(token));
            serde_json::Value::Object(fields)
        }
        (Principal::Job { kind, id, .. }, serde_json::Value::Object(mut fields)) => {
            fields.insert("by_job".into(), serde_json::json!({"kind": kind, "id": id}));
            serde_json::Value::Object(fields)
        }
        (Principal::System { what }, serde_json::Value::Object(mut fields)) => {
            fields.insert("by_system".into(), serde_json::json!(what));
            serde_json::Value::Object(fields)
        }
        (_, detail) => detail,
    };
    record_as(
        txn,
        ctx.tenant_id(),
        ctx.user_id(),
        action,
        target_id,
        detail,
    )
    .await
}

/// Records `action` in `tenant_id` by `actor`; `None` is Cairn itself (an invitation expiring).
pub(crate) async fn record_as(
    txn: &impl ConnectionTrait,
    tenant_id: TenantId,
    actor: Option<UserId>,
    action: AuditAction,
    target_id: Uuid,
    detail: serde_json::Value,
) -> Result<(), DomainError> {
    audit_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant_id.into_uuid()),
        actor_user_id: Set(actor.map(UserId::into_uuid)),
        action: Set(action.name().to_owned()),
        target_table: Set(action.table().to_owned()),
        target_id: Set(Some(target_id)),
        detail: Set(detail),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}
