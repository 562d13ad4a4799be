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
    let confirming = RwSignal::new(false);
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
                            <button class="button danger small" on:click=move |_| confirming.set(true)>"Delete note"</button>
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
            {move || confirming.get().then(|| view! {
                <div class="confirm" role="alertdialog" aria-label="Delete this note?">
                    <p>{move || format!(
                        "Delete this note and its {} image(s)? The files are removed too; this cannot be undone.",
                        images.with(Vec::len)
                    )}</p>
                    <button class="button danger" disabled=move || delete.pending().get()
                        on:click=move |_| delete.dispatch_then(delete_note(note_id), move |_| {
                            browser::go_to(&format!("/projects/{project_id}/notes"))
                        })>
                        {move || if delete.pending().get() { "Deleting…" } else { "Delete" }}
                    </button>
                    <button class="button ghost" on:click=move |_| confirming.set(false)>"Cancel"</button>
                </div>
            })}
            {move || error.get().filter(|e| form_level(e, &["title"])).map(|error| view! { <ErrorNote error/> })}
            <Gallery note_id images/>
        </article>
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

#[component]
fn Gallery(note_id: NoteId, images: RwSignal<Vec<NoteImage>>) -> impl IntoView {
    let uploads = RwSignal::new(Vec::<UploadRow>::new());
    let next_key = StoredValue::new(0u32);
    let over = RwSignal::new(false);
    let dragged = RwSignal::new(None::<NoteImageId>);
    let error = RwSignal::new(None::<ApiError>);

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
        leptos::task::spawn_local(async move {
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
            {move || images.with(Vec::is_empty).then(|| view! {
                <p class="muted">"No images yet."</p>
            })}
            <ol class="thumbs">
                <For each=move || images.get() key=|image| image.id let:image>
                    <Thumb image images dragged move_to error/>
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
    let remove = move |_| {
        leptos::task::spawn_local(async move {
            match remove_image(id).await {
                Ok(()) => images.update(|list| list.retain(|i| i.id != id)),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let alt = if image.description.is_empty() {
        format!(
            "Image {} ({}×{})",
            image.sort_order + 1,
            image.width,
            image.height
        )
    } else {
        image.description.clone()
    };
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
            <div class="thumb-actions">
                <span class="muted small">{format!("{}×{} · {}", image.width, image.height, human_bytes(image.byte_size.max(0) as u64))}</span>
                {move || saved.get().then(|| view! { <span class="saved small">"Saved"</span> })}
                <button class="button ghost small" aria-label="Move earlier" title="Move earlier"
                    disabled=move || index() == 0
                    on:click=move |_| move_to(id, index().saturating_sub(1))>"←"</button>
                <button class="button ghost small" aria-label="Move later" title="Move later"
                    disabled=move || { index() + 1 >= images.with(Vec::len) }
                    on:click=move |_| move_to(id, index() + 1)>"→"</button>
                <button class="button ghost small danger-text" on:click=remove>"Remove"</button>
            </div>
        </li>
    }
}
