//! Cairn's browser bundle: the interactive parts (islands) of the server-rendered pages.

// The islands are exported from `app` (`#[island]`); the hydration script calls them by name.
use app as _;
use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script the server puts in every page, before it hydrates each island.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
