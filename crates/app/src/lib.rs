#![doc = include_str!("../README.md")]

#[cfg(feature = "hydrate")]
mod ask;
pub mod assets;
mod browser;
mod components;
#[cfg(feature = "ssr")]
pub mod error;
#[cfg(feature = "ssr")]
mod highlight;
mod pages;
mod root;
pub mod rpc;
#[cfg(feature = "ssr")]
pub mod session_cookie;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "hydrate")]
mod upload;

pub use root::{App, shell};
