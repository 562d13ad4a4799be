//! Source files as highlighted HTML, made on the server: the browser gets markup and classes, no
//! highlighter.

use std::sync::LazyLock;
use syntect::html::{ClassStyle, ClassedHTMLGenerator, css_for_theme_with_class_style};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

static SYNTAXES: LazyLock<SyntaxSet> = LazyLock::new(SyntaxSet::load_defaults_newlines);

const CLASSES: ClassStyle = ClassStyle::SpacedPrefixed { prefix: "hl-" };

/// Files longer than this are shown plain: highlighting is for reading, and a huge file would hold
/// a request for long.
const MAX_BYTES: usize = 512 * 1024;

/// The file as highlighted HTML (spans with `hl-` classes, text escaped), when its name tells its
/// language and it is not too long.
pub fn to_html(path: &str, code: &str) -> Option<String> {
    if code.len() > MAX_BYTES {
        return None;
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or(name);
    let syntax = SYNTAXES
        .find_syntax_by_extension(extension)
        .or_else(|| SYNTAXES.find_syntax_by_token(extension))?;
    let mut html = ClassedHTMLGenerator::new_with_class_style(syntax, &SYNTAXES, CLASSES);
    for line in LinesWithEndings::from(code) {
        html.parse_html_for_line_which_includes_newline(line).ok()?;
    }
    Some(html.finalize())
}

/// The stylesheet for the `hl-` classes: a light theme, and a dark one for dark mode.
pub fn stylesheet() -> &'static str {
    static CSS: LazyLock<String> = LazyLock::new(|| {
        let themes = syntect::highlighting::ThemeSet::load_defaults();
        let light = themes
            .themes
            .get("InspiredGitHub")
            .and_then(|t| css_for_theme_with_class_style(t, CLASSES).ok())
            .unwrap_or_default();
        let dark = themes
            .themes
            .get("base16-ocean.dark")
            .and_then(|t| css_for_theme_with_class_style(t, CLASSES).ok())
            .unwrap_or_default();
        format!("{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}")
    });
    &CSS
}
