#![doc = include_str!("../README.md")]

pub mod accounts;
mod audit;
pub mod entities;
mod error;
pub mod members;
pub mod projects;
mod tenant;

pub use error::DomainError;
pub use sea_orm;
pub use tenant::{Db, TenantCtx};
