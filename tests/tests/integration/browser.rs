//! End to end in headless Chromium, against the real server and its WASM islands: sign up, create a
//! project, reload, a click handled in the page, log out and in, and a second tenant that sees
//! nothing of the first. Screenshots go to `CAIRN_SCREENSHOT_DIR` when it is set.

use fantoccini::{Client, Locator};
use serde_json::json;
use std::time::{Duration, Instant};
use tests::chromium::{
    Driver, Step, click, fill, first_visit_on_fast_3g, press, screenshot, wait_for_hydration,
    wait_for_js, wait_for_path, wait_for_text,
};
use tests::{TestApp, spawn_app};

/// One journey at a time: Chromium sessions competing with each other and with the rest of the
/// suite for two cores have hung a renderer past WebDriver's five-minute page-load limit.
static ONE_JOURNEY_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn sign_up(browser: &Client, app: &TestApp, email: &str, team: &str) -> Step {
    browser.goto(&app.url("/signup")).await?;
    wait_for_hydration(browser).await?;
    fill(browser, "display_name", "Ada Lovelace").await?;
    fill(browser, "email", email).await?;
    fill(browser, "password", "correct horse battery").await?;
    fill(browser, "tenant_name", team).await?;
    screenshot(browser, "signup").await?;
    click(browser, Locator::Css("form button[type=submit]")).await?;
    wait_for_path(browser, |p| p == "/projects").await?;
    Ok(())
}

async fn journey(browser: &Client, second: &Client, app: &TestApp) -> Step {
    // A validation error is shown by the page, from the shared parser, without a round trip.
    browser.goto(&app.url("/signup")).await?;
    wait_for_hydration(browser).await?;
    fill(browser, "email", "not-an-email").await?;
    click(browser, Locator::Css("form button[type=submit]")).await?;
    wait_for_text(browser, "#email-error", "name@example.com").await?;

    sign_up(browser, app, "ada@example.com", "Analytical Engines").await?;
    wait_for_text(browser, ".empty", "No projects yet").await?;
    screenshot(browser, "projects-empty").await?;

    // Create a project.
    click(browser, Locator::Css(".empty a.button")).await?;
    wait_for_path(browser, |p| p == "/projects/new").await?;
    fill(browser, "name", "Difference Engine").await?;
    fill(
        browser,
        "description",
        "Notes and memory for the engine's firmware.",
    )
    .await?;
    fill(
        browser,
        "github_repo",
        "https://github.com/babbage/difference-engine",
    )
    .await?;
    fill(browser, "github_path", "docs/").await?;
    screenshot(browser, "project-new").await?;
    click(browser, Locator::Css("form button[type=submit]")).await?;
    let project_path = wait_for_path(browser, |p| {
        p.starts_with("/projects/") && p != "/projects/new"
    })
    .await?;
    wait_for_text(browser, "h1", "Difference Engine").await?;
    wait_for_text(browser, ".facts", "/docs").await?;
    screenshot(browser, "project-overview").await?;

    // Reload: it is still there, rendered by the server.
    browser.refresh().await?;
    wait_for_text(browser, "h1", "Difference Engine").await?;

    // A click handled by the WASM island: the shared parser refuses an empty name in the page,
    // with no request and no page load.
    click_tab(browser, "Settings").await?;
    wait_for_path(browser, |p| p.ends_with("/settings")).await?;
    wait_for_text(browser, "h2", "Project settings").await?;
    wait_for_hydration(browser).await?;
    browser
        .execute("window.__cairnMarker = 'still here';", vec![])
        .await?;
    browser
        .execute(
            "const name = document.getElementById('name');
             name.value = '';
             name.dispatchEvent(new Event('input', {bubbles: true}));",
            vec![],
        )
        .await?;
    click(
        browser,
        Locator::Css("form.project-form button[type=submit]"),
    )
    .await?;
    wait_for_text(browser, "#name-error", "is required").await?;
    let marker = browser
        .execute("return window.__cairnMarker || null;", vec![])
        .await?;
    assert_eq!(
        marker,
        json!("still here"),
        "the click reloaded the page: not hydrated"
    );
    screenshot(browser, "project-settings").await?;
    click_tab(browser, "Notes").await?;
    wait_for_text(browser, ".empty", "No notes yet").await?;

    // The dashboard lists it, at desktop and phone widths.
    click(browser, Locator::LinkText("Projects")).await?;
    wait_for_text(browser, ".cards", "Difference Engine").await?;
    wait_for_text(browser, ".cards", "babbage/difference-engine").await?;
    screenshot(browser, "projects").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "projects-phone").await?;
    browser.set_window_size(1280, 900).await?;

    // The team page lists the owner.
    click(browser, Locator::LinkText("Team")).await?;
    wait_for_text(browser, ".members", "ada@example.com").await?;
    screenshot(browser, "team").await?;

    // Log out and back in.
    wait_for_hydration(browser).await?;
    click(browser, Locator::Css(".account button")).await?;
    wait_for_path(browser, |p| p == "/login").await?;
    wait_for_hydration(browser).await?;
    fill(browser, "email", "ada@example.com").await?;
    fill(browser, "password", "wrong password").await?;
    click(browser, Locator::Css("form button[type=submit]")).await?;
    wait_for_text(browser, ".error", "E-mail or password is incorrect").await?;
    screenshot(browser, "login-error").await?;
    fill(browser, "password", "correct horse battery").await?;
    click(browser, Locator::Css("form button[type=submit]")).await?;
    wait_for_path(browser, |p| p == "/projects").await?;
    wait_for_text(browser, ".cards", "Difference Engine").await?;

    // Someone in another tenant sees none of it, even at the project's own address.
    sign_up(second, app, "grace@example.com", "Compilers").await?;
    wait_for_text(second, ".empty", "No projects yet").await?;
    second.goto(&app.url(&project_path)).await?;
    wait_for_text(second, ".error", "Not found").await?;

    // Ada invites Grace (this Cairn sends no e-mail, so Ada gets the link to hand over); Grace,
    // signed in with that address, follows it, accepts and sees the project.
    click(browser, Locator::LinkText("Team")).await?;
    wait_for_path(browser, |p| p == "/team").await?;
    wait_for_hydration(browser).await?;
    fill(browser, "invite-email", "grace@example.com").await?;
    click(browser, Locator::Css(".inline-form button[type=submit]")).await?;
    wait_for_text(browser, ".invite-link", "grace@example.com").await?;
    // At once: the invitation is in the pending list, the field is empty for the next one, and
    // the link (shown once) left the address.
    wait_for_text(
        browser,
        "[aria-label='Pending invitations']",
        "grace@example.com",
    )
    .await?;
    assert_eq!(
        browser
            .find(Locator::Id("invite-email"))
            .await?
            .prop("value")
            .await?
            .as_deref(),
        Some("")
    );
    assert_eq!(browser.current_url().await?.fragment(), None);
    wait_for_hydration(browser).await?;
    click(browser, Locator::XPath("//button[text()='Copy link']")).await?;
    wait_for_text(browser, ".invite-link", "Copied.").await?;
    let link = browser
        .find(Locator::Id("invite-link"))
        .await?
        .prop("value")
        .await?
        .ok_or("no invitation link")?;
    assert!(link.contains("/invite/"), "{link}");
    // The team's only owner has no role change and no Remove on their own row; without mail, a
    // pending invitation offers a new link, not a mail.
    wait_for_text(browser, "[aria-label='Members'] li", "(you)").await?;
    let own_row_controls = browser
        .find_all(Locator::Css(
            "[aria-label='Members'] li select, [aria-label='Members'] li button",
        ))
        .await?
        .len();
    assert_eq!(own_row_controls, 0, "the sole owner's row has no controls");
    wait_for_text(
        browser,
        "[aria-label='Pending invitations'] button",
        "New link",
    )
    .await?;
    screenshot(browser, "team-invited").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "team-invited-phone").await?;
    browser.set_window_size(1280, 900).await?;
    second.goto(&link).await?;
    wait_for_text(second, "h1", "Join Analytical Engines").await?;
    wait_for_hydration(second).await?;
    screenshot(second, "invitation").await?;
    click(second, Locator::Css(".auth button.primary")).await?;
    wait_for_path(second, |p| p == "/projects").await?;
    wait_for_text(second, ".cards", "Difference Engine").await?;
    // The top bar now offers both teams.
    second.goto(&app.url("/projects")).await?;
    wait_for_hydration(second).await?;
    second
        .find(Locator::Css("select[name=tenant]"))
        .await?
        .select_by_label("Compilers")
        .await?;
    wait_for_text(second, ".empty", "No projects yet").await?;
    second
        .find(Locator::Css("select[name=tenant]"))
        .await?
        .select_by_label("Analytical Engines")
        .await?;
    wait_for_text(second, ".cards", "Difference Engine").await?;
    screenshot(second, "projects-switched-team").await?;
    Ok(())
}

#[tokio::test]
async fn sign_up_create_reload_navigate_log_out_and_stay_isolated() {
    let _turn = ONE_JOURNEY_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let second = driver.browser().await;
    let outcome = journey(&browser, &second, &app).await;
    // Close the sessions before judging, so no Chromium is left behind on failure.
    let _ = browser.close().await;
    let _ = second.close().await;
    drop(driver);
    if let Err(error) = outcome {
        panic!("browser journey failed: {error}");
    }
}

/// Clicks a project tab; the sticky top bar may cover it after a scroll, so scroll to the top first.
async fn click_tab(browser: &Client, name: &str) -> Step {
    browser.execute("window.scrollTo(0, 0);", vec![]).await?;
    click(
        browser,
        Locator::XPath(&format!("//nav[@class='tabs']/a[text()='{name}']")),
    )
    .await
}

async fn thumb_ids(browser: &Client) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let ids = browser
        .execute(
            "return [...document.querySelectorAll('.thumb')].map(t => t.dataset.imageId);",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(ids)?)
}

const ALL_THUMBS_LOADED: &str =
    "[...document.querySelectorAll('.thumb img')].every(i => i.complete && i.naturalWidth > 0)";

async fn notes_journey(browser: &Client, app: &TestApp) -> Step {
    sign_up(browser, app, "ada@example.com", "Analytical Engines").await?;
    browser.goto(&app.url("/projects/new")).await?;
    wait_for_hydration(browser).await?;
    fill(browser, "name", "Difference Engine").await?;
    click(browser, Locator::Css("form button[type=submit]")).await?;
    let project_path = wait_for_path(browser, |p| {
        p.starts_with("/projects/") && p != "/projects/new"
    })
    .await?;

    // The Notes tab, then a new note.
    click_tab(browser, "Notes").await?;
    wait_for_text(browser, ".empty", "No notes yet").await?;
    wait_for_hydration(browser).await?;
    click(browser, Locator::XPath("//button[text()='New note']")).await?;
    // The form opens ready for typing, and its way out is a quiet button.
    wait_for_js(
        browser,
        "document.activeElement && document.activeElement.id === 'title'",
    )
    .await?;
    wait_for_js(
        browser,
        "[...document.querySelectorAll('.tab-head button')].some(b => b.textContent === 'Cancel' && !b.classList.contains('primary'))",
    )
    .await?;
    screenshot(browser, "note-new-form").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "note-new-form-phone").await?;
    browser.set_window_size(1280, 900).await?;
    fill(browser, "title", "Login flow").await?;
    fill(
        browser,
        "body",
        "The **login** page, step by step.\n\n<script>alert(1)</script>",
    )
    .await?;
    click(browser, Locator::Css(".note-form button[type=submit]")).await?;
    let note_path = wait_for_path(browser, |p| {
        p.starts_with(&format!("{project_path}/notes/"))
    })
    .await?;
    wait_for_text(browser, ".markdown strong", "login").await?;
    wait_for_text(browser, ".markdown", "<script>alert(1)</script>").await?;
    wait_for_hydration(browser).await?;

    // Drop three images at once: one drop event carrying three files.
    let colours = [[200u8, 40, 40], [40, 150, 70], [50, 80, 210]];
    let files: Vec<Vec<u8>> = colours
        .iter()
        .map(|rgb| tests::images::png(240, 160, *rgb))
        .collect();
    let dropped = browser
        .execute(
            "const [images, names] = arguments;
             const transfer = new DataTransfer();
             images.forEach((bytes, i) => transfer.items.add(
                 new File([new Uint8Array(bytes)], names[i], {type: 'image/png'})));
             const zone = document.querySelector('.dropzone');
             zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer, bubbles: true, cancelable: true}));
             zone.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
             return transfer.files.length;",
            vec![json!(files), json!(["red.png", "green.png", "blue.png"])],
        )
        .await?;
    assert_eq!(dropped, json!(3));
    wait_for_js(browser, "document.querySelectorAll('.thumb').length === 3").await?;
    wait_for_js(browser, ALL_THUMBS_LOADED).await?;
    wait_for_js(browser, "document.querySelectorAll('.upload').length === 0").await?;
    let uploaded = thumb_ids(browser).await?;
    assert_eq!(app.stored_objects().await.len(), 3);

    // Drag the third image onto the first.
    browser
        .execute(
            "const thumbs = [...document.querySelectorAll('.thumb')];
             const transfer = new DataTransfer();
             const [from, to] = [thumbs[2], thumbs[0]];
             from.dispatchEvent(new DragEvent('dragstart', {dataTransfer: transfer, bubbles: true}));
             to.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer, bubbles: true, cancelable: true}));
             to.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true, cancelable: true}));
             from.dispatchEvent(new DragEvent('dragend', {dataTransfer: transfer, bubbles: true}));",
            vec![],
        )
        .await?;
    let expected = vec![
        uploaded[2].clone(),
        uploaded[0].clone(),
        uploaded[1].clone(),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    while thumb_ids(browser).await? != expected {
        if Instant::now() > deadline {
            return Err(format!(
                "order is {:?}, wanted {expected:?}",
                thumb_ids(browser).await?
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Caption the (new) first image; Tab leaves the field and saves it.
    let caption = browser
        .find(Locator::Css(".thumb:first-child input.caption"))
        .await?;
    caption.send_keys("The blue login page\u{E004}").await?;
    wait_for_text(browser, ".thumb:first-child .saved", "Saved").await?;
    // "Saved" sits inside the field: the buttons below stay on one line, as on the others.
    let rows = browser
        .execute(
            "return [...document.querySelectorAll('.thumb-actions')].map(a => a.offsetHeight);",
            vec![],
        )
        .await?;
    let rows: Vec<u64> = serde_json::from_value(rows)?;
    if rows.windows(2).any(|pair| pair[0] != pair[1]) {
        return Err(format!("the thumbnails' button rows differ in height: {rows:?}").into());
    }
    screenshot(browser, "note-images").await?;

    // Reload: order and caption come back from the server.
    browser.refresh().await?;
    wait_for_hydration(browser).await?;
    wait_for_js(browser, "document.querySelectorAll('.thumb').length === 3").await?;
    assert_eq!(thumb_ids(browser).await?, expected, "order persisted");
    let caption = browser
        .find(Locator::Css(".thumb:first-child input.caption"))
        .await?
        .prop("value")
        .await?;
    assert_eq!(caption.as_deref(), Some("The blue login page"));
    wait_for_js(browser, ALL_THUMBS_LOADED).await?;

    browser.set_window_size(390, 844).await?;
    screenshot(browser, "note-images-phone").await?;
    browser.set_window_size(1280, 900).await?;

    // → and ← keep the focus on the moved image's button (at the row's start, ← is disabled:
    // the focus goes to its →), and the order they leave is stored.
    let first = expected[0].clone();
    let focused_on = |image: &str, arrow: &str| {
        format!(
            "document.activeElement.closest('.thumb')?.dataset.imageId === '{image}'
             && document.activeElement.dataset.move === '{arrow}'"
        )
    };
    click(
        browser,
        Locator::Css(".thumb:first-child button[data-move='later']"),
    )
    .await?;
    wait_for_js(browser, &focused_on(&first, "later")).await?;
    if thumb_ids(browser).await?[1] != first {
        return Err("→ did not move the image".into());
    }
    browser
        .execute(
            "document.activeElement.previousElementSibling.click();",
            vec![],
        )
        .await?;
    wait_for_js(browser, &focused_on(&first, "later")).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stored = rpc_in_page(
            browser,
            "get_note",
            json!({"id": note_path.rsplit('/').next().unwrap_or_default()}),
        )
        .await?;
        let ids: Vec<String> = stored["images"]
            .as_array()
            .map(|images| {
                images
                    .iter()
                    .map(|i| i["id"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        if ids == expected {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("stored order {ids:?}, wanted {expected:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Remove one, then Undo: it comes back in its place, and its file was never touched.
    click(
        browser,
        Locator::Css(".thumb:nth-child(2) button.remove-image"),
    )
    .await?;
    wait_for_js(browser, "document.querySelectorAll('.thumb').length === 2").await?;
    wait_for_text(browser, ".removed-note", "Removed Image").await?;
    wait_for_js(browser, "document.activeElement.id === 'undo-removal'").await?;
    screenshot(browser, "note-image-removed").await?;
    click(browser, Locator::Css("#undo-removal")).await?;
    wait_for_js(browser, "document.querySelectorAll('.thumb').length === 3").await?;
    assert_eq!(
        thumb_ids(browser).await?,
        expected,
        "the image came back in its place"
    );
    assert_eq!(app.stored_objects().await.len(), 3);
    // Removed for good once the Undo is gone (a few seconds).
    click(
        browser,
        Locator::Css(".thumb:nth-child(2) button.remove-image"),
    )
    .await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "note-image-removed-phone").await?;
    browser.set_window_size(1280, 900).await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.stored_objects().await.len() != 2 {
        if Instant::now() > deadline {
            return Err(format!("objects left: {:?}", app.stored_objects().await).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for_js(browser, "!document.querySelector('.removed-note')").await?;
    // Removed and the page left at once: the removal is still made.
    click(
        browser,
        Locator::Css(".thumb:nth-child(2) button.remove-image"),
    )
    .await?;

    // The notes list shows the note with its thumbnails.
    click(browser, Locator::Css(".crumbs a")).await?;
    wait_for_text(browser, ".note-list", "Login flow").await?;
    // The removal went with the page: the list says so (its request may cross the removal's:
    // a reload shows it).
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.stored_objects().await.len() != 1 {
        if Instant::now() > deadline {
            return Err(format!("objects left: {:?}", app.stored_objects().await).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.refresh().await?;
    wait_for_text(browser, ".note-list", "1 image").await?;
    screenshot(browser, "notes-list").await?;

    // Delete the note: its objects go too.
    browser.goto(&app.url(&note_path)).await?;
    wait_for_hydration(browser).await?;
    click(browser, Locator::XPath("//button[text()='Delete note']")).await?;
    wait_for_text(
        browser,
        "#confirm .confirm-text",
        "Delete this note and its 1 image?",
    )
    .await?;
    screenshot(browser, "note-delete-confirm").await?;
    click(browser, Locator::Css("#confirm .confirm-yes")).await?;
    wait_for_path(browser, |p| p == format!("{project_path}/notes")).await?;
    wait_for_text(browser, ".empty", "No notes yet").await?;
    assert!(
        app.stored_objects().await.is_empty(),
        "{:?}",
        app.stored_objects().await
    );

    // The Memory Hub: write an entry, find it by a word of it.
    click_tab(browser, "Memory").await?;
    wait_for_text(browser, ".empty", "Nothing here").await?;
    wait_for_hydration(browser).await?;
    click(browser, Locator::XPath("//button[text()='New entry']")).await?;
    fill(browser, "title", "Retry policy").await?;
    fill(
        browser,
        "content",
        "Payments are retried three times with exponential backoff.",
    )
    .await?;
    click(browser, Locator::Css(".card-form button[type=submit]")).await?;
    wait_for_text(browser, ".memory-list", "Retry policy").await?;
    fill(browser, "q", "retries").await?;
    browser
        .find(Locator::Id("q"))
        .await?
        .send_keys("\u{E007}")
        .await?;
    wait_for_text(browser, ".memory-list", "exponential backoff").await?;
    screenshot(browser, "memory-hub").await?;
    fill(browser, "q", "kubernetes").await?;
    browser
        .find(Locator::Id("q"))
        .await?
        .send_keys("\u{E007}")
        .await?;
    wait_for_text(browser, ".empty", "No entry matches").await?;

    // Supersede it from its card (each entry is an island): the list loads again without it, and
    // the superseded filter, an address like any search, finds it.
    click_tab(browser, "Memory").await?;
    wait_for_text(browser, ".memory-list", "Retry policy").await?;
    wait_for_hydration(browser).await?;
    click(
        browser,
        Locator::XPath("//li[contains(@class, 'memory-entry')]//button[text()='Supersede']"),
    )
    .await?;
    wait_for_text(browser, ".empty", "Nothing here").await?;
    wait_for_text(
        browser,
        "#notice",
        "Superseded Retry policy: it is listed under Superseded",
    )
    .await?;
    screenshot(browser, "memory-superseded-notice").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "memory-superseded-notice-phone").await?;
    browser.set_window_size(1280, 900).await?;
    browser
        .goto(&app.url(&format!("{project_path}/memory?status=superseded")))
        .await?;
    wait_for_text(browser, ".memory-list", "Retry policy").await?;
    wait_for_text(browser, ".memory-list .status-superseded", "superseded").await?;
    Ok(())
}

#[tokio::test]
async fn drop_images_on_a_note_reorder_caption_reload_remove_and_delete() {
    let _turn = ONE_JOURNEY_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let outcome = notes_journey(&browser, &app).await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(error) = outcome {
        panic!("notes journey failed: {error}");
    }
}

/// The team names the top bar's switcher offers.
async fn teams_offered(browser: &Client) -> Result<String, Box<dyn std::error::Error>> {
    Ok(browser
        .find(Locator::Css("select[name=tenant]"))
        .await?
        .text()
        .await?)
}

async fn mail_journey(owner: &Client, squatter: &Client, invitee: &Client, app: &TestApp) -> Step {
    use tests::mailbox;
    // The owner's team has a project.
    sign_up(owner, app, "ada@lighthouse.example", "Lighthouse").await?;
    click(owner, Locator::Css(".empty a.button")).await?;
    wait_for_path(owner, |p| p == "/projects/new").await?;
    wait_for_hydration(owner).await?;
    fill(owner, "name", "Beacon").await?;
    click(owner, Locator::Css("form button[type=submit]")).await?;
    wait_for_path(owner, |p| {
        p.starts_with("/projects/") && p != "/projects/new"
    })
    .await?;

    // Somebody registered dev@lighthouse.example before its owner did.
    sign_up(squatter, app, "dev@lighthouse.example", "Squat").await?;

    // The owner invites that address and a newcomer's; both invitations leave by e-mail.
    owner.goto(&app.url("/team")).await?;
    wait_for_hydration(owner).await?;
    for email in ["newcomer@lighthouse.example", "dev@lighthouse.example"] {
        fill(owner, "invite-email", email).await?;
        click(owner, Locator::Css(".inline-form button[type=submit]")).await?;
        // Mailed: the page loads again and lists it.
        wait_for_text(owner, ".success", "Invitation e-mailed").await?;
        wait_for_text(owner, "[aria-label='Pending invitations']", email).await?;
        wait_for_hydration(owner).await?;
    }
    screenshot(owner, "team-invitations").await?;

    // The newcomer follows the e-mailed link, signs up with the address fixed, and is in the team.
    let mails = mailbox::wait_for("newcomer@lighthouse.example", "/invite/", 1).await;
    let link = mails[mails.len() - 1]
        .link("/invite/")
        .ok_or("no link in the invitation")?;
    invitee.goto(&link).await?;
    wait_for_text(invitee, "h1", "Join Lighthouse").await?;
    wait_for_hydration(invitee).await?;
    let fixed = invitee
        .find(Locator::Id("invited-email"))
        .await?
        .prop("value")
        .await?;
    assert_eq!(fixed.as_deref(), Some("newcomer@lighthouse.example"));
    screenshot(invitee, "invitation-sign-up").await?;
    invitee.set_window_size(390, 844).await?;
    screenshot(invitee, "invitation-sign-up-phone").await?;
    invitee.set_window_size(1280, 900).await?;
    fill(invitee, "display_name", "Newt").await?;
    fill(invitee, "password", "correct horse battery").await?;
    click(invitee, Locator::Css("form button[type=submit]")).await?;
    wait_for_path(invitee, |p| p == "/projects").await?;
    wait_for_text(invitee, ".cards", "Beacon").await?;
    screenshot(invitee, "invitation-joined").await?;

    // The squatter, signed in with the invited address but without the link, joins nothing.
    squatter.goto(&app.url("/projects")).await?;
    wait_for_text(squatter, ".empty", "No projects yet").await?;
    let offered = teams_offered(squatter).await?;
    assert!(!offered.contains("Lighthouse"), "{offered}");

    // The address's owner takes the account back from their inbox: the squatter is signed out.
    let rightful = invitee;
    rightful.delete_all_cookies().await?;
    rightful.goto(&app.url("/forgot-password")).await?;
    wait_for_hydration(rightful).await?;
    fill(rightful, "email", "dev@lighthouse.example").await?;
    click(rightful, Locator::Css("form button[type=submit]")).await?;
    wait_for_text(rightful, ".success", "a link is on its way").await?;
    let reset = mailbox::wait_for("dev@lighthouse.example", "/reset-password/", 1).await;
    let reset_link = reset[reset.len() - 1]
        .link("/reset-password/")
        .ok_or("no reset link")?;
    rightful.goto(&reset_link).await?;
    wait_for_hydration(rightful).await?;
    fill(rightful, "password", "the rightful owner's passphrase").await?;
    click(rightful, Locator::Css("form button[type=submit]")).await?;
    wait_for_path(rightful, |p| p == "/projects").await?;
    squatter.refresh().await?;
    wait_for_path(squatter, |p| p == "/login").await?;

    // Now the owner of the address accepts the invitation from the e-mail and sees the project.
    let invitation = mailbox::wait_for("dev@lighthouse.example", "/invite/", 1).await;
    let link = invitation[invitation.len() - 1]
        .link("/invite/")
        .ok_or("no link")?;
    rightful.goto(&link).await?;
    wait_for_text(rightful, "h1", "Join Lighthouse").await?;
    wait_for_hydration(rightful).await?;
    screenshot(rightful, "invitation-accept").await?;
    click(rightful, Locator::Css(".auth button.primary")).await?;
    wait_for_path(rightful, |p| p == "/projects").await?;
    wait_for_text(rightful, ".cards", "Beacon").await?;
    // The account page shows the address verified (the reset link proved it) and the sessions.
    rightful.goto(&app.url("/account")).await?;
    wait_for_text(rightful, ".facts", "verified").await?;
    wait_for_text(rightful, "[aria-label='Sessions']", "this browser").await?;
    screenshot(rightful, "account").await?;
    rightful.set_window_size(390, 844).await?;
    screenshot(rightful, "account-phone").await?;
    rightful.set_window_size(1280, 900).await?;
    // The name changes in place, and the page says it saved.
    wait_for_hydration(rightful).await?;
    click(
        rightful,
        Locator::Css("button[aria-label='Change your name']"),
    )
    .await?;
    wait_for_js(rightful, "document.activeElement.id === 'display_name'").await?;
    fill(rightful, "display_name", "Grace Hopper").await?;
    click(rightful, Locator::XPath("//button[text()='Save name']")).await?;
    wait_for_text(rightful, "#notice", "Saved your name.").await?;
    // Nothing to undo there: the notice offers no Undo.
    wait_for_js(
        rightful,
        "getComputedStyle(document.querySelector('#notice .notice-undo')).display === 'none'",
    )
    .await?;
    wait_for_text(rightful, ".facts", "Grace Hopper").await?;
    // A new address: the link goes there, and the page says the old one is used until then.
    wait_for_hydration(rightful).await?;
    click(
        rightful,
        Locator::Css("button[aria-label='Change your e-mail address']"),
    )
    .await?;
    fill(rightful, "new_email", "grace@lighthouse.example").await?;
    fill(rightful, "password", "the rightful owner's passphrase").await?;
    click(rightful, Locator::XPath("//button[text()='Send the link']")).await?;
    wait_for_text(
        rightful,
        ".success",
        "Sent a link to grace@lighthouse.example. Your address changes when you follow it; until then you sign in with dev@lighthouse.example.",
    )
    .await?;
    screenshot(rightful, "account-email-change").await?;
    rightful.set_window_size(390, 844).await?;
    screenshot(rightful, "account-email-change-phone").await?;
    rightful.set_window_size(1280, 900).await?;
    let change = mailbox::wait_for("grace@lighthouse.example", "/verify-email/", 1).await;
    let link = change[0].link("/verify-email/").ok_or("no link")?;
    rightful.goto(&link).await?;
    wait_for_hydration(rightful).await?;
    click(rightful, Locator::XPath("//button[text()='Confirm']")).await?;
    wait_for_text(rightful, ".success", "Your address is verified.").await?;
    rightful.goto(&app.url("/account")).await?;
    wait_for_text(rightful, ".facts", "grace@lighthouse.example").await?;
    rightful.set_window_size(390, 844).await?;
    screenshot(rightful, "account-changed-phone").await?;
    Ok(())
}

#[tokio::test]
async fn an_invitation_arrives_by_mail_the_invitee_joins_and_a_squatter_cannot() {
    let _turn = ONE_JOURNEY_AT_A_TIME.lock().await;
    let app = tests::spawn_app_with_mail().await;
    let driver = Driver::start();
    let owner = driver.browser().await;
    let squatter = driver.browser().await;
    let invitee = driver.browser().await;
    let outcome = mail_journey(&owner, &squatter, &invitee, &app).await;
    let _ = owner.close().await;
    let _ = squatter.close().await;
    let _ = invitee.close().await;
    drop(driver);
    if let Err(error) = outcome {
        panic!("invitation journey failed: {error}");
    }
}

async fn sync_journey(
    browser: &Client,
    app: &TestApp,
    repo: &tests::github_double::GitRepo,
) -> Step {
    sign_up(browser, app, "ada@example.com", "Analytical Engines").await?;
    browser.goto(&app.url("/projects/new")).await?;
    wait_for_hydration(browser).await?;
    fill(browser, "name", "Widgets").await?;
    // An unknown repository: the error says what to do on this form, and goes once the field
    // changes.
    fill(browser, "github_repo", "acme/nothing-here").await?;
    click(
        browser,
        Locator::XPath("//button[text()='Choose a branch from GitHub']"),
    )
    .await?;
    wait_for_text(
        browser,
        "#github_repo-error",
        "check its spelling; for a private repository, type the branch, create the project",
    )
    .await?;
    screenshot(browser, "new-project-unknown-repo").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "new-project-unknown-repo-phone").await?;
    browser.set_window_size(1280, 900).await?;
    fill(browser, "github_repo", "acme/widgets").await?;
    wait_for_js(
        browser,
        "document.getElementById('github_repo-error').textContent === ''
         && document.getElementById('github_repo').getAttribute('aria-invalid') === 'false'",
    )
    .await?;
    // The help text shows code as code.
    wait_for_text(browser, "#sync_every_minutes-hint code", "cairn sync").await?;
    // The branch from the picker: listed from GitHub, narrowed by typing, chosen with a click.
    click(
        browser,
        Locator::XPath("//button[text()='Choose a branch from GitHub']"),
    )
    .await?;
    wait_for_text(browser, ".branch-choices", "release").await?;
    wait_for_js(browser, "document.activeElement.id === 'github_branch'").await?;
    fill(browser, "github_branch", "rel").await?;
    screenshot(browser, "branch-picker").await?;
    click(
        browser,
        Locator::Css(".branch-choices [data-branch='release']"),
    )
    .await?;
    wait_for_js(
        browser,
        "document.getElementById('github_branch').value === 'release'
         && document.activeElement.id === 'github_branch'
         && document.getElementById('branch-choices').hidden",
    )
    .await?;
    // The keyboard: ↓ opens the list with every branch again, ↓ moves, Enter chooses (and does
    // not send the form), Escape closes.
    press(browser, '\u{E015}').await?;
    wait_for_js(
        browser,
        "!document.getElementById('branch-choices').hidden
         && document.querySelectorAll('#branch-choices [role=option]').length === 2",
    )
    .await?;
    press(browser, '\u{E015}').await?;
    wait_for_js(
        browser,
        "document.getElementById('github_branch').getAttribute('aria-activedescendant') === 'branch-choice-0'",
    )
    .await?;
    screenshot(browser, "branch-picker-keyboard").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "branch-picker-keyboard-phone").await?;
    browser.set_window_size(1280, 900).await?;
    let first = browser
        .execute(
            "return document.getElementById('branch-choice-0').dataset.branch;",
            vec![],
        )
        .await?;
    press(browser, '\u{E007}').await?;
    wait_for_js(
        browser,
        &format!(
            "document.getElementById('github_branch').value === {first}
             && document.getElementById('branch-choices').hidden"
        ),
    )
    .await?;
    if browser.current_url().await?.path() != "/projects/new" {
        return Err("Enter on a branch sent the form".into());
    }
    press(browser, '\u{E015}').await?;
    wait_for_js(browser, "!document.getElementById('branch-choices').hidden").await?;
    press(browser, '\u{E00C}').await?;
    wait_for_js(browser, "document.getElementById('branch-choices').hidden").await?;
    fill(browser, "github_branch", "rel").await?;
    press(browser, '\u{E015}').await?;
    press(browser, '\u{E007}').await?;
    wait_for_js(
        browser,
        "document.getElementById('github_branch').value === 'release'",
    )
    .await?;
    // As wide as the project's Settings form.
    let width = browser
        .execute(
            "return document.querySelector('form.project-form').offsetWidth;",
            vec![],
        )
        .await?;
    click(browser, Locator::Css("form button[type=submit]")).await?;
    wait_for_path(browser, |p| {
        p.starts_with("/projects/") && p != "/projects/new"
    })
    .await?;
    click_tab(browser, "Settings").await?;
    wait_for_hydration(browser).await?;
    let settings_width = browser
        .execute(
            "return document.querySelector('form.project-form').offsetWidth;",
            vec![],
        )
        .await?;
    if settings_width != width {
        return Err(
            format!("the new project form is {width} wide, Settings {settings_width}").into(),
        );
    }
    click_tab(browser, "Sources").await?;
    wait_for_text(browser, ".empty", "No syncs yet").await?;
    wait_for_hydration(browser).await?;
    screenshot(browser, "sources-empty").await?;

    // Sync: the page comes back with the running sync's banner, which follows it live.
    click(browser, Locator::XPath("//button[text()='Sync now']")).await?;
    wait_for_text(browser, ".phases li.current", "Import").await?;
    wait_for_text(browser, ".sync-line", "files fetched").await?;
    wait_for_hydration(browser).await?;
    // The banner says what it syncs, and its history row says the same state and commit.
    let head = repo.run(&["rev-parse", "HEAD"]);
    wait_for_text(
        browser,
        ".sync-banner .sync-title",
        &format!("Sync of release at {}", &head[..7]),
    )
    .await?;
    wait_for_js(
        browser,
        &format!(
            "(() => {{ const row = document.querySelector('table.syncs tbody tr:first-child');
                return row.querySelector('.sync-status').textContent === 'running'
                  && document.querySelector('.sync-banner .badge').textContent === 'running'
                  && row.querySelector(\"td[data-label='Commit']\").textContent === '{}'
                  && row.querySelector(\"td[data-label='Files']\").textContent.startsWith('So far: +12 added')
                  && row.querySelector(\"td[data-label='Requests']\").textContent !== '0'; }})()",
            &head[..7]
        ),
    )
    .await?;
    screenshot(browser, "sync-running").await?;
    let before_reload = fetched(browser).await?;

    // A reload mid-sync: the banner picks up where the sync is, and keeps going.
    browser.refresh().await?;
    wait_for_hydration(browser).await?;
    wait_for_text(browser, ".phases li.current", "Import").await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while fetched(browser).await? <= before_reload {
        if Instant::now() > deadline {
            return Err("the banner did not move after the reload".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // At the end the page loads again and the history shows the sync.
    wait_for_text(browser, "table.syncs .status-completed", "completed").await?;
    wait_for_text(browser, "table.syncs", "+12 added").await?;
    screenshot(browser, "sync-history").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "sync-history-phone").await?;
    browser.set_window_size(1280, 900).await?;

    // Its files are in the Memory Hub.
    click_tab(browser, "Memory").await?;
    wait_for_text(browser, ".memory-list", "src/module_3.rs").await?;
    // A file opens as highlighted code.
    click(browser, Locator::LinkText("src/module_3.rs")).await?;
    wait_for_text(browser, "pre.hl-code", "pub fn f()").await?;
    wait_for_js(
        browser,
        "document.querySelectorAll('pre.hl-code span[class^=hl-]').length > 3",
    )
    .await?;
    // Line numbers link to their line (the address says it, to share), the file opens on GitHub
    // at the synced commit, and Copy copies it.
    wait_for_hydration(browser).await?;
    click(browser, Locator::Css(".gutter a[data-line='1']")).await?;
    wait_for_js(
        browser,
        "location.hash === '#L1' && !!document.querySelector('.line-mark')",
    )
    .await?;
    let on_github = browser
        .find(Locator::LinkText("Open on GitHub"))
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    if !on_github.contains("/acme/widgets/blob/") || !on_github.ends_with("/src/module_3.rs") {
        return Err(format!("the GitHub link is {on_github:?}").into());
    }
    click(browser, Locator::XPath("//button[text()='Copy']")).await?;
    wait_for_text(browser, ".file-tools", "Copied").await?;
    browser.refresh().await?;
    wait_for_hydration(browser).await?;
    wait_for_js(browser, "!!document.querySelector('.line-mark')").await?;
    screenshot(browser, "memory-file").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "memory-file-phone").await?;
    browser.set_window_size(1280, 900).await?;

    // A push changes one file; the next sync changes only that one.
    repo.write("src/module_3.rs", "pub fn three() -> u32 { 33 }\n");
    repo.commit("edit one");
    click_tab(browser, "Sources").await?;
    wait_for_hydration(browser).await?;
    click(browser, Locator::XPath("//button[text()='Sync now']")).await?;
    // Over, on the page loaded after it: while it runs, its row already says "So far: 1
    // changed, 11 unchanged", and the page before the press has a completed first row.
    wait_for_js(
        browser,
        "(() => { const row = document.querySelector('table.syncs tbody tr:first-child');
            return !!row && !!row.querySelector('.status-completed')
              && row.textContent.includes('1 changed, 11 unchanged')
              && !row.textContent.includes('So far'); })()",
    )
    .await?;
    // That sync's page lists the one path it changed, and the files it left out with why.
    click(browser, Locator::Css("table.syncs tbody tr:first-child a")).await?;
    wait_for_text(browser, "h2", "Sync of release at ").await?;
    wait_for_text(browser, ".path-list", "Changed (1)").await?;
    wait_for_text(browser, ".path-list", "src/module_3.rs").await?;
    wait_for_text(browser, ".skipped-list", "Skipped (2)").await?;
    wait_for_text(browser, ".skipped-list", "Cargo.lock — a lock file").await?;
    wait_for_text(browser, ".skipped-list", "logo.png — binary (.png)").await?;
    screenshot(browser, "sync-changes").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "sync-changes-phone").await?;
    browser.set_window_size(1280, 900).await?;
    // The changed path opens its diff: the line before and the line after, numbered.
    click(browser, Locator::LinkText("src/module_3.rs")).await?;
    wait_for_text(browser, ".diff .diff-line.del", "pub fn f() -> u32 { 3 }").await?;
    wait_for_text(
        browser,
        ".diff .diff-line.add",
        "pub fn three() -> u32 { 33 }",
    )
    .await?;
    wait_for_text(browser, ".change-summary", "Changed by this sync. +1 −1").await?;
    screenshot(browser, "sync-diff").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "sync-diff-phone").await?;
    browser.set_window_size(1280, 900).await?;
    click(browser, Locator::LinkText("The entry now")).await?;
    wait_for_text(browser, "pre.hl-code", "pub fn three()").await?;
    browser.back().await?;
    click(browser, Locator::LinkText("← This sync")).await?;
    wait_for_text(browser, ".path-list", "Changed (1)").await?;

    // The version that sync replaced is superseded; restoring it makes it the active one again
    // and supersedes the branch's version, which stays after a reload.
    let project_path = browser.current_url().await?.path().to_owned();
    let project_path = project_path
        .split("/sources")
        .next()
        .unwrap_or_default()
        .to_owned();
    browser
        .goto(&app.url(&format!(
            "{project_path}/memory?status=superseded&kind=file&q=pub"
        )))
        .await?;
    wait_for_hydration(browser).await?;
    let card = |path: &str| {
        format!("//li[contains(@class,'memory-entry')][.//p[normalize-space()='{path}']]")
    };
    let old_version = card("src/module_3.rs");
    wait_for_text(browser, ".memory-list", "pub fn f() -> u32 { 3 }").await?;
    click(
        browser,
        Locator::XPath(&format!("{old_version}//button[text()='Restore']")),
    )
    .await?;
    // Files searched for show why they matched (their text); the list loads again after the
    // restore: the branch's version is the superseded one now.
    wait_for_text(browser, ".memory-list", "pub fn three() -> u32 { 33 }").await?;
    screenshot(browser, "memory-restored-superseded").await?;
    browser
        .goto(&app.url(&format!(
            "{project_path}/memory?status=active&kind=file&q=pub"
        )))
        .await?;
    browser.refresh().await?;
    wait_for_hydration(browser).await?;
    let restored = browser
        .find(Locator::XPath(&format!(
            "{old_version}//p[contains(@class,'excerpt')]"
        )))
        .await?
        .text()
        .await?;
    if !restored.contains("pub fn f() -> u32 { 3 }") {
        return Err(format!("the restored version is not the active one: {restored:?}").into());
    }
    let active_paths = browser.find_all(Locator::XPath(&old_version)).await?.len();
    if active_paths != 1 {
        return Err(format!("{active_paths} active entries for src/module_3.rs").into());
    }
    screenshot(browser, "memory-restored").await?;
    // Superseding says where the entry went, with an Undo that brings it back.
    click(
        browser,
        Locator::XPath(&format!("{old_version}//button[text()='Supersede']")),
    )
    .await?;
    wait_for_text(browser, "#notice", "Superseded src/module_3.rs").await?;
    wait_for_js(
        browser,
        "!document.querySelector('#notice .notice-undo').hidden",
    )
    .await?;
    screenshot(browser, "memory-superseded-undo").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "memory-superseded-undo-phone").await?;
    browser.set_window_size(1280, 900).await?;
    click(browser, Locator::Css("#notice .notice-undo")).await?;
    wait_for_text(browser, "#notice", "Restored src/module_3.rs.").await?;
    wait_for_hydration(browser).await?;
    wait_for_text(browser, ".memory-list", "pub fn f() -> u32 { 3 }").await?;
    if browser.find_all(Locator::XPath(&old_version)).await?.len() != 1 {
        return Err("Undo did not bring the entry back to the active list".into());
    }
    // Not searched for, each file is one row: path, language, size, last change.
    browser
        .goto(&app.url(&format!("{project_path}/memory?status=active&kind=file")))
        .await?;
    wait_for_text(
        browser,
        "li.memory-entry.compact .entry-row",
        "src/module_3.rs",
    )
    .await?;
    wait_for_text(browser, "li.memory-entry.compact .size", "1 line").await?;
    if browser.source().await?.contains("pub fn f()") {
        return Err("a file's row carries its text".into());
    }
    screenshot(browser, "memory-list").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "memory-list-phone").await?;
    browser.set_window_size(1280, 900).await?;
    // The files as a tree: folders, then files in natural order (module_2 before module_10).
    click(browser, Locator::LinkText("Files")).await?;
    wait_for_text(browser, ".file-tree .tree-folder summary", "src/").await?;
    wait_for_text(browser, ".file-tree", "module_10.rs").await?;
    let order = browser
        .execute(
            "return [...document.querySelectorAll('.file-tree .tree-file a')].map(a => a.textContent);",
            vec![],
        )
        .await?;
    let order: Vec<String> = serde_json::from_value(order)?;
    let at = |name: &str| order.iter().position(|n| n == name);
    if at("module_2.rs").is_none() || at("module_2.rs") > at("module_10.rs") {
        return Err(format!("the tree lists {order:?}").into());
    }
    screenshot(browser, "memory-tree").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "memory-tree-phone").await?;
    browser.set_window_size(1280, 900).await?;
    click(browser, Locator::LinkText("module_3.rs")).await?;
    wait_for_text(browser, "pre.hl-code", "pub fn").await?;
    browser.back().await?;
    click(browser, Locator::LinkText("List")).await?;
    wait_for_js(browser, "!!document.querySelector('form.filters')").await?;
    // A filter applies as soon as it is chosen (no Search press).
    browser
        .execute(
            "const status = document.querySelector('form.filters select[name=status]');
             status.value = 'superseded';
             status.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![],
        )
        .await?;
    wait_for_js(browser, "location.search.includes('status=superseded')").await?;
    // "← Memory" goes back to the list as it was left: its filters and its search.
    browser
        .goto(&app.url(&format!(
            "{project_path}/memory?status=active&kind=file&q=pub"
        )))
        .await?;
    click(browser, Locator::LinkText("src/module_3.rs")).await?;
    wait_for_text(browser, "pre.hl-code", "pub fn").await?;
    click(browser, Locator::LinkText("← Memory")).await?;
    wait_for_text(browser, ".memory-list", "src/module_3.rs").await?;
    let back = browser.current_url().await?;
    if back.query() != Some("status=active&kind=file&q=pub") {
        return Err(format!("← Memory led to {back}").into());
    }

    // A sync cancelled while it imports (the restored module_3 and three edits to fetch): the
    // history says it changed nothing, and nothing did.
    repo.write("src/module_4.rs", "pub fn four() -> u32 { 44 }\n");
    repo.write("src/module_5.rs", "pub fn five() -> u32 { 55 }\n");
    repo.write("src/module_6.rs", "pub fn six() -> u32 { 66 }\n");
    repo.commit("edit three");
    browser
        .goto(&app.url(&format!("{project_path}/sources")))
        .await?;
    wait_for_hydration(browser).await?;
    click(browser, Locator::XPath("//button[text()='Sync now']")).await?;
    wait_for_text(browser, ".phases li.current", "Import").await?;
    wait_for_hydration(browser).await?;
    click(browser, Locator::XPath("//button[text()='Cancel sync']")).await?;
    wait_for_text(browser, "table.syncs tbody tr:first-child", "cancelled").await?;
    wait_for_text(
        browser,
        "table.syncs tbody tr:first-child",
        "Changed nothing (it had found 4 changed, 8 unchanged",
    )
    .await?;
    screenshot(browser, "sync-cancelled").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "sync-cancelled-phone").await?;
    browser.set_window_size(1280, 900).await?;
    browser
        .goto(&app.url(&format!(
            "{project_path}/memory?status=active&kind=file&q=pub"
        )))
        .await?;
    wait_for_text(browser, ".memory-list", "pub fn f() -> u32 { 4 }").await?;
    let page = browser.source().await?;
    if page.contains("pub fn four()") {
        return Err("a cancelled sync's file became active".into());
    }

    // The Jobs page lists it; trying it again runs a new sync, which brings the files in.
    click(browser, Locator::XPath("//nav//a[text()='Jobs']")).await?;
    wait_for_path(browser, |p| p == "/jobs").await?;
    wait_for_hydration(browser).await?;
    wait_for_text(browser, "table.jobs", "Sync of Widgets").await?;
    screenshot(browser, "jobs").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "jobs-phone").await?;
    browser.set_window_size(1280, 900).await?;
    let rows = browser
        .find_all(Locator::Css("table.jobs tbody tr"))
        .await?
        .len();
    click(
        browser,
        Locator::XPath(
            "//tr[.//span[contains(@class,'status-cancelled')]]//button[text()='Try again']",
        ),
    )
    .await?;
    // The page loads again by itself once the new sync is queued (reloading sooner would cut the
    // request off).
    wait_for_js(
        browser,
        &format!("document.querySelectorAll('table.jobs tbody tr').length > {rows}"),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        browser.refresh().await?;
        let newest = browser
            .find(Locator::Css("table.jobs tbody tr:first-child"))
            .await?
            .text()
            .await?;
        if newest.contains("completed") {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the retried sync did not complete: {newest}").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    browser
        .goto(&app.url(&format!(
            "{project_path}/memory?status=active&kind=file&q=pub"
        )))
        .await?;
    wait_for_text(browser, ".memory-list", "pub fn four() -> u32 { 44 }").await?;
    Ok(())
}

/// How many files the banner says were fetched.
async fn fetched(browser: &Client) -> Result<u64, Box<dyn std::error::Error>> {
    let text = browser
        .find(Locator::Css(".sync-line"))
        .await?
        .text()
        .await?;
    Ok(text
        .split(" / ")
        .next()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0))
}

#[tokio::test]
async fn sync_a_repository_watch_it_reload_mid_sync_and_find_its_files() {
    use tests::github_double::{GitHubDouble, GitRepo};
    let _turn = ONE_JOURNEY_AT_A_TIME.lock().await;
    let github = GitHubDouble::start().await;
    let repo = GitRepo::new();
    for n in 0..12 {
        repo.write(
            &format!("src/module_{n}.rs"),
            format!("pub fn f() -> u32 {{ {n} }}\n"),
        );
    }
    // Two files a sync leaves out, each for its own reason.
    repo.write("Cargo.lock", "# generated\n");
    repo.write("logo.png", [0x89, b'P', b'N', b'G', 0, 0, 0, 13]);
    repo.commit("twelve modules");
    repo.run(&["checkout", "-q", "-b", "release"]);
    github.serve("acme/widgets", repo.path());
    // One blob at a time, each answered slowly: the sync takes about ten seconds to watch (the
    // journey checks the banner, its history row, both themes' accessibility and a reload while
    // it runs; on a busy machine five seconds were not always enough).
    github.slow_blobs(Duration::from_millis(800));
    let api_url = github.api_url();
    let app = tests::spawn_app_on(tests::TestDb::migrated().await, move |settings| {
        settings.github.api_url = api_url;
        settings.github.fetch_concurrency = 1;
    })
    .await
    .unwrap();
    let driver = Driver::start();
    let browser = driver.browser().await;
    let outcome = sync_journey(&browser, &app, &repo).await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(error) = outcome {
        panic!("sync journey failed: {error}");
    }
}

/// Calls a server function from the page (same origin, the page's session), answering its JSON.
async fn rpc_in_page(
    browser: &Client,
    name: &str,
    args: serde_json::Value,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let answer = browser
        .execute_async(
            "const [name, args, done] = arguments;
             fetch('/api/v1/' + name, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(args)})
                 .then(r => r.json()).then(done, e => done({error: String(e)}));",
            vec![json!(name), args],
        )
        .await?;
    Ok(answer)
}

async fn ai_journey(
    browser: &Client,
    app: &TestApp,
    double: &tests::llm_double::LlmDouble,
) -> Step {
    use tests::llm_double::Reply;
    sign_up(browser, app, "ada@example.com", "Analytical Engines").await?;
    // The AI page says how to start.
    click(browser, Locator::LinkText("AI")).await?;
    wait_for_path(browser, |p| p == "/ai").await?;
    wait_for_text(browser, "#no-providers", "No AI provider yet").await?;
    wait_for_hydration(browser).await?;
    screenshot(browser, "ai-empty").await?;

    // A mistake is answered by the server, next to its field.
    fill(browser, "name", "Bad Name!").await?;
    fill(browser, "models", "gpt-4o-mini").await?;
    click(browser, Locator::Css(".provider-form button[type=submit]")).await?;
    wait_for_text(browser, "#name-error", "letters, digits").await?;

    // Two providers, pointing at the local OpenAI-compatible server.
    for (name, kind, model) in [
        ("anthropic", "anthropic", "claude-sonnet-4-20250514"),
        ("gemini", "gemini", "gemini-2.5-flash"),
    ] {
        fill(browser, "name", name).await?;
        browser
            .find(Locator::Id("kind"))
            .await?
            .select_by_value(kind)
            .await?;
        fill(browser, "base_url", &double.base_url(name)).await?;
        fill(browser, "api_key", "sk-test-key-0123456789abcdef").await?;
        fill(browser, "models", model).await?;
        click(browser, Locator::Css(".provider-form button[type=submit]")).await?;
        wait_for_text(browser, ".providers", name).await?;
        // The page says it saved, at the top of the window.
        wait_for_text(browser, "#notice", &format!("Added the provider {name}.")).await?;
        wait_for_hydration(browser).await?;
    }
    // Test connection.
    click(
        browser,
        Locator::XPath("//li[@data-provider='anthropic']//button[text()='Test connection']"),
    )
    .await?;
    wait_for_text(
        browser,
        "li[data-provider='anthropic'] .success",
        "Connected",
    )
    .await?;
    // The chain, built with the model picker: Gemini first, then Anthropic... then reordered.
    for step in [
        "gemini/gemini-2.5-flash",
        "anthropic/claude-sonnet-4-20250514",
    ] {
        browser
            .find(Locator::Id("add-model"))
            .await?
            .select_by_value(step)
            .await?;
    }
    wait_for_text(browser, ".chain", "anthropic/claude-sonnet-4-20250514").await?;
    click(
        browser,
        Locator::Css(".chain li:first-child button[aria-label='Move down']"),
    )
    .await?;
    wait_for_js(
        browser,
        "document.querySelector('.chain li:first-child .mono').textContent.startsWith('anthropic/')",
    )
    .await?;
    fill(browser, "monthly_budget_usd", "25").await?;
    screenshot(browser, "ai-providers").await?;
    click(browser, Locator::Css(".chain-form button[type=submit]")).await?;
    wait_for_text(browser, ".chain-form", "of $25.00").await?;
    // The save says so, at the form, which the page opens at.
    wait_for_text(
        browser,
        ".chain-form [role=status]",
        "Saved the chain and budget.",
    )
    .await?;
    wait_for_js(
        browser,
        "(() => { const r = document.querySelector('.chain-form [role=status]').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })()",
    )
    .await?;
    screenshot(browser, "ai-chain-saved").await?;
    browser.set_window_size(390, 844).await?;
    browser
        .execute("document.querySelector('.chain-form [role=status]').scrollIntoView({block: 'center'});", vec![])
        .await?;
    screenshot(browser, "ai-chain-saved-phone").await?;
    browser.set_window_size(1280, 900).await?;
    wait_for_text(
        browser,
        ".chain li:first-child",
        "anthropic/claude-sonnet-4-20250514",
    )
    .await?;

    // A note with two images.
    let project = rpc_in_page(
        browser,
        "create_project",
        json!({"form": {"name": "Widgets", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
    )
    .await?;
    let note = rpc_in_page(
        browser,
        "create_note",
        json!({"project_id": project["id"], "form": {"title": "Deploy failure", "body": "The deploy fails at the migration step; screenshots attached."}}),
    )
    .await?;
    let note_id = note["id"].as_str().ok_or("no note id")?.to_owned();
    for rgb in [[220, 40, 40], [40, 40, 220]] {
        let png = tests::images::png(32, 24, rgb);
        let uploaded = browser
            .execute_async(
                "const [id, bytes, done] = arguments;
                 fetch('/api/v1/notes/' + id + '/images', {method: 'POST', body: new Uint8Array(bytes)})
                     .then(r => done(r.status), e => done(String(e)));",
                vec![json!(note_id), json!(png)],
            )
            .await?;
        if uploaded != json!(201) {
            return Err(format!("upload: {uploaded}").into());
        }
    }

    // Ask: Anthropic is out of credit, Gemini answers, slowly enough to watch it stream.
    double.reply("anthropic", Reply::anthropic_out_of_credit());
    double.reply(
        "gemini",
        Reply::SlowText(
            "The migration step fails because the screenshots show a **lock timeout** on the users table."
                .into(),
            Duration::from_millis(150),
        ),
    );
    browser
        .goto(&app.url(&format!(
            "/projects/{}/notes/{note_id}",
            project["id"].as_str().unwrap_or_default()
        )))
        .await?;
    wait_for_hydration(browser).await?;
    // Ctrl+Enter sends; the question shows at once, then the model being asked and why.
    fill(browser, "question", "Why does the deploy fail?").await?;
    browser
        .find(Locator::Id("question"))
        .await?
        .send_keys("\u{E009}\u{E007}")
        .await?;
    wait_for_text(
        browser,
        ".answer.streaming .question",
        "Why does the deploy fail?",
    )
    .await?;
    wait_for_text(
        browser,
        ".answer.streaming .trying",
        "Anthropic: out of credit — trying Gemini gemini-2.5-flash…",
    )
    .await?;
    wait_for_text(browser, ".answer.streaming .answer-text", "migration step").await?;
    let partial = browser
        .find(Locator::Css(".answer.streaming .answer-text"))
        .await?
        .text()
        .await?;
    if partial.contains("users table") {
        return Err(format!("the answer did not stream: {partial:?}").into());
    }
    screenshot(browser, "ai-streaming").await?;
    wait_for_text(
        browser,
        ".answers .answer .trail",
        "Anthropic: out of credit → Gemini: answered",
    )
    .await?;
    wait_for_text(
        browser,
        ".answers .answer .answer-text",
        "lock timeout on the users table",
    )
    .await?;
    // Rendered as Markdown, by the server.
    wait_for_text(browser, ".answers .answer .markdown strong", "lock timeout").await?;
    // Both images went to the vision model.
    let images_sent = double
        .seen()
        .iter()
        .filter(|s| s.provider == "gemini")
        .map(|s| {
            s.body["messages"][1]["content"]
                .as_array()
                .map_or(0, |parts| {
                    parts.iter().filter(|p| p["type"] == "image_url").count()
                })
        })
        .max()
        .unwrap_or(0);
    if images_sent != 2 {
        return Err(format!("{images_sent} images sent").into());
    }
    // Stop: a model that would write forever is stopped; what it wrote stays on screen, and
    // the note keeps the answer as stopped.
    double.reply(
        "gemini",
        Reply::Endless("more ".into(), Duration::from_millis(100)),
    );
    fill(browser, "question", "And what else?").await?;
    click(browser, Locator::Css(".ask-form button[type=submit]")).await?;
    wait_for_text(browser, ".answer.streaming .answer-text", "more more").await?;
    screenshot(browser, "ai-asking-stop").await?;
    browser.set_window_size(390, 844).await?;
    browser
        .execute(
            "document.querySelector('.answer.streaming').scrollIntoView({block: 'center'});",
            vec![],
        )
        .await?;
    screenshot(browser, "ai-asking-stop-phone").await?;
    browser.set_window_size(1280, 900).await?;
    click(browser, Locator::Css(".answer.streaming button.stop")).await?;
    wait_for_text(browser, ".answers .answer:first-child .trail", "Stopped.").await?;
    wait_for_js(
        browser,
        "!document.querySelector('.answer.streaming') && !document.querySelector('.ask-form button[type=submit]').disabled",
    )
    .await?;
    // Kept on the note: a reload shows both with their trails, the stopped one as stopped.
    browser.refresh().await?;
    wait_for_text(
        browser,
        ".answers .answer:nth-child(2) .trail",
        "Anthropic: out of credit → Gemini: answered",
    )
    .await?;
    wait_for_text(
        browser,
        ".answers .answer:first-child .answer-text",
        "stopped by the asker",
    )
    .await?;
    browser
        .execute("document.querySelector('.ask').scrollIntoView({block: 'start'}); window.scrollBy(0, -70);", vec![])
        .await?;
    screenshot(browser, "ai-answer").await?;
    browser.set_window_size(390, 844).await?;
    browser
        .execute("document.querySelector('.answers').scrollIntoView({block: 'start'}); window.scrollBy(0, -120);", vec![])
        .await?;
    screenshot(browser, "ai-answer-phone").await?;
    browser.set_window_size(1280, 900).await?;
    // The AI page shows Anthropic out of credit.
    browser.goto(&app.url("/ai")).await?;
    wait_for_text(
        browser,
        "li[data-provider='anthropic']",
        "out of credit since",
    )
    .await?;
    screenshot(browser, "ai-out-of-credit").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "ai-out-of-credit-phone").await?;
    Ok(())
}

#[tokio::test]
async fn add_providers_test_one_ask_about_a_note_with_two_images_and_watch_it_fail_over() {
    let _turn = ONE_JOURNEY_AT_A_TIME.lock().await;
    let double = tests::llm_double::LlmDouble::start().await;
    let app = spawn_app().await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let outcome = ai_journey(&browser, &app, &double).await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(error) = outcome {
        panic!("AI journey failed: {error}");
    }
}

async fn instance_ai_journey(browser: &Client, app: &TestApp) -> Step {
    sign_up(browser, app, "ada@example.com", "Analytical Engines").await?;
    browser.goto(&app.url("/ai")).await?;
    wait_for_hydration(browser).await?;
    wait_for_text(
        browser,
        "#instance-ai-state",
        "These answer this team's questions",
    )
    .await?;
    wait_for_text(browser, "li[data-instance-provider=shared]", "ready").await?;
    wait_for_text(
        browser,
        "#replaces-instance",
        "replaces the server's providers",
    )
    .await?;
    screenshot(browser, "ai-instance-providers").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "ai-instance-providers-phone").await?;
    Ok(())
}

/// The server's own providers on the AI page, read-only, as a team without providers sees them.
#[tokio::test]
async fn a_team_without_providers_sees_the_servers_and_is_warned_before_replacing_them() {
    let _turn = ONE_JOURNEY_AT_A_TIME.lock().await;
    let double = tests::llm_double::LlmDouble::start().await;
    let shared = double.server_provider("shared", "anthropic", "claude-sonnet-4-20250514");
    let app = tests::spawn_app_on(tests::TestDb::migrated().await, move |settings| {
        settings.llm.providers = vec![shared];
        settings.llm.team_monthly_budget_usd = 5.0;
    })
    .await
    .expect("the app starts");
    let driver = Driver::start();
    let browser = driver.browser().await;
    let outcome = instance_ai_journey(&browser, &app).await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(error) = outcome {
        panic!("instance AI journey failed: {error}");
    }
}

async fn token_journey(browser: &Client, app: &TestApp) -> Step {
    sign_up(browser, app, "ada@example.com", "Analytical Engines").await?;
    browser.goto(&app.url("/account")).await?;
    wait_for_hydration(browser).await?;
    fill(browser, "name", "CI").await?;
    fill(browser, "expires_in_days", "30").await?;
    click(browser, Locator::Css("input[name=write]")).await?;
    click(browser, Locator::XPath("//button[text()='Make token']")).await?;
    wait_for_text(browser, ".token-secret", "cairn_").await?;
    screenshot(browser, "api-token-made").await?;
    let secret = browser
        .find(Locator::Css("code[data-secret]"))
        .await?
        .text()
        .await?;
    // As a script would use it.
    let http = reqwest::Client::new();
    let made = http
        .post(app.url("/api/v1/create_project"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({"form": {"name": "From a script", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}))
        .send()
        .await?;
    if made.status() != 200 {
        return Err(format!("the token could not create a project: {}", made.status()).into());
    }
    // The page lists it (never the token), used; revoking it ends it.
    browser.refresh().await?;
    wait_for_hydration(browser).await?;
    wait_for_text(browser, "ul[aria-label='API tokens']", "CI").await?;
    if browser.source().await?.contains(&secret) {
        return Err("the token is shown again".into());
    }
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "api-tokens-phone").await?;
    browser.set_window_size(1280, 900).await?;
    click(
        browser,
        Locator::XPath("//li[@data-token]//button[text()='Revoke']"),
    )
    .await?;
    wait_for_text(browser, "ul[aria-label='API tokens']", "revoked").await?;
    let refused = http
        .post(app.url("/api/v1/list_projects"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({}))
        .send()
        .await?;
    if refused.status() != 401 {
        return Err(format!("a revoked token answered {}", refused.status()).into());
    }
    browser.goto(&app.url("/projects")).await?;
    wait_for_text(browser, ".cards", "From a script").await?;
    Ok(())
}

#[tokio::test]
async fn make_an_api_token_use_it_from_a_script_and_revoke_it() {
    let _turn = ONE_JOURNEY_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let outcome = token_journey(&browser, &app).await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(error) = outcome {
        panic!("token journey failed: {error}");
    }
}

async fn workflow_journey(
    browser: &Client,
    app: &TestApp,
    double: &tests::llm_double::LlmDouble,
) -> Step {
    use crate::workflows::{Asked, asked, slow_plans};
    sign_up(browser, app, "ada@example.com", "Analytical Engines").await?;
    for (name, kind, model) in [
        ("anthropic", "anthropic", "claude-sonnet-4-20250514"),
        ("openai", "open_ai", "gpt-4o-mini"),
        ("gemini", "gemini", "gemini-2.5-flash"),
    ] {
        rpc_in_page(
            browser,
            "save_ai_provider",
            json!({"id": null, "form": {"name": name, "kind": kind, "base_url": double.base_url(name),
                   "api_key": "sk-test-0123456789abcdef", "models": model}}),
        )
        .await?;
    }
    // Plans take a moment each, so the run can be watched (and the page reloaded) mid-way.
    slow_plans(double, Duration::from_millis(700));
    let project = rpc_in_page(
        browser,
        "create_project",
        json!({"form": {"name": "Widgets", "description": "The widget shop", "github_repo": "", "github_branch": "", "github_path": ""}}),
    )
    .await?;
    let note = rpc_in_page(
        browser,
        "create_note",
        json!({"project_id": project["id"], "form": {"title": "Checkout redesign", "body": "The two screenshots show the new checkout."}}),
    )
    .await?;
    let note_id = note["id"].as_str().ok_or("a note id")?.to_owned();
    for (n, rgb) in [[200u8, 0, 0], [0, 0, 200]].into_iter().enumerate() {
        let png = tests::images::png(8, 8, rgb);
        let image = browser
            .execute_async(
                "const [note, bytes, done] = arguments;
                 fetch('/api/v1/notes/' + note + '/images', {method: 'POST', body: new Uint8Array(bytes)})
                     .then(r => r.json()).then(done, e => done({error: String(e)}));",
                vec![json!(note_id), json!(png)],
            )
            .await?;
        rpc_in_page(
            browser,
            "set_image_description",
            json!({"id": image["id"], "description": format!("screenshot {}", n + 1)}),
        )
        .await?;
    }

    let note_path = format!(
        "/projects/{}/notes/{note_id}",
        project["id"].as_str().unwrap_or_default()
    );
    browser.goto(&app.url(&note_path)).await?;
    wait_for_text(browser, ".workflows h2", "Workflows").await?;
    wait_for_hydration(browser).await?;
    screenshot(browser, "workflow-note").await?;
    // Runs above $0.01 want a confirmation: the page asks, and starts the run once accepted.
    rpc_in_page(
        browser,
        "set_ai_settings",
        json!({"form": {"chain": "", "fall_over_on_refusal": false, "monthly_budget_usd": "",
                        "run_confirm_above_usd": "0.01"}}),
    )
    .await?;
    click(
        browser,
        Locator::XPath("//button[normalize-space()='Run workflow']"),
    )
    .await?;
    // The app's own confirmation dialog (not the browser's): the cost, and Cancel focused.
    wait_for_text(
        browser,
        "#confirm .confirm-text",
        "Confirm to start: this run may cost up to $",
    )
    .await?;
    let focused = browser
        .execute("return document.activeElement.textContent", vec![])
        .await?;
    if focused.as_str() != Some("Cancel") {
        return Err(format!("the confirmation focused {focused:?}, not Cancel").into());
    }
    screenshot(browser, "confirm-dialog").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "confirm-dialog-phone").await?;
    browser.set_window_size(1280, 900).await?;
    click(browser, Locator::Css("#confirm .confirm-yes")).await?;
    wait_for_path(browser, |p| p.contains("/runs/")).await?;
    // Mid-run: some plans stored, and a reload shows the same run carrying on.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let shown = match browser
            .find(Locator::Css("li[data-step='plans'] .traced"))
            .await
        {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let done: Option<u32> = shown
            .strip_suffix(" / 13 planned")
            .and_then(|n| n.parse().ok());
        if done.is_some_and(|done| (1..13).contains(&done)) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("never saw the plans part-way: {shown:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_text(browser, "li[data-step='plans'] .badge", "running").await?;
    // A plan under way shows which model is answering it.
    wait_for_text(browser, "li[data-step='plans'] .preview", " · Answering: ").await?;
    screenshot(browser, "workflow-running").await?;
    browser.refresh().await?;
    wait_for_text(browser, "h2", "Image to implementation").await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(heading) = browser.find(Locator::Css("h2")).await
            && let Ok(text) = heading.text().await
            && text.contains("completed")
        {
            break;
        }
        if Instant::now() > deadline {
            return Err("the run page never showed the run completed".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_for_text(browser, "#traced", "13 / 13 action points planned").await?;
    wait_for_text(browser, "li[data-step='final_prompt'] .badge", "done").await?;
    wait_for_hydration(browser).await?;
    screenshot(browser, "workflow-done").await?;
    // The report downloads as Markdown, with every action point traced.
    let report = browser
        .execute_async(
            "const [done] = arguments;
             const link = document.querySelector('a[download]');
             fetch(link.href).then(r => r.text()).then(done, e => done(String(e)));",
            vec![],
        )
        .await?;
    let report = report.as_str().unwrap_or_default();
    if !report.contains("Traceability: 13 / 13 items planned.") || !report.contains("```mermaid") {
        return Err(format!("the downloaded report: {report}").into());
    }
    // The screenshots went with the first step.
    let first = double
        .seen()
        .into_iter()
        .find(|s| asked(&s.body) == Asked::ActionPoints)
        .ok_or("no action points request")?;
    if first.body["messages"]
        .to_string()
        .matches("data:image/png;base64,")
        .count()
        != 2
    {
        return Err("the first step did not carry the two screenshots".into());
    }
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "workflow-done-phone").await?;
    // The review's findings are listed on the project's overview.
    browser.set_window_size(1280, 900).await?;
    browser
        .goto(&app.url(&format!(
            "/projects/{}",
            project["id"].as_str().unwrap_or_default()
        )))
        .await?;
    wait_for_text(browser, ".insights", "AP-3 and AP-9 conflict").await?;
    wait_for_text(browser, ".insights", "conflict · high").await?;
    wait_for_text(browser, ".runs", "13 / 13 planned").await?;
    screenshot(browser, "workflow-insights").await?;

    // Templates are edited step by step, checked as they are typed: an unknown reference, a step
    // moved above the step it needs and an empty new step are each named and keep Save off;
    // fixed (a reference put in with its button, the step moved back, the new step removed), the
    // template saves as a new template's first version, which a reload shows.
    click(browser, Locator::LinkText("Workflows")).await?;
    wait_for_path(browser, |p| p == "/workflows").await?;
    wait_for_hydration(browser).await?;
    let builtin = "details[data-template='Image to implementation']";
    click(browser, Locator::Css(&format!("{builtin} summary"))).await?;
    let set = |selector: &str, value: &str| {
        format!(
            "const f = document.querySelector({selector:?});
             f.value = {value:?};
             f.focus();
             f.setSelectionRange(f.value.length, f.value.length);
             f.dispatchEvent(new Event('input', {{bubbles: true}}));"
        )
    };
    let check = format!("{builtin} .check");
    let save_disabled = async || -> Result<bool, Box<dyn std::error::Error>> {
        let save = browser
            .find(Locator::Css(&format!(
                "{builtin} button[name=save-template]"
            )))
            .await?;
        Ok(save.attr("disabled").await?.is_some())
    };
    browser
        .execute(
            &set(
                &format!("{builtin} input[name=template-name]"),
                "Screens to plans",
            ),
            vec![],
        )
        .await?;
    let review_prompt = format!("{builtin} li.step-card:nth-child(3) textarea[name=step-prompt]");
    browser
        .execute(
            &set(&review_prompt, "Review {{note.author}} and the plans:\n\n"),
            vec![],
        )
        .await?;
    wait_for_text(
        browser,
        &check,
        "Step 3 (Synthesis review), prompt: {{note.author}} is not a reference",
    )
    .await?;
    // Said in the step itself too, where the user is typing.
    wait_for_text(
        browser,
        &format!("{builtin} li.step-card:nth-child(3) .step-error"),
        "prompt: {{note.author}} is not a reference",
    )
    .await?;
    if !save_disabled().await? {
        return Err("Save stayed on with an unknown reference".into());
    }
    screenshot(browser, "workflow-template-error").await?;
    browser
        .execute(&set(&review_prompt, "Review these plans:\n\n"), vec![])
        .await?;
    click(
        browser,
        Locator::XPath(
            "//details[@data-template='Image to implementation']//li[contains(@class,'step-card')][3]\
             //button[normalize-space()='{{steps.plans.output}}']",
        ),
    )
    .await?;
    wait_for_text(browser, &check, "Checked: ready to save").await?;
    let prompt = browser
        .execute(
            &format!("return document.querySelector({review_prompt:?}).value;"),
            vec![],
        )
        .await?;
    if prompt.as_str() != Some("Review these plans:\n\n{{steps.plans.output}}") {
        return Err(format!("the reference went elsewhere: {prompt}").into());
    }
    // The final prompt moved above the review it reads: named; moved back: fine.
    click(
        browser,
        Locator::Css(&format!("{builtin} button[aria-label='Move step 4 up']")),
    )
    .await?;
    wait_for_text(
        browser,
        &check,
        "Step 3 (Final implementation prompt), prompt: {{steps.review.output}} is not an earlier step's output",
    )
    .await?;
    click(
        browser,
        Locator::Css(&format!("{builtin} button[aria-label='Move step 3 down']")),
    )
    .await?;

    wait_for_text(browser, &check, "Checked: ready to save").await?;
    click(
        browser,
        Locator::Css(&format!("{builtin} button[name=add-step]")),
    )
    .await?;
    wait_for_text(browser, &check, "Step 5 (Step 5), prompt").await?;
    screenshot(browser, "workflow-template-editor").await?;
    click(
        browser,
        Locator::Css(&format!("{builtin} button[aria-label='Remove step 5']")),
    )
    .await?;
    wait_for_text(browser, &check, "Checked: ready to save").await?;
    click(
        browser,
        Locator::Css(&format!("{builtin} button[name=save-template]")),
    )
    .await?;
    wait_for_text(
        browser,
        &format!("{builtin} [role=status]"),
        "Saved Screens to plans as version 1.",
    )
    .await?;
    browser.refresh().await?;
    wait_for_hydration(browser).await?;
    let saved = "details[data-template='Screens to plans']";
    wait_for_text(
        browser,
        &format!("{saved} summary"),
        "Screens to plans (version 1)",
    )
    .await?;
    let stored = rpc_in_page(
        browser,
        "export_workflow_template",
        json!({"name": "Screens to plans"}),
    )
    .await?;
    if !stored
        .as_str()
        .unwrap_or_default()
        .contains("Review these plans:")
    {
        return Err(format!("the saved template: {stored}").into());
    }
    // A JSON file pasted into the new template's file box is imported.
    let file = json!({"name": "Bug triage", "steps": [{"key": "triage", "name": "Triage",
        "prompt": "Triage {{note.title}}", "output": {"kind": "text"}, "max_tokens": 500}]});
    let fresh = "details[data-template='']";
    click(
        browser,
        Locator::Css(&format!("{fresh} .template-file summary")),
    )
    .await?;
    browser
        .execute(
            &set(
                &format!("{fresh} textarea[name=template-file]"),
                &file.to_string(),
            ),
            vec![],
        )
        .await?;
    click(
        browser,
        Locator::Css(&format!("{fresh} button[name=import-template]")),
    )
    .await?;
    wait_for_text(
        browser,
        &format!("{fresh} [role=status]"),
        "Saved Bug triage as version 1.",
    )
    .await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "workflow-templates-phone").await?;
    browser.set_window_size(1280, 900).await?;
    Ok(())
}

#[tokio::test]
async fn run_image_to_implementation_on_a_note_with_two_screenshots_reload_mid_run_and_get_the_report()
 {
    let _turn = ONE_JOURNEY_AT_A_TIME.lock().await;
    let double = tests::llm_double::LlmDouble::start().await;
    let app = spawn_app().await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let outcome = workflow_journey(&browser, &app, &double).await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(error) = outcome {
        panic!("workflow journey failed: {error}");
    }
}

/// Picks `value` (`provider/model`) in the AI page's embedding model picker and presses "Use for
/// search".
async fn choose_embedding_model(browser: &Client, value: &str) -> Step {
    browser
        .execute(
            "const s = document.querySelector('#embedding-model');
             s.value = arguments[0];
             s.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![json!(value)],
        )
        .await?;
    click(browser, Locator::Css("button[name=choose-embedding]")).await
}

async fn search_journey(
    browser: &Client,
    app: &TestApp,
    double: &tests::llm_double::LlmDouble,
) -> Step {
    sign_up(browser, app, "ada@example.com", "Analytical Engines").await?;
    let project = rpc_in_page(
        browser,
        "create_project",
        json!({"form": {"name": "Widgets", "description": "", "github_repo": "", "github_branch": "", "github_path": ""}}),
    )
    .await?;
    rpc_in_page(
        browser,
        "create_memory_entry",
        json!({"project_id": project["id"], "form": {"title": "Deploys", "content": "We deploy with the blue-green script every Tuesday."}}),
    )
    .await?;
    rpc_in_page(
        browser,
        "create_note",
        json!({"project_id": project["id"], "form": {"title": "Release checklist", "body": "Run the blue-green switch, then watch the error rate."}}),
    )
    .await?;
    // The AI page: a provider answering questions, another serving an embedding model, chosen
    // for search.
    double.respond_with("chat", |_| {
        Some(tests::llm_double::Reply::Text(
            "Deploy with the blue-green script [1].".into(),
        ))
    });
    rpc_in_page(
        browser,
        "save_ai_provider",
        json!({"id": null, "form": {"name": "chat", "kind": "open_ai", "base_url": double.base_url("chat"),
               "api_key": "sk-test-0123456789abcdef", "models": "gpt-4o-mini"}}),
    )
    .await?;
    rpc_in_page(
        browser,
        "save_ai_provider",
        json!({"id": null, "form": {"name": "openai", "kind": "open_ai", "base_url": double.base_url("openai"),
               "api_key": "sk-test-0123456789abcdef", "models": "text-embedding-3-small"}}),
    )
    .await?;
    browser.goto(&app.url("/ai")).await?;
    wait_for_hydration(browser).await?;
    wait_for_text(browser, "#no-space", "search ranks by words only").await?;
    choose_embedding_model(browser, "openai/text-embedding-3-small").await?;
    wait_for_text(
        browser,
        "[role=status]",
        "openai/text-embedding-3-small chosen (8 dimensions)",
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let spaces = rpc_in_page(browser, "list_embedding_spaces", json!({})).await?;
        if spaces[0]["status"] == "active" {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the space never became active: {spaces}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser.refresh().await?;
    wait_for_text(
        browser,
        ".spaces li[data-status=active]",
        "2 of 2 chunks embedded",
    )
    .await?;
    screenshot(browser, "search-ai-page").await?;

    // "?" lists the shortcuts; Escape closes the list.
    tests::chromium::press(browser, '?').await?;
    wait_for_js(browser, "document.getElementById('shortcuts').open").await?;
    screenshot(browser, "shortcuts").await?;
    browser.set_window_size(390, 844).await?;
    screenshot(browser, "shortcuts-phone").await?;
    browser.set_window_size(1280, 900).await?;
    tests::chromium::press(browser, '\u{E00C}').await?;
    wait_for_js(browser, "!document.getElementById('shortcuts').open").await?;
    // "/" focuses the top bar's box: the results page, rendered by the server, words marked.
    tests::chromium::press(browser, '/').await?;
    wait_for_js(browser, "document.activeElement.id === 'top-search'").await?;
    let top = browser.active_element().await?;
    top.send_keys("blue-green\u{E007}").await?;
    wait_for_path(browser, |p| p == "/search").await?;
    wait_for_text(
        browser,
        "#search-summary",
        "2 matches · by words and meaning",
    )
    .await?;
    wait_for_text(browser, ".hit mark", "blue").await?;
    wait_for_hydration(browser).await?;
    screenshot(browser, "search-results").await?;
    // Projects are found by name.
    fill(browser, "search-text", "widg").await?;
    wait_for_text(browser, ".project-hits a", "Widgets").await?;
    fill(browser, "search-text", "blue-green").await?;
    wait_for_text(
        browser,
        "#search-summary",
        "2 matches · by words and meaning",
    )
    .await?;
    // A filter applies at once: notes only.
    click(browser, Locator::Css("input[name=kind][value=note]")).await?;
    wait_for_text(browser, "#search-summary", "1 match").await?;
    wait_for_text(browser, ".hit .hit-title", "Release checklist").await?;
    click(browser, Locator::Css(".hit .hit-title")).await?;
    wait_for_path(browser, |p| p.contains("/notes/")).await?;
    wait_for_text(browser, ".note-title", "Release checklist").await?;
    // Asking about the note sends the project's knowledge with the question, numbered, and the
    // answer shows what was sent; a reload shows it kept.
    wait_for_hydration(browser).await?;
    browser
        .find(Locator::Css("#question"))
        .await?
        .send_keys("How do we deploy?")
        .await?;
    click(browser, Locator::Css(".ask-form button[type=submit]")).await?;
    wait_for_text(browser, ".answer .sources", "[1] Deploys").await?;
    // The answer's citation links to the source.
    let cite = browser
        .find(Locator::Css(".answer .answer-text a.cite"))
        .await?;
    let href = cite.attr("href").await?.unwrap_or_default();
    if cite.text().await? != "[1]" || !href.contains("/memory/") {
        return Err(format!("the citation links to {href:?}").into());
    }
    screenshot(browser, "ask-sources").await?;
    browser.refresh().await?;
    wait_for_text(browser, ".answer .sources", "[1] Deploys").await?;
    browser.back().await?;
    browser.set_window_size(390, 844).await?;
    wait_for_text(browser, "#search-summary", "match").await?;
    screenshot(browser, "search-results-phone").await?;
    browser.set_window_size(1280, 900).await?;

    // The Memory tab ranks the project's knowledge in place, by words and meaning.
    browser
        .goto(&app.url(&format!(
            "/projects/{}/memory",
            project["id"].as_str().unwrap_or_default()
        )))
        .await?;
    browser
        .find(Locator::Css("#q"))
        .await?
        .send_keys("weekly deployment")
        .await?;
    browser
        .execute(
            "document.querySelector('#memory-by').value = 'both';",
            vec![],
        )
        .await?;
    click(browser, Locator::Css("form.filters button[type=submit]")).await?;
    wait_for_path(browser, |p| p.contains("/memory")).await?;
    wait_for_text(browser, "#search-summary", "by words and meaning").await?;
    wait_for_text(browser, ".hit .hit-title", "Deploys").await?;
    screenshot(browser, "memory-tab-by-meaning").await?;

    // Another embedding model, whose backfill is slow: the AI page follows its bar live while
    // search keeps answering from the current model, and shows the switch without a reload.
    rpc_in_page(
        browser,
        "save_ai_provider",
        json!({"id": null, "form": {"name": "big", "kind": "open_ai", "base_url": double.base_url("big"),
               "api_key": "sk-test-0123456789abcdef", "models": "embed-16"}}),
    )
    .await?;
    double.reply("big", tests::llm_double::Reply::Text(String::new()));
    double.reply(
        "big",
        tests::llm_double::Reply::Hang(Duration::from_secs(5)),
    );
    browser.goto(&app.url("/ai")).await?;
    wait_for_hydration(browser).await?;
    choose_embedding_model(browser, "big/embed-16").await?;
    wait_for_text(
        browser,
        ".spaces li[data-status=building] .backfill-line",
        "to go",
    )
    .await?;
    screenshot(browser, "embedding-backfill").await?;
    let meanwhile = rpc_in_page(
        browser,
        "search_knowledge",
        json!({"query": {"text": "blue-green"}}),
    )
    .await?;
    if meanwhile["mode"] != "hybrid" || meanwhile["hits"].as_array().is_none_or(Vec::is_empty) {
        return Err(format!("search while the new model builds: {meanwhile}").into());
    }
    wait_for_text(browser, ".spaces li[data-status=active]", "big/embed-16").await?;
    wait_for_text(
        browser,
        ".spaces li[data-status=retired]",
        "openai/text-embedding-3-small",
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn search_from_the_top_bar_by_words_and_meaning_and_narrow_it_by_kind() {
    let _turn = ONE_JOURNEY_AT_A_TIME.lock().await;
    let double = tests::llm_double::LlmDouble::start().await;
    let app = spawn_app().await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let outcome = search_journey(&browser, &app, &double).await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(error) = outcome {
        panic!("search journey failed: {error}");
    }
}

/// Time to interactive of a note with two images, first visit, on Chromium's "Fast 3G" profile
/// (throttled through the DevTools protocol): when the page's islands are hydrated, and what the
/// visit downloaded. Prints its figures; `docs/benchmarks.md` keeps them.
async fn note_page_on_fast_3g(browser: &Client, app: &TestApp) -> Step {
    let (rpc, _) = crate::rpc::signed_up(app, "ada@example.com", "Engines").await;
    let project = rpc
        .ok("create_project", crate::rpc::project("Widgets"))
        .await;
    let note = rpc
        .ok(
            "create_note",
            json!({"project_id": project["id"], "form": {"title": "Login flow", "body": "The **login** page."}}),
        )
        .await;
    let note_id = note["id"].as_str().expect("a note id");
    for rgb in [[200, 40, 40], [40, 150, 70]] {
        let (status, _) = rpc.upload(note_id, tests::images::png(320, 200, rgb)).await;
        assert_eq!(status, 201);
    }
    let note_path = format!(
        "/projects/{}/notes/{note_id}",
        project["id"].as_str().expect("a project id")
    );

    browser.goto(&app.url("/login")).await?;
    wait_for_hydration(browser).await?;
    fill(browser, "email", "ada@example.com").await?;
    fill(browser, "password", crate::rpc::PASSWORD).await?;
    click(browser, Locator::Css("form button[type=submit]")).await?;
    wait_for_path(browser, |p| p == "/projects").await?;

    first_visit_on_fast_3g(browser, app, &note_path).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let measured = loop {
        let measured = browser
            .execute(
                "const hydrated = window.__cairnHydratedAt;
                 if (hydrated == null || document.readyState !== 'complete') return null;
                 const all = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
                 return {hydrated, bytes: all.reduce((sum, r) => sum + r.transferSize, 0), requests: all.length,
                         files: all.map(r => [r.name.replace(location.origin, ''), r.transferSize])};",
                vec![],
            )
            .await?;
        if !measured.is_null() {
            break measured;
        }
        if Instant::now() > deadline {
            return Err("the note page never became interactive on Fast 3G".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "note page, first visit on Fast 3G: interactive at {:.0} ms, {} bytes transferred in {} requests: {}",
        measured["hydrated"].as_f64().unwrap_or_default(),
        measured["bytes"],
        measured["requests"],
        measured["files"]
    );
    assert!(measured["hydrated"].as_f64().unwrap_or_default() > 0.0);
    wait_for_js(browser, "document.querySelectorAll('.thumb').length === 2").await?;
    Ok(())
}

#[tokio::test]
async fn a_note_page_becomes_interactive_on_fast_3g() {
    let _turn = ONE_JOURNEY_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let outcome = note_page_on_fast_3g(&browser, &app).await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(error) = outcome {
        panic!("Fast 3G visit failed: {error}");
    }
}

/// The log-in page, opened by a member who is signed in: its form is an island of the `welcome`
/// bundle and the account menu one of the others. Both bundles load, and each island works.
async fn two_bundles_journey(browser: &Client, app: &TestApp) -> Step {
    sign_up(browser, app, "ada@example.com", "Analytical Engines").await?;
    browser.goto(&app.url("/login")).await?;
    wait_for_hydration(browser).await?;
    let modules = browser
        .execute(
            "return performance.getEntriesByType('resource').map(r => new URL(r.name).pathname).filter(p => p.endsWith('.wasm'));",
            vec![],
        )
        .await?;
    let modules: Vec<String> = serde_json::from_value(modules)?;
    assert_eq!(modules.len(), 2, "{modules:?}");
    assert!(
        modules
            .iter()
            .any(|m| m.starts_with("/pkg/bundle-welcome-")),
        "{modules:?}"
    );
    // The form checks the address in the page, without a round trip.
    fill(browser, "email", "not-an-email").await?;
    fill(browser, "password", "whatever it is").await?;
    click(browser, Locator::Css("form button[type=submit]")).await?;
    wait_for_text(browser, "#email-error", "name@example.com").await?;
    assert!(browser.current_url().await?.path() == "/login");
    // The account menu logs out, and the page reloads without it.
    click(browser, Locator::XPath("//div[@class='account']//button")).await?;
    wait_for_js(browser, "document.querySelector('.account') === null").await?;
    wait_for_hydration(browser).await?;
    Ok(())
}

#[tokio::test]
async fn a_page_with_islands_of_two_bundles_hydrates_both() {
    let _turn = ONE_JOURNEY_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    let outcome = two_bundles_journey(&browser, &app).await;
    let _ = browser.close().await;
    drop(driver);
    if let Err(error) = outcome {
        panic!("two-bundle page failed: {error}");
    }
}
