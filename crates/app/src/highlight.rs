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

/// The surface code is shown on (`--cairn-surface` in `style/cairn.css`), light and dark.
const LIGHT_SURFACE: [u8; 3] = [0xff, 0xff, 0xff];
const DARK_SURFACE: [u8; 3] = [0x1d, 0x20, 0x1e];

/// WCAG AA for normal text.
const MIN_CONTRAST: f64 = 4.5;

/// The stylesheet for the `hl-` classes: a light theme, and a dark one for dark mode, each only in
/// its own mode (a class the dark theme leaves out must not keep the light theme's colour), every
/// colour made readable on the page's code surface (WCAG AA, 4.5:1), and no backgrounds of their
/// own (tokens sit on the surface the contrast is checked against).
pub fn stylesheet() -> &'static str {
    static CSS: LazyLock<String> = LazyLock::new(|| {
        let themes = syntect::highlighting::ThemeSet::load_defaults();
        let theme_css = |name: &str, surface: [u8; 3]| {
            themes
                .themes
                .get(name)
                .and_then(|t| css_for_theme_with_class_style(t, CLASSES).ok())
                .map(|css| readable_on(&css, surface))
                .unwrap_or_default()
        };
        let light = theme_css("InspiredGitHub", LIGHT_SURFACE);
        let dark = theme_css("base16-ocean.dark", DARK_SURFACE);
        format!(
            "@media not (prefers-color-scheme: dark) {{\n{light}\n}}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}"
        )
    });
    &CSS
}

/// `css` with each `color: #rrggbb` moved away from `surface` (towards black on a light surface,
/// white on a dark one) until it reaches [`MIN_CONTRAST`], and its `background-color`s left out.
fn readable_on(css: &str, surface: [u8; 3]) -> String {
    css.split(';')
        // A chunk holds at most one declaration, after any selector and brace before it.
        .map(|chunk| {
            chunk
                .find("background-color")
                .map_or(chunk, |at| &chunk[..at])
        })
        .map(|declaration| {
            let Some((before, value)) = declaration.split_once("color:") else {
                return declaration.to_owned();
            };
            match parse_hex(value.trim()) {
                Some(colour) => {
                    let [r, g, b] = readable(colour, surface);
                    format!("{before}color: #{r:02x}{g:02x}{b:02x}")
                }
                None => declaration.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn parse_hex(value: &str) -> Option<[u8; 3]> {
    let hex = value.strip_prefix('#')?;
    let hex = hex.get(..6)?;
    let channel = |at: usize| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

fn luminance(colour: [u8; 3]) -> f64 {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(colour[0]) + 0.7152 * linear(colour[1]) + 0.0722 * linear(colour[2])
}

/// The WCAG contrast ratio of two colours.
fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// `colour`, mixed step by step with black (on a light surface) or white (on a dark one) until it
/// reaches [`MIN_CONTRAST`] on `surface`: the hue stays, only its lightness moves.
fn readable(colour: [u8; 3], surface: [u8; 3]) -> [u8; 3] {
    let towards: u8 = if luminance(surface) > 0.5 { 0 } else { 255 };
    let mut mixed = colour;
    for step in 0..=20u8 {
        let weight = f64::from(step) / 20.0;
        mixed = colour
            .map(|c| (f64::from(c) * (1.0 - weight) + f64::from(towards) * weight).round() as u8);
        if contrast(mixed, surface) >= MIN_CONTRAST {
            break;
        }
    }
    mixed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every colour the stylesheet gives code, in the block of each mode.
    fn colours_in(css: &str) -> Vec<[u8; 3]> {
        css.split("color:")
            .skip(1)
            .filter_map(|rest| parse_hex(rest.trim()))
            .collect()
    }

    #[test]
    fn every_syntax_colour_is_readable_in_both_themes() {
        let css = stylesheet();
        let (light, dark) = css
            .split_once("@media (prefers-color-scheme: dark)")
            .expect("a dark block");
        assert!(
            light.starts_with("@media not (prefers-color-scheme: dark)"),
            "light colours only in light mode"
        );
        assert!(!css.contains("background-color"));
        for (mode, block, surface) in [
            ("light", light, LIGHT_SURFACE),
            ("dark", dark, DARK_SURFACE),
        ] {
            let colours = colours_in(block);
            assert!(colours.len() > 10, "{mode}: {colours:?}");
            for colour in colours {
                let ratio = contrast(colour, surface);
                assert!(
                    ratio >= MIN_CONTRAST,
                    "{mode}: {colour:?} is {ratio:.2}:1 on {surface:?}"
                );
            }
        }
    }

    #[test]
    fn contrast_is_measured_as_wcag_does() {
        assert!((contrast([0, 0, 0], [255, 255, 255]) - 21.0).abs() < 0.01);
        // The pair a user met in dark mode: 1.3:1.
        assert!((contrast([50, 50, 50], DARK_SURFACE) - 1.3).abs() < 0.05);
        assert_eq!(readable([0, 0, 0], LIGHT_SURFACE), [0, 0, 0]);
        let lifted = readable([0x65, 0x73, 0x7e], DARK_SURFACE);
        assert!(contrast(lifted, DARK_SURFACE) >= MIN_CONTRAST);
    }
}
