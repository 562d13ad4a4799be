#![doc = include_str!("../README.md")]

#[cfg(feature = "ssr")]
pub mod ai;
#[cfg(feature = "hydrate")]
mod ask;
mod browser;
mod components;
#[cfg(feature = "ssr")]
mod delivery;
#[cfg(feature = "ssr")]
mod highlight;
#[cfg(feature = "ssr")]
pub mod in_flight;
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
