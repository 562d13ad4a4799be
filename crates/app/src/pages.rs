//! The screens.

pub mod auth;
pub mod home;
pub mod memory;
pub mod notes;
pub mod project;
pub mod projects;
pub mod team;
