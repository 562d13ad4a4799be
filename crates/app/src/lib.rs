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

/// Called by the page's islands script once a bundle is loaded, before it hydrates the islands.
#[cfg(feature = "hydrate")]
#[leptos::wasm_bindgen::prelude::wasm_bindgen(wasm_bindgen = ::leptos::wasm_bindgen)]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
