//! Typed row ids.
//!
//! Every table has a UUID primary key; each gets its own newtype so ids of different kinds cannot be
//! mixed up. `parse` is the only way in from text, and it names the field it was parsing.

use crate::ApiError;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident => $field:literal),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID read from a trusted source (the database, a verified session).
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID.
            pub const fn into_uuid(self) -> Uuid {
                self.0
            }

            /// Parses an id received from a client.
            pub fn parse(text: &str) -> Result<Self, ApiError> {
                Uuid::parse_str(text.trim())
                    .map(Self)
                    .map_err(|_| ApiError::invalid($field, "is not a valid id"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    )*};
}

id_type! {
    /// Id of a tenant (a team's workspace).
    TenantId => "tenant_id",
    /// Id of a user account.
    UserId => "user_id",
    /// Id of a project.
    ProjectId => "project_id",
    /// Id of a note in a project.
    NoteId => "note_id",
    /// Id of an image attached to a note or memory entry.
    NoteImageId => "image_id",
    /// Id of a memory entry.
    MemoryEntryId => "memory_entry_id",
    /// Id of a project sync run.
    ProjectSyncId => "sync_id",
    /// Id of a team's AI provider.
    AiProviderId => "provider_id",
    /// Id of an answer asked about a note.
    NoteAnswerId => "answer_id",
    /// Id of an invitation to join a team.
    InvitationId => "invitation_id",
    /// Id of a signed-in session (a browser or device).
    SessionId => "session_id",
    /// Id of a background job (a sync, a workflow run).
    JobId => "job_id",
    /// A personal API token.
    ApiTokenId => "token_id",
    /// A run of a workflow on a note.
    WorkflowRunId => "run_id",
    /// Id of an embedding space (a provider's model whose vectors a team's search uses).
    EmbeddingSpaceId => "space_id",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uuids_and_names_the_field_on_error() {
        let id = Uuid::new_v4();
        assert_eq!(ProjectId::parse(&id.to_string()).unwrap().into_uuid(), id);
        assert_eq!(
            ProjectId::parse(&format!("  {id} ")).unwrap().into_uuid(),
            id
        );
        assert_eq!(
            ProjectId::parse("../etc/passwd"),
            Err(ApiError::invalid("project_id", "is not a valid id"))
        );
        assert!(NoteId::parse("").is_err());
    }

    #[test]
    fn serializes_as_a_plain_string() {
        let id = TenantId::from_uuid(Uuid::nil());
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"00000000-0000-0000-0000-000000000000\""
        );
    }
}
