//! The screens.

pub mod account;
pub mod ai;
pub mod auth;
pub mod home;
pub mod invite;
pub mod jobs;
pub mod memory;
pub mod notes;
pub mod project;
pub mod projects;
pub mod search;
pub mod sources;
pub mod team;
pub mod workflow_templates;
pub mod workflows;

use api::ids::ProjectId;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The project in the address (`/projects/:id/...`), or `None` when that is not a project id
/// (the page then answers as for a missing project).
fn project_id_param() -> Option<ProjectId> {
    use_params_map().with_untracked(|p| ProjectId::parse(&p.get("id").unwrap_or_default()).ok())
}

/// `?page=N` of a paged list: 0, the first, when absent or not a number.
fn page_param() -> u32 {
    use_query_map()
        .with_untracked(|q| q.get("page").and_then(|p| p.parse::<u32>().ok()))
        .unwrap_or(0)
}
