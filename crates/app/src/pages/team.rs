//! `/team`: the active team's members, their roles, and the invitations that bring people in.

use crate::browser;
use crate::components::{Call, ErrorNote, Loading};
use crate::root::{RequireSession, SessionCtx};
use crate::rpc::{
    change_member_role, invite_member, list_invitations, list_members, remove_member,
    resend_invitation, revoke_invitation,
};
use api::ApiError;
use api::ids::{InvitationId, UserId};
use api::tenants::{Invitation, InvitationSent, Role};
use islands_macro::island_in;
use leptos::prelude::*;

/// Members, and (for owners and admins) inviting people, changing roles and removing members.
#[component]
pub fn TeamPage() -> impl IntoView {
    let ctx = expect_context::<SessionCtx>();
    let members = Resource::new(|| (), |_| list_members());
    let invitations = Resource::new(|| (), |_| list_invitations());
    let mails = Resource::new(|| (), |_| crate::rpc::mail_enabled());
    // Set after an invitation was e-mailed: the page was loaded again to list it.
    let invited =
        leptos_router::hooks::use_query_map().with_untracked(|q| q.get("invited").is_some());
    view! {
        <RequireSession>
            <section class="page narrow">
                <h1>"Team"</h1>
                {invited.then(|| view! {
                    <p class="success" role="status">"Invitation e-mailed. It is listed under Pending invitations."</p>
                })}
                <Transition fallback=|| view! { <Loading/> }>
                    {move || Suspend::new(async move {
                        let (me, my_role) = match ctx.session.await {
                            Ok(Some(session)) => (Some(session.user_id), session.active().map(|t| t.role)),
                            _ => (None, None),
                        };
                        let mails = mails.await.unwrap_or(false);
                        let owner = my_role == Some(Role::Owner);
                        let manager = my_role.is_some_and(Role::manages_members);
                        let list = match members.await {
                            Ok(list) => list,
                            Err(error) => return view! { <ErrorNote error/> }.into_any(),
                        };
                        let pending = invitations.await.unwrap_or_default();
                        let owners = list.iter().filter(|m| m.role == Role::Owner).count();
                        view! {
                            <ul class="members" aria-label="Members">
                                {list.into_iter().map(|m| {
                                    // The team's last owner keeps their role and their place
                                    // (the database refuses either change anyway): no controls
                                    // that can only fail.
                                    let last_owner = m.role == Role::Owner && owners == 1;
                                    let yours = Some(m.user_id) == me;
                                    let name = m.display_name.clone();
                                    view! {
                                        <li>
                                            <span class="who">
                                                <strong>{m.display_name}</strong>
                                                {yours.then(|| view! { <span class="muted small">" (you)"</span> })}
                                                <span class="muted">{m.email}</span>
                                            </span>
                                            {if owner && !last_owner {
                                                view! { <RoleSelect user_id=m.user_id role=m.role name=name.clone()/> }.into_any()
                                            } else {
                                                view! { <span class="badge" title=last_owner.then_some("The team's only owner: make someone else an owner first")>{m.role.label()}</span> }.into_any()
                                            }}
                                            {(manager && !last_owner).then(|| view! { <RemoveMemberButton user_id=m.user_id name/> })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            {manager.then(|| view! {
                                <h2>"Invite someone"</h2>
                                <p class="muted">
                                    "They get a link that works once, for 7 days. Only someone with an account at that exact address (or who creates one from the link) can join."
                                </p>
                                <InviteForm owner/>
                                <h2>"Pending invitations"</h2>
                                {if pending.is_empty() {
                                    view! { <p class="muted">"None."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="members" aria-label="Pending invitations">
                                            {pending.into_iter().map(|invitation| view! {
                                                <PendingInvitation invitation mails/>
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            })}
                        }
                        .into_any()
                    })}
                </Transition>
            </section>
        </RequireSession>
    }
}

fn role_from(value: &str) -> Role {
    match value {
        "owner" => Role::Owner,
        "admin" => Role::Admin,
        _ => Role::Member,
    }
}

fn role_value(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Admin => "admin",
        Role::Member => "member",
    }
}

/// An owner's control of a member's role.
#[island_in(accounts)]
fn RoleSelect(user_id: UserId, role: Role, name: String) -> impl IntoView {
    let change = Call::new();
    view! {
        <label class="visually-hidden" for=format!("role-{user_id}")>{format!("Role of {name}")}</label>
        <select id=format!("role-{user_id}") class="role-select" disabled=move || change.pending().get()
            on:change=move |ev| {
                change.dispatch_then(
                    change_member_role(user_id, role_from(&event_target_value(&ev))),
                    |_| browser::reload_saying("Changed the role."),
                );
            }>
            {Role::ALL.into_iter().map(|r| view! {
                <option value=role_value(r) selected=r == role>{r.label()}</option>
            }).collect_view()}
        </select>
        {move || change.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
    }
}

#[island_in(accounts)]
fn RemoveMemberButton(user_id: UserId, name: String) -> impl IntoView {
    let remove = Call::new();
    view! {
        <button class="button ghost small" disabled=move || remove.pending().get()
            aria-label=format!("Remove {name} from the team")
            on:click=move |_| remove.dispatch_then(remove_member(user_id), |_| browser::reload_saying("Removed from the team."))>
            "Remove"
        </button>
        {move || remove.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
    }
}

/// What became of an invitation just sent: mailed, or a link for the inviter to hand over.
#[component]
fn SentNote(sent: InvitationSent) -> impl IntoView {
    let email = sent.invitation.email;
    match sent.link {
        None => view! {
            <p class="success" role="status">"Invitation e-mailed to " {email} "."</p>
        }
        .into_any(),
        Some(url) => view! {
            <LinkToHandOver link=InvitationLink { email, url }/>
            <p class="small muted">"The link made before no longer works."</p>
        }
        .into_any(),
    }
}

#[island_in(accounts)]
fn InviteForm(owner: bool) -> impl IntoView {
    let invite = Call::new();
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("member".to_owned());
    // A link to hand over comes back through the reload that lists the invitation, in the address's
    // fragment (which never reaches the server): shown once here, then taken out of the address.
    // Read once hydrated: the server rendered the form without it.
    let handed = RwSignal::new(None::<InvitationLink>);
    Effect::new(move |_| {
        let link = browser::take_fragment("invited=").and_then(|text| {
            let (email, url) = text.split_once("&link=")?;
            Some(InvitationLink {
                email: browser::decode(email)?,
                url: browser::decode(url)?,
            })
        });
        handed.set(link);
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        // Either way the page loads again: the pending list shows the invitation, the field is
        // empty for the next one.
        invite.dispatch_then(
            invite_member(email.get(), role_from(&role.get())),
            |sent| match &sent.link {
                None => browser::go_to("/team?invited=1"),
                // A new query each time: a change of fragment alone would not load the page.
                Some(url) => browser::go_to(&format!(
                    "/team?handed={}#invited={}&link={}",
                    sent.invitation.id,
                    browser::encode(&sent.invitation.email),
                    browser::encode(url)
                )),
            },
        );
    };
    view! {
        <form class="inline-form" on:submit=submit>
            <label for="invite-email" class="visually-hidden">"E-mail"</label>
            <input id="invite-email" type="email" placeholder="name@example.com" required bind:value=email/>
            <label for="invite-role" class="visually-hidden">"Role"</label>
            <select id="invite-role" bind:value=role>
                <option value="member">"Member"</option>
                <option value="admin">"Admin"</option>
                {owner.then(|| view! { <option value="owner">"Owner"</option> })}
            </select>
            <button type="submit" class="button primary" disabled=move || invite.pending().get()>"Invite"</button>
        </form>
        {move || handed.get().map(|link| view! { <LinkToHandOver link/> })}
        {move || invite.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
    }
}

/// An invitation's link, for the inviter to hand over when this Cairn sends no e-mail.
#[derive(Clone)]
struct InvitationLink {
    email: String,
    url: String,
}

#[component]
fn LinkToHandOver(link: InvitationLink) -> impl IntoView {
    let copied = RwSignal::new(false);
    let url = link.url.clone();
    view! {
        <div class="card-form invite-link" role="status">
            <p>
                "This Cairn sends no e-mail: hand this link to " <strong>{link.email}</strong> " yourself. It works once, for 7 days, and is shown only now; the invitation is listed under Pending invitations."
            </p>
            <div class="form-actions">
                <input class="mono" id="invite-link" readonly value=link.url aria-label="Invitation link"/>
                <button type="button" class="button small" on:click=move |_| {
                    browser::copy(&url);
                    copied.set(true);
                }>"Copy link"</button>
                <Show when=move || copied.get()>
                    <span class="success">"Copied."</span>
                </Show>
            </div>
        </div>
    }
}

/// A pending invitation, with "send again" (or, without mail, "new link") and "revoke".
#[component]
fn PendingInvitation(invitation: Invitation, mails: bool) -> impl IntoView {
    let expires = invitation
        .expires_at
        .get(..10)
        .unwrap_or_default()
        .to_owned();
    let invited_by = (!invitation.invited_by.is_empty())
        .then(|| format!(" · invited by {}", invitation.invited_by));
    view! {
        <li class="invitation">
            <span class="who">
                <strong>{invitation.email.clone()}</strong>
                <span class="muted small">
                    {invitation.role.label()} " · expires " {expires} {invited_by}
                </span>
            </span>
            <InvitationActions id=invitation.id mails email=invitation.email.clone()/>
        </li>
    }
}

#[island_in(accounts)]
fn InvitationActions(id: InvitationId, mails: bool, email: String) -> impl IntoView {
    let resend = Call::new();
    let revoke = Call::new();
    let busy = move || resend.pending().get() || revoke.pending().get();
    let error = move || -> Option<ApiError> {
        resend
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| revoke.value().get().and_then(Result::err))
    };
    view! {
        <div class="actions">
            // Without mail a new link is made to hand over, and the one before stops working.
            <button class="button small" disabled=busy on:click=move |_| resend.dispatch(resend_invitation(id))
                title=(!mails).then_some("Makes a new link to hand over; the link made before stops working")
                aria-label=format!("{} for {email}", if mails { "Send again" } else { "New link" })>
                {if mails { "Send again" } else { "New link" }}
            </button>
            <button class="button ghost small" disabled=busy on:click=move |_| revoke.dispatch_then(revoke_invitation(id), |_| browser::reload_saying("Revoked the invitation: its link no longer works."))
                aria-label=format!("Revoke the invitation of {email}")>
                "Revoke"
            </button>
        </div>
        {move || resend.value().get().and_then(Result::ok).map(|sent| view! { <SentNote sent/> })}
        {move || error().map(|error| view! { <ErrorNote error/> })}
    }
}
