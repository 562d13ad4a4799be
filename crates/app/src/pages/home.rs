//! `/`: the projects of a signed-in user, or a welcome with the ways in.

use crate::root::SessionCtx;
use leptos::prelude::*;
use leptos_router::components::{A, Redirect};

/// Signed in: go to the projects. Otherwise: what Cairn is, and the ways in.
#[component]
pub fn HomePage() -> impl IntoView {
    let ctx = expect_context::<SessionCtx>();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match ctx.session.await {
                    Ok(Some(_)) => view! { <Redirect path="/projects"/> }.into_any(),
                    _ => view! {
                        <section class="hero">
                            <h1>"Your team's memory for building with AI"</h1>
                            <p class="lead">
                                "Link a GitHub repository, keep notes with every screenshot that explains them, and let Cairn remember what your team learned."
                            </p>
                            <div class="actions">
                                <A href="/signup" attr:class="button primary">"Create a team"</A>
                                <A href="/login" attr:class="button">"Log in"</A>
                            </div>
                        </section>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}
