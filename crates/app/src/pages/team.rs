//! `/team`: the active team's members.

use crate::browser;
use crate::components::{ErrorNote, Loading};
use crate::root::RequireSession;
use crate::rpc::{AddMember, RemoveMember, add_member, list_members, remove_member};
use api::ApiError;
use api::ids::UserId;
use api::tenants::Role;
use leptos::prelude::*;

/// Members, and (for owners and admins) adding and removing them.
#[component]
pub fn TeamPage() -> impl IntoView {
    let members = Resource::new(|| (), |_| list_members());
    view! {
        <RequireSession>
            <section class="page narrow">
                <h1>"Team"</h1>
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        match members.await {
                            Ok(list) => view! {
                                <ul class="members" aria-label="Members">
                                    {list.into_iter().map(|m| view! {
                                        <li>
                                            <span class="who">
                                                <strong>{m.display_name}</strong>
                                                <span class="muted">{m.email}</span>
                                            </span>
                                            <span class="badge">{m.role.label()}</span>
                                            <RemoveMemberButton user_id=m.user_id/>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }
                            .into_any(),
                            Err(error) => view! { <ErrorNote error/> }.into_any(),
                        }
                    })}
                </Transition>
                <h2>"Add a member"</h2>
                <p class="muted">"They need a Cairn account first; add them by the e-mail they signed up with."</p>
                <AddMemberForm/>
            </section>
        </RequireSession>
    }
}

#[island]
fn RemoveMemberButton(user_id: UserId) -> impl IntoView {
    let remove = Action::new(|input: &RemoveMember| remove_member(input.user_id));
    Effect::new(move |_| {
        if let Some(Ok(())) = remove.value().get() {
            browser::reload();
        }
    });
    view! {
        <button class="button ghost small" disabled=move || remove.pending().get()
            on:click=move |_| { remove.dispatch(RemoveMember { user_id }); }>
            "Remove"
        </button>
        {move || remove.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
    }
}

#[island]
fn AddMemberForm() -> impl IntoView {
    let add = Action::new(|input: &AddMember| add_member(input.email.clone(), input.role));
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("member".to_owned());
    Effect::new(move |_| {
        // The list above is rendered by the server: load it again with the new member.
        if let Some(Ok(_)) = add.value().get() {
            browser::reload();
        }
    });
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
        {move || add.value().get().and_then(Result::err).map(|error| match error {
            ApiError::NotFound => view! { <p class="error" role="alert">"No Cairn account uses that e-mail address."</p> }.into_any(),
            error => view! { <ErrorNote error/> }.into_any(),
        })}
    }
}
