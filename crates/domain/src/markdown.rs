//! Markdown to HTML that is safe to put in a page.
//!
//! Sanitising by construction rather than by filtering: raw HTML in the source is never passed
//! through (it is shown as text), so no tag or attribute the writer typed reaches the page — no
//! `<script>`, no `onerror=`. The only URLs that reach `href`/`src` are http(s), mailto and
//! relative ones; anything else (`javascript:`, `data:`, `vbscript:`, also when hidden behind
//! entities, case or whitespace) becomes `#`.

use api::knowledge::CitedSource;
use pulldown_cmark::{BrokenLink, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};

const OPTIONS: Options = Options::ENABLE_TABLES
    .union(Options::ENABLE_STRIKETHROUGH)
    .union(Options::ENABLE_TASKLISTS)
    .union(Options::ENABLE_FOOTNOTES);

/// Renders `markdown` to sanitised HTML.
pub fn render(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, sanitised(Parser::new_ext(markdown, OPTIONS)));
    out
}

/// Renders a model's answer as [`render`] does, each citation of a source it was sent (`[2]`) a
/// link to that source (`<a class="cite" href=… title="[2] src/lib.rs, lines 1–9">[2]</a>`). A
/// bracketed number that names no source stays text.
pub fn render_cited(markdown: &str, sources: &[CitedSource]) -> String {
    let source = |reference: &str| {
        let n = reference.trim().parse::<u32>().ok()?;
        sources.iter().find(|s| s.n == n)
    };
    let mut cite = |link: BrokenLink<'_>| {
        source(&link.reference).map(|s| (CowStr::from(s.link.clone()), CowStr::from(s.label())))
    };
    let parser = Parser::new_with_broken_link_callback(markdown, OPTIONS, Some(&mut cite));
    let mut in_cite = false;
    let events = sanitised(parser).map(|event| match event {
        Event::Start(Tag::Link {
            link_type: LinkType::ShortcutUnknown,
            ref dest_url,
            ref title,
            ..
        }) => {
            in_cite = true;
            Event::InlineHtml(CowStr::from(format!(
                r#"<a class="cite" href="{}" title="{}">["#,
                attribute(dest_url),
                attribute(title)
            )))
        }
        Event::End(TagEnd::Link) if in_cite => {
            in_cite = false;
            Event::InlineHtml(CowStr::Borrowed("]</a>"))
        }
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// `text` safe inside a double-quoted attribute.
fn attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The writer's raw HTML as text, and links and images only to safe schemes.
fn sanitised<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    events.map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    })
}

/// `url` if its scheme is allowed or it has none (relative), else `#`.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    // Browsers ignore ASCII whitespace and control characters inside a scheme: "java\tscript:".
    let squashed: String = url
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    let scheme_end = squashed.find(':');
    let path_start = squashed.find(['/', '?', '#']);
    let has_scheme = match (scheme_end, path_start) {
        (Some(colon), Some(slash)) => colon < slash,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if !has_scheme
        || ["http:", "https:", "mailto:"]
            .iter()
            .any(|allowed| squashed.starts_with(allowed))
    {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

#[cfg(test)]
mod tests {
    use super::{render, render_cited};
    use api::knowledge::{CitedSource, SourceKind};

    #[test]
    fn an_answer_links_its_citations_and_keeps_other_brackets() {
        let source = CitedSource {
            n: 2,
            kind: SourceKind::File,
            title: "src/\"lib\".rs".into(),
            lines: Some((1, 9)),
            link: "/projects/p/memory/e#L1-L9".into(),
            text: String::new(),
        };
        let html = render_cited(
            "**Refunds** are checked in `refund()` [2], not [3] or [x].\n\n<script>[2]</script>",
            &[source],
        );
        assert!(html.contains("<strong>Refunds</strong>"), "{html}");
        assert!(
            html.contains(
                r#"<a class="cite" href="/projects/p/memory/e#L1-L9" title="[2] src/&quot;lib&quot;.rs, lines 1–9">[2]</a>"#
            ),
            "{html}"
        );
        assert!(html.contains("not [3] or [x]."), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script"), "{html}");
    }

    #[test]
    fn markdown_renders() {
        let html = render("# Plan\n\n- **one**\n- [docs](https://example.com/a?b=1)\n");
        assert!(html.contains("<h1>Plan</h1>"), "{html}");
        assert!(html.contains("<strong>one</strong>"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.com/a?b=1">docs</a>"#),
            "{html}"
        );
    }

    #[test]
    fn raw_html_is_shown_as_text_never_run() {
        for attack in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "hello <b onmouseover=alert(1)>there</b>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<svg/onload=alert(1)>",
        ] {
            let html = render(attack);
            assert!(!html.contains("<script"), "{attack} -> {html}");
            assert!(!html.contains("<img"), "{attack} -> {html}");
            assert!(!html.contains("<b "), "{attack} -> {html}");
            assert!(!html.contains("<iframe"), "{attack} -> {html}");
            assert!(!html.contains("<svg"), "{attack} -> {html}");
            assert!(html.contains("&lt;"), "shown as text: {attack} -> {html}");
        }
    }

    #[test]
    fn only_safe_link_schemes_survive() {
        for link in [
            "[x](javascript:alert(1))",
            "[x](JavaScript:alert(1))",
            "[x](&#106;avascript:alert(1))",
            "[x](<java\tscript:alert(1)>)",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "[x](vbscript:msgbox)",
            "![x](javascript:alert(1))",
            "<javascript:alert(1)>",
        ] {
            let html = render(link);
            assert!(
                html.contains(r##"href="#""##) || html.contains(r##"src="#""##),
                "{link} -> {html}"
            );
            assert!(
                !html.contains("href=\"j") && !html.contains("src=\"j"),
                "{link} -> {html}"
            );
        }
        assert!(render("[x](/projects/1)").contains(r#"href="/projects/1""#));
        assert!(render("[x](#notes)").contains(r##"href="#notes""##));
        assert!(render("[x](mailto:a@example.com)").contains("mailto:a@example.com"));
        assert!(render("[x](docs/a:b.md)").contains(r#"href="docs/a:b.md""#));
    }
}
