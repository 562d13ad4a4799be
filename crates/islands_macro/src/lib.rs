//! `#[island_in(accounts, projects)]` on a component: an island (`#[island]`) on the server and in
//! the browser bundles it names, a plain component in every other bundle.
//!
//! Each browser bundle is the `app` crate built with `hydrate` and its own `bundle-<name>` feature
//! (`crates/bundles/*`). An island exports its hydration function from the wasm module; a plain
//! component exports nothing, and nothing of it is left in a bundle whose pages never show it. So
//! a bundle carries the code of its own islands only, and a page loads the bundles its islands
//! are in (`app::assets`).

use proc_macro::TokenStream;

/// Marks a component as an island of the named bundles (see the crate's documentation).
#[proc_macro_attribute]
pub fn island_in(bundles: TokenStream, item: TokenStream) -> TokenStream {
    let names: Vec<String> = bundles
        .to_string()
        .split(',')
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    if let Some(bad) = names
        .iter()
        .find(|name| !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        return format!("compile_error!(\"island_in: {bad:?} is not a bundle's name\");")
            .parse()
            .expect("a compile error");
    }
    if names.is_empty() {
        return "compile_error!(\"island_in: name the bundles that hydrate this island\");"
            .parse()
            .expect("a compile error");
    }
    let features = names
        .iter()
        .map(|name| format!("feature = \"bundle-{}\"", name.replace('_', "-")))
        .collect::<Vec<_>>()
        .join(", ");
    let attributes = format!(
        "#[cfg_attr(any(not(feature = \"hydrate\"), {features}), ::leptos::prelude::island)]\n\
         #[cfg_attr(all(feature = \"hydrate\", not(any({features}))), ::leptos::prelude::component)]"
    );
    let mut out: TokenStream = attributes.parse().expect("attributes");
    out.extend(item);
    out
}
