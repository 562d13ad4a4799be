#![doc = include_str!("../README.md")]

mod grants;
pub mod guard;
mod m20261122_000001_initial_schema;
mod m20261122_000002_login_attempts;
mod m20261122_000003_session_context;
mod m20261122_000004_image_tenants;

pub use grants::grant_app_role;
pub use guard::{GuardedMigrator, MigrateOptions, MigrationError, MigrationReport};
pub use m20261122_000001_initial_schema::TENANT_TABLES;
pub use sea_orm_migration;
use sea_orm_migration::prelude::*;

/// Cairn's migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial_schema::Migration),
            Box::new(m20261122_000002_login_attempts::Migration),
            Box::new(m20261122_000003_session_context::Migration),
            Box::new(m20261122_000004_image_tenants::Migration),
        ]
    }
}

impl GuardedMigrator for Migrator {}
