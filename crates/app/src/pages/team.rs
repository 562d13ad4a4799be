//! `/team`: the active team's members.

use crate::components::{ErrorNote, Loading};
use crate::root::{RequireSession, SessionCtx};
use crate::rpc::{AddMember, RemoveMember, list_members};
use api::ApiError;
use api::tenants::Role;
use leptos::prelude::*;

/// Members, and (for owners and admins) adding and removing them.
#[component]
pub fn TeamPage() -> impl IntoView {
    let ctx = expect_context::<SessionCtx>();
    let add = ServerAction::<AddMember>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let members = Resource::new(
        move || {
            (
                ctx.version.get(),
                add.version().get(),
                remove.version().get(),
            )
        },
        |_| list_members(),
    );
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("member".to_owned());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let role = match role.get().as_str() {
            "admin" => Role::Admin,
            "owner" => Role::Owner,
            _ => Role::Member,
        };
        add.dispatch(AddMember {
            email: email.get(),
            role,
        });
    };
    view! {
        <RequireSession>
            <section class="page narrow">
                <h1>"Team"</h1>
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        match members.await {
                            Ok(list) => view! {
                                <ul class="members" aria-label="Members">
                                    {list.into_iter().map(|m| {
                                        let user_id = m.user_id;
                                        view! {
                                            <li>
                                                <span class="who">
                                                    <strong>{m.display_name.clone()}</strong>
                                                    <span class="muted">{m.email.clone()}</span>
                                                </span>
                                                <span class="badge">{m.role.label()}</span>
                                                <button class="button ghost small"
                                                    on:click=move |_| { remove.dispatch(RemoveMember { user_id }); }>
                                                    "Remove"
                                                </button>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }
                            .into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Transition>
                {move || remove.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
                <h2>"Add a member"</h2>
                <p class="muted">"They need a Cairn account first; add them by the e-mail they signed up with."</p>
                <form class="inline-form" on:submit=submit>
                    <label for="member-email" class="visually-hidden">"E-mail"</label>
                    <input id="member-email" type="email" placeholder="name@example.com" required bind:value=email/>
                    <label for="member-role" class="visually-hidden">"Role"</label>
                    <select id="member-role" bind:value=role>
                        <option value="member">"Member"</option>
                        <option value="admin">"Admin"</option>
                        <option value="owner">"Owner"</option>
                    </select>
                    <button type="submit" class="button primary" disabled=move || add.pending().get()>"Add"</button>
                </form>
                {move || add.value().get().map(|result| match result {
                    Ok(member) => view! { <p class="success" role="status">{format!("{} was added.", member.email)}</p> }.into_any(),
                    Err(ApiError::NotFound) => view! { <p class="error" role="alert">"No Cairn account uses that e-mail address."</p> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                })}
            </section>
        </RequireSession>
    }
}
