//! The browser's files as the build named them, and the script that hydrates a page's islands.
//!
//! `scripts/finish-bundle.mjs` names every file of the bundle after its content and lists them in
//! `pkg/manifest.json`: the stylesheet and icon, and the bundles (a wasm module with its JS glue),
//! each with the islands it can hydrate. A page names the files it links by their source name
//! ([`Assets::url`]); its islands script loads only the bundles its islands need.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// What the build wrote into `pkg/`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Assets {
    /// Source name (`cairn.css`) → name served (`cairn-<hash>.css`).
    assets: HashMap<String, String>,
    bundles: Vec<Bundle>,
    /// The islands script with the bundles written in: the same for every page, made once.
    #[serde(skip)]
    islands_script: std::sync::OnceLock<String>,
}

/// One wasm module and its JS glue.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Bundle {
    /// The bundle's name (`accounts`).
    pub name: String,
    /// Its JS glue's file name.
    pub js: String,
    /// Its wasm module's file name.
    pub wasm: String,
    /// The islands it hydrates, by the name a page gives them (`data-component`).
    pub islands: Vec<String>,
    /// Its glue and module on the wire (Brotli), which a page weighs when two bundles would do.
    pub bytes: u64,
}

impl Assets {
    /// Reads `manifest.json` from the bundle's directory.
    #[cfg(feature = "ssr")]
    pub fn load(pkg_dir: &std::path::Path) -> Result<Self, String> {
        let path = pkg_dir.join("manifest.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
    }

    /// The address of the file the build made of `source` (`cairn.css`).
    pub fn url(&self, source: &str) -> String {
        format!(
            "/pkg/{}",
            self.assets.get(source).map_or(source, String::as_str)
        )
    }

    /// The bundle named `name` (`projects`), if the build made it.
    pub fn bundle(&self, name: &str) -> Option<&Bundle> {
        self.bundles.iter().find(|bundle| bundle.name == name)
    }
}

/// Names the bundle of the page's area: its glue and module are preloaded from the head, so they
/// download while the page is parsed, and the islands script starts from them. Islands the bundle
/// does not hold still get the bundles that do.
#[component]
pub fn PageBundle(
    /// The bundle's name (`projects`).
    name: &'static str,
) -> impl IntoView {
    let urls = use_context::<Arc<Assets>>().and_then(|assets| {
        let bundle = assets.bundle(name)?;
        Some((
            format!("/pkg/{}", bundle.js),
            format!("/pkg/{}", bundle.wasm),
        ))
    });
    urls.map(|(js, wasm)| {
        view! {
            <leptos_meta::Link rel="modulepreload" href=js/>
            // `crossorigin`: the islands script fetches it with the default (same-origin) credentials.
            <leptos_meta::Link
                rel="preload"
                href=wasm
                as_="fetch"
                type_="application/wasm"
                crossorigin="anonymous"
            />
        }
    })
}

/// The page's islands script: once the document is parsed it looks at the islands on the page and
/// loads the bundle the page named ([`PageBundle`]), plus, for islands that bundle does not hold,
/// the smallest set of bundles that does (all at once, each module's download beside its glue's);
/// then it hydrates each island with the first bundle that has it. When done, it
/// sets `data-hydrated` on `<html>` (and `window.__cairnHydratedAt`, for the speed tests).
#[component]
pub fn IslandsScript(
    /// The build's files and bundles.
    assets: Arc<Assets>,
) -> impl IntoView {
    // As Leptos's own islands script does: the server renders island pages without hydration
    // markers outside the islands.
    if let Some(context) = Owner::current_shared_context() {
        context.set_is_hydrating(false);
    }
    let script = assets
        .islands_script
        .get_or_init(|| {
            let bundles =
                serde_json::to_string(&assets.bundles).unwrap_or_else(|_| "[]".to_owned());
            format!("({})({bundles});", include_str!("islands.js").trim())
        })
        .clone();
    // No nonce: Cairn sends no Content-Security-Policy that would ask for one, and a nonce (new
    // for every response) would give every page a new `ETag`.
    view! { <script type="module">{script}</script> }
}
