#![doc = include_str!("../README.md")]

pub mod entities;
mod error;
mod tenant;

pub use error::DomainError;
pub use sea_orm;
pub use tenant::{Db, Role, TenantCtx};
