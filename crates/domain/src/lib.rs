#![doc = include_str!("../README.md")]

pub mod accounts;
mod audit;
pub mod entities;
mod error;
pub mod images;
pub mod invitations;
pub mod markdown;
pub mod members;
pub mod memory;
pub mod notes;
pub mod projects;
pub mod rate_limit;
mod storage;
mod tenant;

pub use error::DomainError;
pub use sea_orm;
pub use storage::ImageStore;
pub use tenant::{Db, TenantCtx, TenantTxn};
