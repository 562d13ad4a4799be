//! Cutting a text into the pieces search ranks and models embed: along its structure where it has
//! one, else by lines with some overlap, each piece within [`MAX_CHUNK_CHARS`].
//!
//! The structure of code in a language Cairn has a grammar for (Rust, Python, JavaScript,
//! TypeScript, Go) is read by that grammar (see [`super::syntax`]). Other texts are read from the
//! layout most languages share: a block starts at a line with no indentation that follows a blank
//! line or a closing line (`}`, `end`, `)`…), so a function, an `impl`, a class or a Markdown
//! section with its comments and attributes above it stays one block. Consecutive blocks are
//! packed together up to the limit; a block still longer than the limit is cut by lines, the next
//! piece repeating the last [`OVERLAP_LINES`] lines.

/// The most characters a piece holds: about 500 tokens of code, within the input limit of the
/// smallest embedding models (512 tokens).
pub const MAX_CHUNK_CHARS: usize = 1_500;

/// Lines a piece cut from a long block repeats from the one before it.
pub const OVERLAP_LINES: usize = 3;

/// One piece of a text: its lines (from 1) and their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// Its first line.
    pub line_start: u32,
    /// Its last line.
    pub line_end: u32,
    /// The lines, joined by `\n`.
    pub text: String,
}

/// What a text is, as far as cutting it goes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kind<'a> {
    /// Its language (`rust`), for a file.
    pub language: Option<&'a str>,
    /// Its path, for a file.
    pub path: Option<&'a str>,
}

/// The text's pieces, in order; none for a text of only blank lines.
pub fn pieces(text: &str, kind: Kind<'_>) -> Vec<Piece> {
    let lines: Vec<&str> = text.lines().collect();
    let blocks = kind
        .language
        .and_then(|language| super::syntax::blocks(language, kind.path, text, &lines))
        .unwrap_or_else(|| blocks(&lines));
    let mut pieces = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    let mut current_chars = 0;
    for (start, end) in blocks {
        let chars = span_chars(&lines, start, end);
        if chars > MAX_CHUNK_CHARS {
            if let Some((s, e)) = current.take() {
                push(&mut pieces, &lines, s, e);
            }
            cut_by_lines(&mut pieces, &lines, start, end);
            current_chars = 0;
            continue;
        }
        match current {
            Some((s, _)) if current_chars + chars < MAX_CHUNK_CHARS => {
                current = Some((s, end));
                current_chars += chars + 1;
            }
            _ => {
                if let Some((s, e)) = current.take() {
                    push(&mut pieces, &lines, s, e);
                }
                current = Some((start, end));
                current_chars = chars;
            }
        }
    }
    if let Some((s, e)) = current {
        push(&mut pieces, &lines, s, e);
    }
    pieces
}

/// The text's blocks as line ranges `[start, end)`, covering every line.
fn blocks(lines: &[&str]) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut start = 0;
    for i in 1..lines.len() {
        let line = lines[i];
        let previous = lines[i - 1].trim();
        let at_margin = !line.is_empty() && !line.starts_with(char::is_whitespace);
        let after_a_gap = previous.is_empty() || is_closing(previous);
        if at_margin && after_a_gap && !is_closing(line.trim()) {
            blocks.push((start, i));
            start = i;
        }
    }
    if !lines.is_empty() {
        blocks.push((start, lines.len()));
    }
    blocks
}

/// A line that only closes what an earlier one opened.
fn is_closing(line: &str) -> bool {
    let line = line.trim_end_matches([';', ',']);
    matches!(
        line,
        "}" | ")" | "]" | "})" | "end" | "</div>" | "```" | "---"
    ) || (line.starts_with('}') && line.len() <= 3)
}

fn span_chars(lines: &[&str], start: usize, end: usize) -> usize {
    lines[start..end]
        .iter()
        .map(|l| l.chars().count() + 1)
        .sum()
}

/// Adds lines `[start, end)` as a piece, without the blank lines at either end; nothing when all
/// are blank.
fn push(pieces: &mut Vec<Piece>, lines: &[&str], mut start: usize, mut end: usize) {
    while start < end && lines[start].trim().is_empty() {
        start += 1;
    }
    while end > start && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    if start == end {
        return;
    }
    pieces.push(Piece {
        line_start: u32::try_from(start + 1).unwrap_or(u32::MAX),
        line_end: u32::try_from(end).unwrap_or(u32::MAX),
        text: lines[start..end].join("\n"),
    });
}

/// Cuts lines `[start, end)` into pieces within the limit, each repeating the last few lines of
/// the one before; a single line past the limit is cut at a character boundary.
fn cut_by_lines(pieces: &mut Vec<Piece>, lines: &[&str], start: usize, end: usize) {
    let mut from = start;
    while from < end {
        let mut to = from;
        let mut chars = 0;
        while to < end && (to == from || chars + lines[to].chars().count() < MAX_CHUNK_CHARS) {
            chars += lines[to].chars().count() + 1;
            to += 1;
        }
        if to == from + 1 && chars > MAX_CHUNK_CHARS {
            // One line longer than a piece (minified code, a data line): its start stands for it.
            let line = lines[from];
            let cut: String = line.chars().take(MAX_CHUNK_CHARS).collect();
            if !cut.trim().is_empty() {
                let n = u32::try_from(from + 1).unwrap_or(u32::MAX);
                pieces.push(Piece {
                    line_start: n,
                    line_end: n,
                    text: cut,
                });
            }
        } else {
            push(pieces, lines, from, to);
        }
        if to >= end {
            break;
        }
        from = (to.saturating_sub(OVERLAP_LINES)).max(from + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_stay_whole_and_small_ones_are_packed_together() {
        let source = "use std::io;\n\n/// Reads it.\nfn read() -> u32 {\n    1\n}\n\nfn write() {\n    let x = 1;\n\n    drop(x);\n}\n";
        let found = pieces(source, Kind::default());
        assert_eq!(found.len(), 1, "small enough to be one piece: {found:?}");
        assert_eq!((found[0].line_start, found[0].line_end), (1, 12));

        let big_body = "    let line = \"some code that takes room\";\n".repeat(20);
        let source = format!("fn one() {{\n{big_body}}}\n\nfn two() {{\n{big_body}}}\n");
        let found = pieces(&source, Kind::default());
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].text.starts_with("fn one()") && found[0].text.ends_with('}'));
        assert!(found[1].text.starts_with("fn two()"));
        assert_eq!(found[1].line_start, 24);
    }

    fn rust() -> Kind<'static> {
        Kind {
            language: Some("rust"),
            path: Some("src/lib.rs"),
        }
    }

    #[test]
    fn a_grammar_keeps_methods_whole_with_their_comments_where_the_layout_would_cut() {
        let body = "        let line = \"some code that takes room\";\n".repeat(16);
        // A `}` at the margin inside a string: the layout heuristic cuts after it; the grammar
        // knows it is inside a string.
        let source = format!(
            "use std::io;\n\n/// A widget.\nstruct Widget;\n\nimpl Widget {{\n    /// Makes one.\n    #[inline]\n    fn new() -> Self {{\n{body}        let s = \"\n}}\n\";\n        Widget\n    }}\n\n    /// Sizes it.\n    fn size(&self) -> u32 {{\n{body}        1\n    }}\n}}\n"
        );
        let found = pieces(&source, rust());
        let starts: Vec<&str> = found
            .iter()
            .map(|p| p.text.lines().next().unwrap().trim())
            .collect();
        // The impl is longer than a piece: it is cut between its methods, the second method
        // with its comment.
        assert_eq!(starts, ["use std::io;", "/// Sizes it."], "{found:#?}");
        assert!(
            found[0]
                .text
                .ends_with("let s = \"\n}\n\";\n        Widget\n    }")
        );
        assert!(found[1].text.ends_with("        1\n    }\n}"));
        let by_layout = pieces(&source, Kind::default());
        assert!(
            by_layout.iter().any(|p| p.text.starts_with("\";")),
            "the layout alone cuts inside the string: {by_layout:#?}"
        );
    }

    #[test]
    fn python_methods_stay_whole_and_broken_code_falls_back_to_the_layout() {
        let body = "        total = total + compute_the_next_value(total)\n".repeat(20);
        let source = format!(
            "import os\n\n\nclass Ledger:\n    @property\n    def total(self):\n{body}        return total\n\n    def close(self):\n{body}        return None\n"
        );
        let python = Kind {
            language: Some("python"),
            path: Some("ledger.py"),
        };
        let found = pieces(&source, python);
        let starts: Vec<&str> = found
            .iter()
            .map(|p| p.text.lines().next().unwrap().trim())
            .collect();
        assert_eq!(starts, ["import os", "def close(self):"], "{found:#?}");
        assert!(found[0].text.ends_with("return total"));
        // Not Python at all: the grammar gives up and the layout decides.
        let broken = "def broken(:\n    pass\n\nfn other() {}\n";
        assert_eq!(pieces(broken, python), pieces(broken, Kind::default()));
        // Past the size a grammar reads, the layout decides too.
        let huge = "def f():\n    return 1\n\n".repeat(super::super::syntax::MAX_PARSED_BYTES / 20);
        assert!(huge.len() > super::super::syntax::MAX_PARSED_BYTES);
        assert_eq!(pieces(&huge, python), pieces(&huge, Kind::default()));
    }

    #[test]
    fn a_long_block_is_cut_by_lines_with_overlap_within_the_limit() {
        let body: String = (1..=200).map(|n| format!("    step_{n}();\n")).collect();
        let source = format!("fn long() {{\n{body}}}\n");
        let found = pieces(&source, Kind::default());
        assert!(found.len() > 2);
        for piece in &found {
            assert!(
                piece.text.chars().count() <= MAX_CHUNK_CHARS,
                "{}",
                piece.text.len()
            );
        }
        for pair in found.windows(2) {
            assert_eq!(
                pair[1].line_start + OVERLAP_LINES as u32,
                pair[0].line_end + 1
            );
        }
        assert_eq!(found.last().unwrap().line_end, 202);
        let minified = "x".repeat(5_000);
        let found = pieces(&minified, Kind::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].text.len(), MAX_CHUNK_CHARS);
        assert!(pieces("\n\n  \n", Kind::default()).is_empty());
    }
}
