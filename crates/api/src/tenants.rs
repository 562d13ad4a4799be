//! Tenants, memberships and the signed-in session, as the UI sees them.

use crate::ids::{InvitationId, SessionId, TenantId, UserId};
use serde::{Deserialize, Serialize};

/// A member's role in a tenant. What each may do is listed in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Created the tenant: everything admins may do, plus managing admins and owners.
    Owner,
    /// Adds and removes members, deletes projects.
    Admin,
    /// Creates, edits and reads the tenant's projects.
    Member,
}

/// What a caller may do in a team, checked once per use case (`TenantCtx::require`): the
/// member's role must allow it ([`Role::allows`]), and so must the way they act. Each guards a
/// change (reading needs only membership), so a `read` API token has none of them. The README lists who has which, and which server function needs which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Create and change the team's projects, notes, images and memory entries; start and cancel
    /// syncs. Reading needs no permission beyond being a member.
    EditContent,
    /// Ask AI, spending the team's AI budget.
    AskAi,
    /// Invite people, remove members (not owners), see and revoke invitations.
    ManageMembers,
    /// Change members' roles, make or remove owners.
    ChangeRoles,
    /// Delete projects, with everything in them.
    DeleteProjects,
    /// Set or clear a project's GitHub token and webhook secret; re-point a project that has one.
    ManageSources,
    /// Add, change, test and remove the team's AI providers; set its chain and budget.
    ManageAi,
    /// See the team's jobs and try failed ones again.
    ManageJobs,
    /// Make, list and revoke one's own API tokens: only signed in with a browser session.
    ManageTokens,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 9] = [
        Permission::EditContent,
        Permission::AskAi,
        Permission::ManageMembers,
        Permission::ChangeRoles,
        Permission::DeleteProjects,
        Permission::ManageSources,
        Permission::ManageAi,
        Permission::ManageJobs,
        Permission::ManageTokens,
    ];

    /// What a member without it is told.
    pub fn refusal(self) -> &'static str {
        match self {
            Self::EditContent => "only members change the team's projects",
            Self::AskAi => "only members ask AI",
            Self::ManageMembers => "only owners and admins manage members",
            Self::ChangeRoles => "only owners change roles",
            Self::DeleteProjects => "only owners and admins delete projects",
            Self::ManageSources => "only owners and admins manage a project's GitHub credentials",
            Self::ManageAi => "only owners and admins manage the team's AI providers",
            Self::ManageJobs => "only owners and admins see and retry the team's jobs",
            Self::ManageTokens => "API tokens are made and revoked signed in to Cairn",
        }
    }
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Member];

    /// Whether this role has `permission`. Every member reads and edits the team's projects,
    /// notes and memory, starts and cancels syncs, asks AI (within the team's budget) and makes
    /// API tokens for themselves.
    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::EditContent | Permission::AskAi | Permission::ManageTokens => true,
            Permission::ChangeRoles => self == Role::Owner,
            Permission::ManageMembers
            | Permission::DeleteProjects
            | Permission::ManageSources
            | Permission::ManageAi
            | Permission::ManageJobs => matches!(self, Role::Owner | Role::Admin),
        }
    }

    /// Whether this role may invite, add and remove members.
    pub fn manages_members(self) -> bool {
        self.allows(Permission::ManageMembers)
    }

    /// The role's name as shown.
    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Member => "Member",
        }
    }
}

/// A tenant the signed-in user belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSummary {
    /// Tenant id.
    pub id: TenantId,
    /// Tenant name.
    pub name: String,
    /// The user's role in it.
    pub role: Role,
}

/// Who is signed in and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// The user.
    pub user_id: UserId,
    /// Their e-mail address.
    pub email: String,
    /// Their display name.
    pub display_name: String,
    /// Whether they proved the address is theirs (followed a link sent to it).
    pub email_verified: bool,
    /// Every tenant they belong to.
    pub tenants: Vec<TenantSummary>,
    /// The tenant they are working in.
    pub active_tenant: Option<TenantId>,
}

impl SessionView {
    /// The active tenant's summary.
    pub fn active(&self) -> Option<&TenantSummary> {
        let active = self.active_tenant?;
        self.tenants.iter().find(|t| t.id == active)
    }
}

/// A member of the active tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The user.
    pub user_id: UserId,
    /// Their e-mail address.
    pub email: String,
    /// Their display name.
    pub display_name: String,
    /// Their role.
    pub role: Role,
}

/// What the sign-up form sends. Parsed on both sides with the `accounts` parsers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SignUpForm {
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
    /// Display name.
    pub display_name: String,
    /// Name of the tenant (team) to create.
    pub tenant_name: String,
}

/// What the log-in form sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LogInForm {
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// An invitation to join the active team, as its Team page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// Invitation id.
    pub id: InvitationId,
    /// The invited address.
    pub email: String,
    /// The role the invitee gets on accepting.
    pub role: Role,
    /// Who invited them (display name; empty once that account is gone).
    pub invited_by: String,
    /// When the invitation was (last) sent, RFC 3339.
    pub last_sent_at: String,
    /// When its link stops working, RFC 3339.
    pub expires_at: String,
    /// Whether it went out by e-mail (else the inviter handed the link over).
    pub sent_by_mail: bool,
}

/// What inviting, or sending an invitation again, did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationSent {
    /// The pending invitation.
    pub invitation: Invitation,
    /// `None`: the link was e-mailed to the address (and is shown to nobody). `Some`: this Cairn
    /// sends no e-mail, and the inviter hands this link over. (A plain option rather than a tagged
    /// enum: the browser bundle then needs no buffering deserializer for it.)
    pub link: Option<String>,
}

/// What an invitation's link shows to whoever follows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    /// The team's name.
    pub team_name: String,
    /// Who invited (display name).
    pub inviter_name: String,
    /// The invited address: accepting needs an account with exactly this address.
    pub email: String,
    /// The role on accepting.
    pub role: Role,
    /// Whether it can still be accepted.
    pub state: InvitationState,
    /// Whether an account with the invited address exists (log in to accept; otherwise sign up).
    pub account_exists: bool,
    /// The address of the account the visitor is signed in with, if any.
    pub signed_in_as: Option<String>,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationState {
    /// It can be accepted.
    Pending,
    /// Somebody accepted it.
    Accepted,
    /// The team took it back.
    Revoked,
    /// Its link is older than seven days.
    Expired,
}

/// Signing up from an invitation's link: the address is the invitation's, not typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InvitedSignUpForm {
    /// Display name.
    pub display_name: String,
    /// Password.
    pub password: String,
}

/// One of the signed-in user's sessions (a browser or device), for "your sessions".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Session id.
    pub id: SessionId,
    /// When it was signed in, RFC 3339.
    pub created_at: String,
    /// When it was last used, RFC 3339 (noted every few minutes).
    pub last_seen_at: String,
    /// The browser that signed in.
    pub user_agent: Option<String>,
    /// The address it signed in from.
    pub client_address: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// Changing one's password while signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PasswordChangeForm {
    /// The password now.
    pub current_password: String,
    /// The new one.
    pub new_password: String,
}

#[cfg(test)]
mod permission_tests {
    use super::*;

    #[test]
    fn owners_have_every_permission_admins_all_but_roles_members_the_everyday_ones() {
        let everyday = [
            Permission::EditContent,
            Permission::AskAi,
            Permission::ManageTokens,
        ];
        for permission in Permission::ALL {
            assert!(Role::Owner.allows(permission), "{permission:?}");
            assert_eq!(
                Role::Admin.allows(permission),
                permission != Permission::ChangeRoles,
                "{permission:?}"
            );
            assert_eq!(
                Role::Member.allows(permission),
                everyday.contains(&permission),
                "{permission:?}"
            );
        }
    }
}
