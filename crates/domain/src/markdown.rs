//! Markdown to HTML that is safe to put in a page.
//!
//! Sanitising by construction rather than by filtering: raw HTML in the source is never passed
//! through (it is shown as text), so no tag or attribute the writer typed reaches the page — no
//! `<script>`, no `onerror=`. The only URLs that reach `href`/`src` are http(s), mailto and
//! relative ones; anything else (`javascript:`, `data:`, `vbscript:`, also when hidden behind
//! entities, case or whitespace) becomes `#`.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// Renders `markdown` to sanitised HTML.
pub fn render(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
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
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
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
    use super::render;

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
