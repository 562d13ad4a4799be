//! Tenants, memberships and the signed-in session, as the UI sees them.

use crate::ids::{TenantId, UserId};
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

impl Role {
    /// Whether this role may add and remove members.
    pub fn manages_members(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }

    /// Whether this role may delete projects.
    pub fn deletes_projects(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
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
