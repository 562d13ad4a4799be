#![doc = include_str!("../README.md")]

pub mod error;
pub mod ids;

pub use error::ApiError;
