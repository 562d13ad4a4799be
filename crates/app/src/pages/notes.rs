//! The Notes tab (`/projects/:id/notes`) and a note (`/projects/:id/notes/:note_id`) with its images:
//! drop several at once, watch each upload, drag to reorder, caption, remove.

use crate::browser;
use crate::components::{Call, ErrorNote, Field, Loading, NewItem, form_level};
use crate::pages::{page_param, project_id_param};
use crate::rpc::{
    create_note, delete_note, get_note, list_notes, remove_image, reorder_images,
    set_image_description, update_note,
};
use api::ApiError;
use api::ids::{NoteId, NoteImageId, ProjectId};
use api::notes::{Note, NoteForm, NoteImage, human_bytes, moved};
use islands_macro::island_in;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// The project's notes, newest first (`?page=N`, 0 first), and a form for a new one.
#[component]
pub fn NotesTab() -> impl IntoView {
    let project_id = project_id_param();
    let page = page_param();
    let notes = Resource::new(
        move || (project_id, page),
        |(project_id, page)| async move {
            let project_id = project_id.ok_or(ApiError::NotFound)?;
            list_notes(project_id, page).await
        },
    );
    view! {
        {project_id.map(|project_id| view! { <NewNote project_id/> })}
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                match notes.await {
                    Ok((list, _)) if list.is_empty() && page == 0 => view! {
                        <div class="empty">
                            <h2>"No notes yet"</h2>
                            <p>"A note holds a written story and the screenshots that go with it: create one, then drop your images on it."</p>
                        </div>
                    }
                    .into_any(),
                    Ok((list, has_more)) => view! {
                        <ul class="note-list" aria-label="Notes">
                            {list.into_iter().map(|note| view! { <NoteCard note/> }).collect_view()}
                        </ul>
                        <nav class="pager" aria-label="Pages">
                            {(page > 0).then(|| view! {
                                <a class="button ghost" href=format!("?page={}", page - 1)>"Newer"</a>
                            })}
                            {has_more.then(|| view! {
                                <a class="button ghost" href=format!("?page={}", page + 1)>"Older"</a>
                            })}
                        </nav>
                    }
                    .into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn NoteCard(note: Note) -> impl IntoView {
    let href = format!("/projects/{}/notes/{}", note.project_id, note.id);
    let shown = 6;
    let more = note.images.len().saturating_sub(shown);
    let count = note.images.len();
    view! {
        <li class="note-card">
            <A href=href attr:class="card-link">
                <h3>{note.title.clone()}</h3>
                <p class="muted small">
                    {note.created_at.get(..10).unwrap_or_default().to_owned()}
                    {match count {
                        0 => String::new(),
                        1 => " · 1 image".to_owned(),
                        n => format!(" · {n} images"),
                    }}
                </p>
                <div class="strip">
                    {note.images.iter().take(shown).map(|image| view! {
                        <img src=image.url() alt=image.description.clone() loading="lazy"/>
                    }).collect_view()}
                    {(more > 0).then(|| view! { <span class="more">{format!("+{more}")}</span> })}
                </div>
            </A>
        </li>
    }
}

/// The tab's heading with its "New note" button, and the form it opens.
#[island_in(projects)]
fn NewNote(project_id: ProjectId) -> impl IntoView {
    view! {
        <NewItem title="Notes" open_label="New note">
            <NewNoteForm project_id/>
        </NewItem>
    }
}

#[component]
fn NewNoteForm(project_id: ProjectId) -> impl IntoView {
    let title = RwSignal::new(String::new());
    let body = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let action = Call::<Note>::reporting_to(error);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = NoteForm {
            title: title.get(),
            body: body.get(),
        };
        match form.parse() {
            Ok(_) => {
                error.set(None);
                action.dispatch_then(create_note(project_id, form), |note| {
                    browser::go_to(&format!("/projects/{}/notes/{}", note.project_id, note.id))
                });
            }
            Err(e) => error.set(Some(e)),
        }
    };
    view! {
        <form class="note-form card-form" on:submit=submit novalidate>
            <Field name="title" label="Title" value=title error required=true/>
            <div class="field">
                <label for="body">"Text (Markdown)"</label>
                <textarea id="body" name="body" rows="6" bind:value=body></textarea>
            </div>
            {move || error.get().filter(|e| form_level(e, &["title"])).map(|error| view! { <ErrorNote error/> })}
            <button type="submit" class="button primary" disabled=move || action.pending().get()>
                {move || if action.pending().get() { "Creating…" } else { "Create note" }}
            </button>
        </form>
    }
}

/// One note: its text and its images.
#[component]
pub fn NotePage() -> impl IntoView {
    let params = use_params_map();
    let note_id =
        params.with_untracked(|p| NoteId::parse(&p.get("note_id").unwrap_or_default()).ok());
    let note = Resource::new(
        move || note_id,
        |note_id| async move { get_note(note_id.ok_or(ApiError::NotFound)?).await },
    );
    let answers = Resource::new(
        move || note_id,
        |note_id| async move { crate::rpc::list_note_answers(note_id.ok_or(ApiError::NotFound)?).await },
    );
    let available = Resource::new(|| (), |_| crate::rpc::ai_available());
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                match note.await {
                    Ok(note) => {
                        let note_id = note.id;
                        let answers: Vec<api::ai::AnswerShown> = answers
                            .await
                            .unwrap_or_default()
                            .iter()
                            .map(crate::pages::ai::shown)
                            .collect();
                        let available = available.await.unwrap_or(false);
                        let project_id = note.project_id;
                        view! {
                            <NoteView note/>
                            <crate::pages::ai::AskPanel note_id answers available/>
                            <crate::pages::workflows::NoteWorkflows note_id project_id available/>
                        }
                        .into_any()
                    }
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The note, its editor and its gallery: one island, since they share the list of images.
#[island_in(notes)]
fn NoteView(note: Note) -> impl IntoView {
    let note_id = note.id;
    let project_id = note.project_id;
    let title = RwSignal::new(note.title.clone());
    let body = RwSignal::new(note.body.clone());
    let body_html = RwSignal::new(note.body_html.clone());
    let images = RwSignal::new(note.images.clone());
    let editing = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let update = Call::<Note>::reporting_to(error);
    let delete = Call::<()>::reporting_to(error);
    let edit_title = RwSignal::new(String::new());
    let edit_body = RwSignal::new(String::new());
    let start_editing = move |_| {
        edit_title.set(title.get_untracked());
        edit_body.set(body.get_untracked());
        error.set(None);
        editing.set(true);
    };
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let form = NoteForm {
            title: edit_title.get(),
            body: edit_body.get(),
        };
        match form.parse() {
            Ok(_) => {
                update.dispatch_then(update_note(note_id, form), move |saved| {
                    title.set(saved.title.clone());
                    body.set(saved.body.clone());
                    body_html.set(saved.body_html.clone());
                    editing.set(false);
                });
            }
            Err(e) => error.set(Some(e)),
        }
    };
    view! {
        <article class="note">
            <p class="crumbs"><a href=format!("/projects/{project_id}/notes")>"← All notes"</a></p>
            <Show
                when=move || editing.get()
                fallback=move || view! {
                    <div class="note-head">
                        <h2 class="note-title">{move || title.get()}</h2>
                        <div class="actions">
                            <button class="button ghost small" on:click=start_editing>"Edit"</button>
                            <button class="button danger small" disabled=move || delete.pending().get()
                                on:click=move |_| browser::confirm_then(
                                    &match images.with(Vec::len) {
                                        0 => "Delete this note? This cannot be undone.".to_owned(),
                                        count => format!(
                                            "Delete this note and its {}? The files are removed too; this cannot be undone.",
                                            api::count(count as u64, "image", "images"),
                                        ),
                                    },
                                    "Delete note",
                                    move || delete.dispatch_then(delete_note(note_id), move |_| {
                                        browser::go_to(&format!("/projects/{project_id}/notes"))
                                    }),
                                )>
                                {move || if delete.pending().get() { "Deleting…" } else { "Delete note" }}
                            </button>
                        </div>
                    </div>
                    <div class="markdown" inner_html=move || body_html.get()></div>
                }
            >
                <form class="note-form card-form" on:submit=save novalidate>
                    <Field name="title" label="Title" value=edit_title error required=true/>
                    <div class="field">
                        <label for="body">"Text (Markdown)"</label>
                        <textarea id="body" name="body" rows="10" bind:value=edit_body></textarea>
                    </div>
                    <div class="actions">
                        <button type="submit" class="button primary" disabled=move || update.pending().get()>
                            {move || if update.pending().get() { "Saving…" } else { "Save" }}
                        </button>
                        <button type="button" class="button ghost" on:click=move |_| editing.set(false)>"Cancel"</button>
                    </div>
                </form>
            </Show>
            {move || error.get().filter(|e| form_level(e, &["title"])).map(|error| view! { <ErrorNote error/> })}
            <Gallery note_id images/>
        </article>
    }
}

/// What an image is called where it is named: its caption, or its place and size.
fn image_name(image: &NoteImage) -> String {
    if image.description.is_empty() {
        format!(
            "Image {} ({}×{})",
            image.sort_order + 1,
            image.width,
            image.height
        )
    } else {
        image.description.clone()
    }
}

/// An upload under way or refused.
#[derive(Clone)]
struct UploadRow {
    key: u32,
    name: String,
    size: f64,
    /// Whole percent sent.
    progress: RwSignal<u32>,
    failed: RwSignal<Option<String>>,
}

/// An image taken out of the gallery and not yet removed: Undo puts it back where it was. It is
/// removed for good when its notice goes, when another image is removed, or when the page is left.
#[derive(Clone)]
struct PendingRemoval {
    image: NoteImage,
    at: usize,
}

/// How long "Removed … Undo" stays before the image is removed for good.
const UNDO_REMOVAL: std::time::Duration = std::time::Duration::from_secs(8);

#[component]
fn Gallery(note_id: NoteId, images: RwSignal<Vec<NoteImage>>) -> impl IntoView {
    let uploads = RwSignal::new(Vec::<UploadRow>::new());
    let next_key = StoredValue::new(0u32);
    let over = RwSignal::new(false);
    let dragged = RwSignal::new(None::<NoteImageId>);
    let error = RwSignal::new(None::<ApiError>);

    let pending = RwSignal::new(None::<PendingRemoval>);
    let timer = StoredValue::new(None::<TimeoutHandle>);
    // The pending removal, taken to be made now (its Undo is gone).
    let take_pending = move || {
        if let Some(handle) = timer.get_value() {
            handle.clear();
            timer.set_value(None);
        }
        let removal = pending.get_untracked();
        pending.set(None);
        removal
    };
    // Makes a removal: the image comes back if the server refuses it.
    let make_removal = move |removal: PendingRemoval| async move {
        let result = remove_image(removal.image.id).await;
        if let Err(e) = &result {
            images.update(|list| list.insert(removal.at.min(list.len()), removal.image));
            error.set(Some(e.clone()));
        }
        result.is_ok()
    };
    let remove_now = move || {
        if let Some(removal) = take_pending() {
            leptos::task::spawn_local(async move {
                make_removal(removal).await;
            });
        }
    };

    let save_order = move |order: Vec<NoteImageId>| {
        // Show the new order at once; the server's answer (the stored order) replaces it.
        let previous = images.get_untracked();
        images.update(|list| {
            list.sort_by_key(|image| {
                order
                    .iter()
                    .position(|id| *id == image.id)
                    .unwrap_or(usize::MAX)
            })
        });
        // The stored order must name every image the note has: a removal still waiting for its
        // Undo is made first.
        let removing = take_pending();
        leptos::task::spawn_local(async move {
            if let Some(removal) = removing
                && !make_removal(removal).await
            {
                return;
            }
            match reorder_images(note_id, order).await {
                Ok(stored) => images.set(stored),
                Err(e) => {
                    images.set(previous);
                    error.set(Some(e));
                }
            }
        });
    };
    let move_to = move |id: NoteImageId, to: usize| {
        let ids: Vec<NoteImageId> =
            images.with_untracked(|list| list.iter().map(|i| i.id).collect());
        let order = moved(&ids, id, to);
        if order != ids {
            save_order(order);
        }
    };

    let remove = move |id: NoteImageId| {
        remove_now();
        let Some(at) = images.with_untracked(|list| list.iter().position(|i| i.id == id)) else {
            return;
        };
        let image = images.with_untracked(|list| list[at].clone());
        images.update(|list| {
            list.remove(at);
        });
        pending.set(Some(PendingRemoval { image, at }));
        timer.set_value(set_timeout_with_handle(remove_now, UNDO_REMOVAL).ok());
        browser::focus_first(&["#undo-removal".to_owned()]);
    };
    let undo = move |_| {
        if let Some(removal) = take_pending() {
            let id = removal.image.id;
            images.update(|list| list.insert(removal.at.min(list.len()), removal.image));
            browser::focus_first(&[format!("[data-image-id='{id}'] .remove-image")]);
        }
    };
    // Leaving the page (a link, a reload, closing the tab) makes the pending removal: the request
    // is handed to the browser, which sends it even as the page goes. `beforeunload` comes before
    // the next page is asked for (which then shows the image gone); `pagehide` is for the ways of
    // leaving that skip it (a phone closing the tab).
    #[cfg(feature = "hydrate")]
    for leaving in ["beforeunload", "pagehide"] {
        let _ = window_event_listener_untyped(leaving, move |_| {
            if let Some(removal) = take_pending() {
                browser::send_on_leaving(&crate::rpc::RemoveImage {
                    id: removal.image.id,
                });
            }
        });
    }

    #[cfg(feature = "hydrate")]
    let start_uploads = move |files: Vec<crate::upload::PickedFile>| {
        let rows: Vec<(UploadRow, crate::upload::PickedFile)> = files
            .into_iter()
            .map(|file| {
                let key = next_key.get_value();
                next_key.set_value(key + 1);
                let row = UploadRow {
                    key,
                    name: file.name(),
                    size: file.size(),
                    progress: RwSignal::new(0),
                    failed: RwSignal::new(None),
                };
                (row, file)
            })
            .collect();
        uploads.update(|list| list.extend(rows.iter().map(|(row, _)| row.clone())));
        // One after another: a person's uplink is the limit, not the server, and the images land
        // in the order they were dropped.
        leptos::task::spawn_local(async move {
            let limits = crate::rpc::upload_limits().await.unwrap_or_default();
            for (row, file) in rows {
                if row.size > limits.max_bytes as f64 {
                    row.failed.set(Some(limits.too_large().user_message()));
                    continue;
                }
                let progress = row.progress;
                match crate::upload::upload_image(note_id, file, move |f| progress.set(f)).await {
                    Ok(image) => {
                        images.update(|list| list.push(image));
                        uploads.update(|list| list.retain(|r| r.key != row.key));
                    }
                    Err(e) => row.failed.set(Some(e.user_message())),
                }
            }
        });
    };
    // Events never fire while rendering on the server.
    #[cfg(not(feature = "hydrate"))]
    let start_uploads = move |_: Vec<()>| {
        let _ = (next_key, uploads);
    };

    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        over.set(false);
        if let Some(id) = dragged.get_untracked() {
            // An image dropped on the zone, not on another image: move it to the end.
            dragged.set(None);
            move_to(id, usize::MAX);
        } else {
            #[cfg(feature = "hydrate")]
            if let Some(files) = ev.data_transfer().and_then(|t| t.files()) {
                start_uploads((0..files.length()).filter_map(|i| files.get(i)).collect());
            }
        }
    };
    let on_pick = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            let input = event_target::<leptos::web_sys::HtmlInputElement>(&ev);
            if let Some(files) = input.files() {
                start_uploads((0..files.length()).filter_map(|i| files.get(i)).collect());
            }
            // Picking the same file again should upload it again.
            input.set_value("");
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (ev, &start_uploads);
        }
    };

    view! {
        <section class="gallery" aria-label="Images">
            <h3>"Images"</h3>
            <div
                class="dropzone"
                class:over=move || over.get()
                on:dragover=move |ev: leptos::ev::DragEvent| {
                    ev.prevent_default();
                    over.set(true);
                }
                on:dragleave=move |_| over.set(false)
                on:drop=on_drop
            >
                <p>
                    "Drop images here, or "
                    <label class="link">
                        "choose files"
                        <input
                            class="visually-hidden"
                            type="file"
                            name="images"
                            multiple=true
                            accept="image/png,image/jpeg,image/gif,image/webp"
                            on:change=on_pick
                        />
                    </label>
                    "."
                </p>
                <p class="hint">"PNG, JPEG, GIF or WebP. Drag a thumbnail onto another to reorder."</p>
            </div>
            <ul class="uploads" aria-live="polite">
                <For each=move || uploads.get() key=|row| row.key let:row>
                    <li class="upload" class:failed=move || row.failed.get().is_some()>
                        <span class="name">{row.name.clone()}</span>
                        <span class="size muted">{human_bytes(row.size as u64)}</span>
                        {move || match row.failed.get() {
                            Some(message) => view! {
                                <span class="error" role="alert">{message}</span>
                                <button class="button ghost small"
                                    on:click=move |_| uploads.update(|list| list.retain(|r| r.key != row.key))>
                                    "Dismiss"
                                </button>
                            }.into_any(),
                            None => view! {
                                <progress max="100" value=move || row.progress.get()></progress>
                                <span class="muted">{move || format!("{}%", row.progress.get())}</span>
                            }.into_any(),
                        }}
                    </li>
                </For>
            </ul>
            {move || error.get().map(|error| view! { <ErrorNote error/> })}
            <div class="removal" aria-live="polite">
                {move || pending.get().map(|removal| view! {
                    <p class="removed-note">
                        <span>{format!("Removed {}.", image_name(&removal.image))}</span>
                        <button id="undo-removal" type="button" class="button small" on:click=undo>"Undo"</button>
                    </p>
                })}
            </div>
            {move || images.with(Vec::is_empty).then(|| view! {
                <p class="muted">"No images yet."</p>
            })}
            <ol class="thumbs">
                <For each=move || images.get() key=|image| image.id let:image>
                    <Thumb image images dragged move_to remove error/>
                </For>
            </ol>
        </section>
    }
}

#[component]
fn Thumb(
    image: NoteImage,
    images: RwSignal<Vec<NoteImage>>,
    dragged: RwSignal<Option<NoteImageId>>,
    move_to: impl Fn(NoteImageId, usize) + Copy + 'static,
    remove: impl Fn(NoteImageId) + Copy + 'static,
    error: RwSignal<Option<ApiError>>,
) -> impl IntoView {
    let id = image.id;
    let index = move || images.with(|list| list.iter().position(|i| i.id == id).unwrap_or(0));
    let caption = RwSignal::new(image.description.clone());
    let saved = RwSignal::new(false);
    let target = RwSignal::new(false);
    let save_caption = move |_| {
        let description = caption.get_untracked();
        leptos::task::spawn_local(async move {
            match set_image_description(id, description).await {
                Ok(stored) => {
                    caption.set(stored.description.clone());
                    saved.set(true);
                    images.update(|list| {
                        if let Some(slot) = list.iter_mut().find(|i| i.id == id) {
                            slot.description = stored.description;
                        }
                    });
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    // The moved image's button keeps the focus (moving its element would drop it), or, at the
    // end of the row, its other arrow does.
    let move_by = move |later: bool| {
        let at = index();
        move_to(id, if later { at + 1 } else { at.saturating_sub(1) });
        let (this, other) = if later {
            ("later", "earlier")
        } else {
            ("earlier", "later")
        };
        browser::focus_first(&[
            format!("[data-image-id='{id}'] button[data-move='{this}']:not([disabled])"),
            format!("[data-image-id='{id}'] button[data-move='{other}']:not([disabled])"),
        ]);
    };
    let alt = image_name(&image);
    view! {
        <li
            class="thumb"
            class:target=move || target.get()
            class:dragging=move || dragged.get() == Some(id)
            draggable="true"
            data-image-id=id.to_string()
            on:dragstart=move |ev: leptos::ev::DragEvent| {
                dragged.set(Some(id));
                if let Some(transfer) = ev.data_transfer() {
                    let _ = transfer.set_data("text/plain", &id.to_string());
                    transfer.set_effect_allowed("move");
                }
            }
            on:dragend=move |_| dragged.set(None)
            on:dragover=move |ev: leptos::ev::DragEvent| {
                if dragged.get_untracked().is_some() {
                    ev.prevent_default();
                    target.set(true);
                }
            }
            on:dragleave=move |_| target.set(false)
            on:drop=move |ev: leptos::ev::DragEvent| {
                target.set(false);
                if let Some(moving) = dragged.get_untracked() {
                    ev.prevent_default();
                    ev.stop_propagation();
                    dragged.set(None);
                    move_to(moving, index());
                }
            }
        >
            <a href=image.url() target="_blank" rel="noopener" class="thumb-image">
                <img src=image.url() alt=alt width=image.width height=image.height loading="lazy" draggable="false"/>
            </a>
            <label class="visually-hidden" for=format!("caption-{id}")>"Caption"</label>
            // "Saved" shows inside the field's end, so it never moves the buttons below.
            <div class="caption-field">
                <input
                    id=format!("caption-{id}")
                    class="caption"
                    name="caption"
                    placeholder="Add a caption"
                    maxlength="500"
                    bind:value=caption
                    on:input=move |_| saved.set(false)
                    on:change=save_caption
                />
                {move || saved.get().then(|| view! { <span class="saved small" role="status">"Saved"</span> })}
            </div>
            <div class="thumb-actions">
                <span class="muted small">{format!("{}×{} · {}", image.width, image.height, human_bytes(image.byte_size.max(0) as u64))}</span>
                <button class="button ghost small" aria-label="Move earlier" title="Move earlier" data-move="earlier"
                    disabled=move || index() == 0
                    on:click=move |_| move_by(false)>"←"</button>
                <button class="button ghost small" aria-label="Move later" title="Move later" data-move="later"
                    disabled=move || { index() + 1 >= images.with(Vec::len) }
                    on:click=move |_| move_by(true)>"→"</button>
                <button class="button ghost small danger-text remove-image" on:click=move |_| remove(id)>"Remove"</button>
            </div>
        </li>
    }
}
