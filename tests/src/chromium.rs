//! Headless Chromium through chromedriver, for the browser suite and the page-weight benchmark:
//! a driver per test, and the steps a user takes (click, fill, wait for the page and its islands).

use crate::{TestApp, test_data_root};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver on a free port of 127.0.0.1, killed when dropped.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts chromedriver and waits until it listens.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/setup.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, port }
    }

    /// A new headless Chromium session with a profile of its own (an empty cache, no cookies).
    pub async fn browser(&self) -> Client {
        let profile = test_data_root().join(format!("chromium-{}", uuid::Uuid::new_v4().simple()));
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": "/usr/bin/chromium", "args": args}),
        );
        // A script may take longer than WebDriver's 30 s on a loaded machine (axe on a page that
        // streams); each is bounded by its own logic.
        caps.insert("timeouts".into(), json!({"script": 120_000}));
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A step of a journey: any failure ends it with its message.
pub type Step = Result<(), Box<dyn std::error::Error>>;

/// Clicks `target` once it is there. Pages are loaded whole, so an element found a moment before a
/// page load ends can be gone when it is clicked: that is retried, not a failure.
pub async fn click(browser: &Client, target: Locator<'_>) -> Step {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match try_click(browser, target).await {
            Ok(()) => return Ok(()),
            Err(error) if Instant::now() > deadline => return Err(error),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn try_click(browser: &Client, target: Locator<'_>) -> Step {
    let element = browser
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(target)
        .await?;
    // Centre it first: the sticky top bar covers whatever a scroll left under it.
    browser
        .execute(
            "arguments[0].scrollIntoView({block: 'center'});",
            vec![serde_json::to_value(&element)?],
        )
        .await?;
    element.click().await?;
    Ok(())
}

/// Presses `key` on the page as a user would, wherever the focus is (a shortcut).
pub async fn press(browser: &Client, key: char) -> Step {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    browser.perform_actions(keys).await?;
    Ok(())
}

/// Types `text` into the field with id `id`, replacing what it held.
pub async fn fill(browser: &Client, id: &str, text: &str) -> Step {
    let filled = async {
        let input = browser.find(Locator::Id(id)).await?;
        input.clear().await?;
        input.send_keys(text).await
    };
    filled
        .await
        .map_err(|error| format!("filling #{id}: {error}").into())
}

/// Waits until the browser's path satisfies `predicate`; returns it.
pub async fn wait_for_path(
    browser: &Client,
    predicate: impl Fn(&str) -> bool,
) -> Result<String, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = browser.current_url().await?;
        if predicate(url.path()) {
            return Ok(url.path().to_owned());
        }
        if Instant::now() > deadline {
            return Err(format!("still at {url}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the element at `css` contains `text`.
pub async fn wait_for_text(browser: &Client, css: &str, text: &str) -> Step {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = None;
    loop {
        // An element of the page being replaced may go stale between `find` and `text`.
        if let Ok(element) = browser.find(Locator::Css(css)).await
            && let Ok(found) = element.text().await
        {
            if found.contains(text) {
                return Ok(());
            }
            last = Some(found);
        }
        if Instant::now() > deadline {
            return Err(format!("no {css:?} containing {text:?} (last seen: {last:?})").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the page's islands script has hydrated its islands (their handlers are live): it
/// marks `<html data-hydrated>` when done. Call it once the new page is there: pages are loaded
/// whole, and the old page counts as hydrated too.
pub async fn wait_for_hydration(browser: &Client) -> Step {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = browser
            .execute(
                "const marks = document.documentElement.dataset;
                 return 'hydrationFailed' in marks ? 'failed' : 'hydrated' in marks && document.readyState === 'complete';",
                vec![],
            )
            .await?;
        if state == json!(true) {
            return Ok(());
        }
        if state == json!("failed") || Instant::now() > deadline {
            let seen = browser
                .execute("return performance.getEntriesByType('resource').map(r => [r.name, r.responseStatus]);", vec![])
                .await?;
            return Err(format!(
                "the page's islands were not hydrated ({state}); it loaded {seen}"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A screen as a user sees it: checked for accessibility (`accessible`), then saved as
/// `<name>.png` in `CAIRN_SCREENSHOT_DIR` when it is set.
pub async fn screenshot(browser: &Client, name: &str) -> Step {
    accessible(browser, name).await?;
    if let Some(dir) = std::env::var_os("CAIRN_SCREENSHOT_DIR") {
        std::fs::create_dir_all(&dir)?;
        let png = browser.screenshot().await?;
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png)?;
    }
    Ok(())
}

/// axe-core's script, as `scripts/setup.sh` installs it (npm).
fn axe_script() -> Result<&'static str, String> {
    static SCRIPT: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    SCRIPT
        .get_or_init(|| {
            let tools = std::env::var("CAIRN_TOOLS_DIR").unwrap_or_else(|_| "/opt/cairn".into());
            let path = format!("{tools}/axe/node_modules/axe-core/axe.min.js");
            std::fs::read_to_string(&path)
                .map_err(|e| format!("axe-core is missing at {path} ({e}): run scripts/setup.sh"))
        })
        .as_deref()
        .map_err(Clone::clone)
}

/// Checks the page as it is now with axe-core (WCAG 2.x A and AA rules, and axe's best
/// practices): a serious or critical violation fails, naming the rule and the elements.
pub async fn accessible(browser: &Client, screen: &str) -> Step {
    if browser
        .execute("return typeof window.axe === 'object';", vec![])
        .await?
        != json!(true)
    {
        browser.execute(axe_script()?, vec![]).await?;
    }
    // In both themes: the page follows the system's, and each has its own colours.
    let mut problems = axe_violations(browser, AXE_ALL_RULES).await?;
    set_color_scheme(browser, "dark").await?;
    // Only colours change with the theme: the dark pass checks contrast alone.
    let dark = axe_violations(browser, AXE_CONTRAST_ONLY).await;
    set_color_scheme(browser, "").await?;
    problems.extend(
        dark?
            .into_iter()
            .map(|problem| format!("(dark theme) {problem}")),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "accessibility of {screen} ({}): {}",
            browser.current_url().await?,
            problems.join("\n")
        )
        .into())
    }
}

/// axe-core's rules: all of them, or colour contrast alone.
const AXE_ALL_RULES: &[&str] = &[];
const AXE_CONTRAST_ONLY: &[&str] = &["color-contrast"];

/// The page's serious and critical axe-core violations, each with up to four of its elements.
async fn axe_violations(
    browser: &Client,
    rules: &[&str],
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let found = browser
        .execute_async(
            "const [rules, done] = arguments;
             const options = {resultTypes: ['violations']};
             if (rules.length) options.runOnly = {type: 'rule', values: rules};
             axe.run(document, options).then(
                 (r) => done(r.violations
                     .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                     .map((v) => `${v.impact} ${v.id}: ${v.help} — ` + v.nodes.slice(0, 4)
                         .map((n) => n.target.join(' ') + ' (' + (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 200) + ')')
                         .join('; '))),
                 (e) => done(['axe failed: ' + e]));",
            vec![json!(rules)],
        )
        .await?;
    Ok(serde_json::from_value(found)?)
}

/// Makes the page see the system's colour scheme as `scheme` (`dark`, `light`, or `` for the
/// browser's own).
pub async fn set_color_scheme(browser: &Client, scheme: &str) -> Step {
    browser
        .issue_cmd(Cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        ))
        .await?;
    // Colours that change with a transition (a button's background) reach the new theme's once
    // it ends: until then a check would read the colours in between. (Endless animations, a
    // spinner's, are not waited for.)
    browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const transitions = document.getAnimations()
                 .filter((a) => a instanceof CSSTransition)
                 .map((a) => a.finished.catch(() => {}));
             Promise.race([Promise.all(transitions), new Promise((r) => setTimeout(r, 1000))])
                 .then(() => done(true));",
            vec![],
        )
        .await?;
    Ok(())
}

/// Waits until `script` (a JS expression) is true in the page.
pub async fn wait_for_js(browser: &Client, script: &str) -> Step {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if browser
            .execute(&format!("return !!({script});"), vec![])
            .await?
            == json!(true)
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("never true: {script}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A DevTools protocol command, sent through chromedriver's `goog/cdp/execute` endpoint.
#[derive(Debug)]
pub struct Cdp(pub &'static str, pub serde_json::Value);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = json!({"cmd": self.0, "params": self.1});
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// Chromium's "Fast 3G" profile, as its DevTools define it: 562.5 ms of latency, 1.44 Mbit/s down
/// and 675 kbit/s up.
pub const FAST_3G: (f64, u64, u64) = (562.5, 180_000, 84_375);

/// Empties the browser's HTTP cache (its cookies stay): the next page is a first visit.
pub async fn forget_cached_files(browser: &Client) -> Step {
    browser.issue_cmd(Cdp("Network.enable", json!({}))).await?;
    browser
        .issue_cmd(Cdp("Network.clearBrowserCache", json!({})))
        .await?;
    Ok(())
}

/// Opens `path` as a first visit on Chromium's "Fast 3G" profile.
pub async fn first_visit_on_fast_3g(browser: &Client, app: &TestApp, path: &str) -> Step {
    let (latency, download, upload) = FAST_3G;
    forget_cached_files(browser).await?;
    browser
        .issue_cmd(Cdp(
            "Network.emulateNetworkConditions",
            json!({"offline": false, "latency": latency, "downloadThroughput": download, "uploadThroughput": upload}),
        ))
        .await?;
    browser.goto(&app.url(path)).await?;
    Ok(())
}

/// What the page shown downloaded, from the Resource Timing API: each file's path and its bytes
/// on the wire (headers and body as sent, compressed or not; 0 when the browser had it already),
/// the page itself first.
pub async fn downloaded(
    browser: &Client,
) -> Result<Vec<(String, u64)>, Box<dyn std::error::Error>> {
    let files = browser
        .execute(
            "return [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')]
                 .map(r => [new URL(r.name).pathname, r.transferSize]);",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(files)?)
}
