//! From a byte span of the file to what an operator can find: the line and
//! the key path (`group[0].resource[2].ip`).
//!
//! serde errors and the checks after it both carry a span; the path is
//! recovered by walking the document once with `toml_edit`, which keeps the
//! span of every table, key and value.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

/// Every table, key and value of a document with its span and key path.
pub(crate) struct Index {
    entries: Vec<(Range<usize>, String)>,
}

impl Index {
    /// Indexes `text`; a text that does not parse gives an empty index.
    pub(crate) fn new(text: &str) -> Self {
        let mut entries = Vec::new();
        if let Ok(doc) = ImDocument::parse(text) {
            walk_table(doc.as_table(), "", &mut entries);
        }
        Self { entries }
    }

    /// The span of the key (not the value) at `path`, if it is in the file.
    pub(crate) fn span_of(&self, path: &str) -> Option<Range<usize>> {
        self.entries.iter().find(|(_, p)| p == path).map(|(s, _)| s.clone())
    }

    /// The key path of the smallest entry that contains `span`'s start.
    pub(crate) fn path_at(&self, span: &Range<usize>) -> String {
        self.entries
            .iter()
            .filter(|(s, _)| s.start <= span.start && (span.start < s.end || s == span))
            .min_by_key(|(s, p)| (s.end - s.start, usize::MAX - p.len()))
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    }
}

/// The 1-based line of byte offset `at`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes().get(..at).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count()) + 1
}

/// The 1-based column of byte offset `at` (in characters).
pub(crate) fn column_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    let start = text.get(..at).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
    text.get(start..at).map_or(0, |t| t.chars().count()) + 1
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn walk_table(table: &Table, path: &str, out: &mut Vec<(Range<usize>, String)>) {
    if let Some(s) = table.span() {
        out.push((s, path.to_owned()));
    }
    for (k, item) in table.iter() {
        let p = join(path, k);
        if let Some(s) = table.key(k).and_then(toml_edit::Key::span) {
            out.push((s, p.clone()));
        }
        walk_item(item, &p, out);
    }
}

fn walk_item(item: &Item, path: &str, out: &mut Vec<(Range<usize>, String)>) {
    match item {
        Item::Table(t) => walk_table(t, path, out),
        Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                walk_table(t, &format!("{path}[{i}]"), out);
            }
        }
        Item::Value(v) => walk_value(v, path, out),
        Item::None => {}
    }
}

fn walk_value(value: &Value, path: &str, out: &mut Vec<(Range<usize>, String)>) {
    if let Some(s) = value.span() {
        out.push((s, path.to_owned()));
    }
    match value {
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                walk_value(v, &format!("{path}[{i}]"), out);
            }
        }
        Value::InlineTable(t) => {
            for (k, v) in t.iter() {
                let p = join(path, k);
                if let Some(s) = t.key(k).and_then(toml_edit::Key::span) {
                    out.push((s, p.clone()));
                }
                walk_value(v, &p, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_nested_keys() {
        let text = "[cluster]\nname = 'x'\n[[group]]\nname = 'g'\nnodes = ['a', 'b']\n[[group.resource]]\nkind = 'disk'\nparams = { a = 1 }\n";
        let index = Index::new(text);
        let at = |needle: &str| {
            let start = text.find(needle).unwrap();
            index.path_at(&(start..start + needle.len()))
        };
        assert_eq!(at("name = 'x'"), "cluster.name");
        assert_eq!(at("'b'"), "group[0].nodes[1]");
        assert_eq!(at("kind"), "group[0].resource[0].kind");
        assert_eq!(at("a = 1"), "group[0].resource[0].params.a");
        assert_eq!(at("[[group.resource]]"), "group[0].resource[0]");
        assert_eq!(line_of(text, text.find("kind").unwrap()), 7);
        assert_eq!(column_of(text, text.find("'b'").unwrap()), 15);
    }
}
