//! Where things are in the TOML source: byte offsets to line/column, dotted field paths
//! (`ecs_services[1].active_count`) to spans and back, using `toml_edit`'s spanned document.

use std::ops::Range;
use toml_edit::{Item, Table, Value};

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// What a span covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// The key of a key/value pair or the last key of a table header.
    Key,
    /// A whole table header (`[aws]`, `[[ecs_services]]`) or an inline table.
    Header,
    /// A value.
    Value,
}

#[derive(Debug, Clone)]
struct Entry {
    path: String,
    kind: Kind,
    span: Range<usize>,
}

/// Every key, table and value of a document with its dotted path and span.
#[derive(Debug, Clone, Default)]
pub struct SpanIndex {
    entries: Vec<Entry>,
    parsed: bool,
}

impl SpanIndex {
    /// Index `source`. A document that does not parse gives an empty index (every lookup then
    /// falls back to the start of the file).
    pub fn build(source: &str) -> SpanIndex {
        let mut index = SpanIndex::default();
        if let Ok(doc) = toml_edit::Document::parse(source) {
            index.parsed = true;
            index.table(doc.as_table(), "");
        }
        index
    }

    /// Whether the source parsed as TOML (if not, the index is empty).
    pub fn parsed(&self) -> bool {
        self.parsed
    }

    fn push(&mut self, path: &str, kind: Kind, span: Option<Range<usize>>) {
        if let Some(span) = span {
            self.entries.push(Entry {
                path: path.to_string(),
                kind,
                span,
            });
        }
    }

    fn table(&mut self, table: &Table, prefix: &str) {
        for (key, item) in table.iter() {
            let path = join(prefix, key);
            self.push(&path, Kind::Key, table.key(key).and_then(|k| k.span()));
            self.item(item, &path);
        }
    }

    fn item(&mut self, item: &Item, path: &str) {
        match item {
            Item::None => {}
            Item::Value(value) => self.value(value, path),
            Item::Table(table) => {
                self.push(path, Kind::Header, table.span());
                self.table(table, path);
            }
            Item::ArrayOfTables(array) => {
                for (i, table) in array.iter().enumerate() {
                    let element = format!("{path}[{i}]");
                    self.push(&element, Kind::Header, table.span());
                    self.table(table, &element);
                }
            }
        }
    }

    fn value(&mut self, value: &Value, path: &str) {
        match value {
            Value::Array(array) => {
                self.push(path, Kind::Value, array.span());
                for (i, element) in array.iter().enumerate() {
                    self.value(element, &format!("{path}[{i}]"));
                }
            }
            Value::InlineTable(table) => {
                self.push(path, Kind::Header, table.span());
                for (key, element) in table.iter() {
                    let child = join(path, key);
                    self.push(&child, Kind::Key, table.key(key).and_then(|k| k.span()));
                    self.value(element, &child);
                }
            }
            other => self.push(path, Kind::Value, other.span()),
        }
    }

    /// The byte offset where `path` is written: its key, else its table header, else its value;
    /// for a path not in the file, the nearest enclosing table that is; else the start of the file.
    pub fn offset_of(&self, path: &str) -> usize {
        let mut path = path.to_string();
        loop {
            let found = self
                .entries
                .iter()
                .filter(|e| e.path == path)
                .min_by_key(|e| e.kind);
            if let Some(entry) = found {
                return entry.span.start;
            }
            match parent(&path) {
                Some(p) => path = p.to_string(),
                None => return 0,
            }
        }
    }

    /// The dotted path of the innermost key, table header or value written at byte `offset`;
    /// `""` (the top level) when nothing is.
    pub fn path_at(&self, offset: usize) -> String {
        self.entries
            .iter()
            .filter(|e| e.span.contains(&offset) || (e.span.is_empty() && e.span.start == offset))
            .min_by(|a, b| {
                let len = |e: &Entry| e.span.end - e.span.start;
                len(a).cmp(&len(b)).then(b.path.len().cmp(&a.path.len()))
            })
            .map(|e| e.path.clone())
            .unwrap_or_default()
    }
}

/// `prefix.key`, quoting a key that is not bare.
fn join(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// The enclosing path: `a.b[1].c` → `a.b[1]` → `a.b` → `a` → none.
pub fn parent(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    if path.ends_with(']') {
        if let Some(i) = path.rfind('[') {
            return Some(&path[..i]);
        }
    }
    Some(path.rfind('.').map_or("", |i| &path[..i]))
}

/// The path without array indices, for looking up what a field is (`ecs_services[1].name` →
/// `ecs_services.name`).
pub fn generic(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            c if !in_index => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
[environment]
name = \"confer\"

[regions]
primary = \"us-east-1\"
observers = [\"eu-west-1\", \"ap-south-1\"]

[[ecs_services]]
name = \"api\"

[[ecs_services]]
name = \"signaling\"
active_count = 2

[aws]
retry = { max_attempts = 3 }

[[route53.records]]
name = \"api\"
";

    fn at(path: &str) -> (usize, usize) {
        line_col(DOC, SpanIndex::build(DOC).offset_of(path))
    }

    #[test]
    fn line_and_column() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("é=1\nx", 2), (1, 2));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn paths_to_positions() {
        assert_eq!(at("environment.name"), (2, 1));
        assert_eq!(at("regions.observers[1]"), (6, 27));
        assert_eq!(at("ecs_services[1]"), (11, 1));
        assert_eq!(at("ecs_services[1].active_count"), (13, 1));
        assert_eq!(at("ecs_services[1].missing"), (11, 1));
        assert_eq!(at("aws.retry.max_attempts"), (16, 11));
        assert_eq!(at("route53.records[0].name"), (19, 1));
        assert_eq!(at("route53.records[0]"), (18, 1));
        assert_eq!(at("route53.zone_id"), (18, 3));
        assert_eq!(at("nothing.here"), (1, 1));
    }

    #[test]
    fn positions_to_paths() {
        let index = SpanIndex::build(DOC);
        let offset = |needle: &str| DOC.find(needle).unwrap();
        assert_eq!(
            index.path_at(offset("\"signaling\"")),
            "ecs_services[1].name"
        );
        assert_eq!(
            index.path_at(offset("active_count")),
            "ecs_services[1].active_count"
        );
        assert_eq!(
            index.path_at(offset("\"ap-south-1\"")),
            "regions.observers[1]"
        );
        assert_eq!(index.path_at(offset("[[route53")), "route53.records[0]");
        assert_eq!(index.path_at(0), "environment");
        assert_eq!(index.path_at(offset("\n\n[regions]")), "");
    }

    #[test]
    fn path_helpers() {
        assert_eq!(parent("a.b[1].c"), Some("a.b[1]"));
        assert_eq!(parent("a.b[1]"), Some("a.b"));
        assert_eq!(parent("a"), Some(""));
        assert_eq!(parent(""), None);
        assert_eq!(generic("route53.records[12].name"), "route53.records.name");
        assert_eq!(join("", "a.b"), "\"a.b\"");
    }
}
