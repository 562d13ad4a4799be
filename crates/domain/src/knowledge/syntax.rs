//! Code's structure read by a grammar (tree-sitter), for the languages Cairn has one for: a file's
//! blocks start at its top-level items (a function, an `impl`, a class, a `const` with the
//! comments and attributes above it), and an item too long for one piece is cut along its own
//! members (an `impl`'s methods, a class's methods, a function's statements), recursively.

use super::chunk::MAX_CHUNK_CHARS;
use tree_sitter::{Language, Node, Parser};

/// The grammar of a file in `language` (as Cairn names languages, see `sync_rules`) at `path`.
fn grammar(language: &str, path: Option<&str>) -> Option<Language> {
    Some(match language {
        "rust" => tree_sitter_rust::LANGUAGE.into(),
        "python" => tree_sitter_python::LANGUAGE.into(),
        "javascript" => tree_sitter_javascript::LANGUAGE.into(),
        "typescript" if path.is_some_and(|p| p.ends_with(".tsx")) => {
            tree_sitter_typescript::LANGUAGE_TSX.into()
        }
        "typescript" => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
        "go" => tree_sitter_go::LANGUAGE.into(),
        _ => return None,
    })
}

/// Whether Cairn reads `language`'s structure with a grammar.
pub fn has_grammar(language: &str) -> bool {
    grammar(language, None).is_some()
}

/// What sticks to the item below it.
fn is_preamble(kind: &str) -> bool {
    matches!(
        kind,
        "line_comment" | "block_comment" | "comment" | "attribute_item" | "decorator"
    )
}

/// The longest text read with a grammar: longer files are generated or bundled more often than
/// written, and a parse costs time and memory in proportion (a repository can list one large file
/// under thousands of paths).
pub const MAX_PARSED_BYTES: usize = 256 * 1024;

/// The text's blocks as line ranges `[start, end)` covering every line, along its syntax; `None`
/// without a grammar, for a text over [`MAX_PARSED_BYTES`], or when the text does not parse (the
/// layout heuristic then reads it).
pub(super) fn blocks(
    language: &str,
    path: Option<&str>,
    text: &str,
    lines: &[&str],
) -> Option<Vec<(usize, usize)>> {
    if text.len() > MAX_PARSED_BYTES {
        return None;
    }
    let mut parser = Parser::new();
    parser.set_language(&grammar(language, path)?).ok()?;
    let tree = parser.parse(text, None)?;
    let root = tree.root_node();
    // A grammar that recovered from errors may have misread where items start.
    if root.has_error() {
        return None;
    }
    let mut starts = vec![0];
    cuts(root, lines, &mut starts);
    starts.retain(|row| *row < lines.len());
    starts.sort_unstable();
    starts.dedup();
    let mut blocks: Vec<(usize, usize)> =
        starts.windows(2).map(|pair| (pair[0], pair[1])).collect();
    if let Some(last) = starts.last()
        && !lines.is_empty()
    {
        blocks.push((*last, lines.len()));
    }
    Some(blocks)
}

/// Adds the lines where `node`'s members start a block: each named child that starts its own
/// line, unless it sits right under a comment or an attribute (whose block it joins); and, inside
/// a child too long for one piece, its own members.
fn cuts(node: Node<'_>, lines: &[&str], starts: &mut Vec<usize>) {
    let mut cursor = node.walk();
    let mut glued = false;
    for child in node.named_children(&mut cursor) {
        let (first, last) = (child.start_position().row, child.end_position().row);
        // A child after other code on its line (a trailing comment, a function's name) starts
        // nothing.
        let own_line = lines.get(first).is_some_and(|line| {
            line.get(..child.start_position().column)
                .is_some_and(|before| before.trim().is_empty())
        });
        if own_line {
            if !glued {
                starts.push(first);
            }
            glued = is_preamble(child.kind());
        }
        let chars: usize = lines
            .get(first..=last.min(lines.len().saturating_sub(1)))
            .unwrap_or_default()
            .iter()
            .map(|line| line.chars().count() + 1)
            .sum();
        if chars > MAX_CHUNK_CHARS {
            cuts(child, lines, starts);
        }
    }
}
