//! Minimal string-level editing of the small, machine-written XML documents moto answers with
//! (RDS query protocol, Route 53 REST-XML): find elements by tag, read and replace their text,
//! remove them. No general XML parser: it relies on what moto writes (no CDATA, no comments, and
//! an element never nested inside an element of the same name), which is all the emulation
//! layers need. Anything it does not recognise is left untouched.

use std::ops::Range;

/// Where one element lies in a document: the whole element and, unless it is self-closing
/// (`<tag/>`), its content between the tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Element {
    /// From `<tag` to the end of `</tag>` (or of `<tag/>`).
    pub outer: Range<usize>,
    /// Between the opening and the closing tag; empty for `<tag/>`.
    pub inner: Range<usize>,
}

/// Every `<tag>…</tag>` and `<tag/>` element of `doc`, in document order. Elements of the same
/// name are assumed not to nest (true of moto's answers for the tags the layers look at).
pub(crate) fn elements(doc: &str, tag: &str) -> Vec<Element> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = doc[from..].find(&open) {
        let start = from + offset;
        let after_name = start + open.len();
        let Some(next) = doc[after_name..].chars().next() else {
            break;
        };
        if next != '>' && next != '/' && !next.is_whitespace() {
            // A longer tag name with the same prefix (`<DBInstanceIdentifier` for `DBInstance`).
            from = after_name;
            continue;
        }
        let Some(gt) = doc[after_name..].find('>') else {
            break;
        };
        let head_end = after_name + gt + 1;
        if doc[..head_end].ends_with("/>") {
            found.push(Element {
                outer: start..head_end,
                inner: head_end..head_end,
            });
            from = head_end;
            continue;
        }
        let Some(end) = doc[head_end..].find(&close) else {
            break;
        };
        let inner_end = head_end + end;
        found.push(Element {
            outer: start..inner_end + close.len(),
            inner: head_end..inner_end,
        });
        from = inner_end + close.len();
    }
    found
}

/// The (unescaped) text of the first `<tag>` element of `doc`; `Some("")` for `<tag/>`.
pub(crate) fn text(doc: &str, tag: &str) -> Option<String> {
    elements(doc, tag)
        .into_iter()
        .next()
        .map(|e| unescape(&doc[e.inner]))
}

/// `doc` with the text of every `<tag>` element replaced by `value` (escaped), or `None` when
/// there is no such element.
pub(crate) fn set_text(doc: &str, tag: &str, value: &str) -> Option<String> {
    let found = elements(doc, tag);
    if found.is_empty() {
        return None;
    }
    let replacement = format!("<{tag}>{}</{tag}>", escape(value));
    Some(splice(
        doc,
        found.into_iter().map(|e| (e.outer, replacement.clone())),
    ))
}

/// `doc` without its `<tag>` elements, or `None` when there is none.
pub(crate) fn remove(doc: &str, tag: &str) -> Option<String> {
    let found = elements(doc, tag);
    if found.is_empty() {
        return None;
    }
    Some(splice(
        doc,
        found.into_iter().map(|e| (e.outer, String::new())),
    ))
}

/// `doc` without the `<tag>` elements whose (unescaped) text fails `keep`, or `None` when every
/// element is kept.
pub(crate) fn retain(doc: &str, tag: &str, keep: impl Fn(&str) -> bool) -> Option<String> {
    let dropped: Vec<(Range<usize>, String)> = elements(doc, tag)
        .into_iter()
        .filter(|e| !keep(&unescape(&doc[e.inner.clone()])))
        .map(|e| (e.outer, String::new()))
        .collect();
    if dropped.is_empty() {
        return None;
    }
    Some(splice(doc, dropped))
}

/// `doc` with every range replaced; ranges must be in order and disjoint.
pub(crate) fn splice(doc: &str, edits: impl IntoIterator<Item = (Range<usize>, String)>) -> String {
    let mut out = String::with_capacity(doc.len());
    let mut at = 0;
    for (range, replacement) in edits {
        out.push_str(&doc[at..range.start]);
        out.push_str(&replacement);
        at = range.end;
    }
    out.push_str(&doc[at..]);
    out
}

/// Escapes text for an XML element.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Undoes the five predefined XML entities (moto writes no others in the fields read here).
pub(crate) fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "<R><DBInstances><DBInstance><DBInstanceIdentifier>a</DBInstanceIdentifier>\
        <ReadReplicaDBInstanceIdentifiers/></DBInstance><DBInstance>\
        <DBInstanceIdentifier>b&amp;c</DBInstanceIdentifier><ReadReplicaDBInstanceIdentifiers>\
        <ReadReplicaDBInstanceIdentifier>x</ReadReplicaDBInstanceIdentifier>\
        <ReadReplicaDBInstanceIdentifier>y</ReadReplicaDBInstanceIdentifier>\
        </ReadReplicaDBInstanceIdentifiers></DBInstance></DBInstances></R>";

    #[test]
    fn finds_elements_but_not_longer_names() {
        let found = elements(DOC, "DBInstance");
        assert_eq!(found.len(), 2);
        assert!(DOC[found[0].outer.clone()].starts_with("<DBInstance><DBInstanceIdentifier>a<"));
        assert!(DOC[found[1].outer.clone()]
            .ends_with("</ReadReplicaDBInstanceIdentifiers></DBInstance>"));
        let empty = elements(DOC, "ReadReplicaDBInstanceIdentifiers");
        assert_eq!(empty.len(), 2);
        assert!(empty[0].inner.is_empty());
        assert_eq!(
            text(&DOC[found[1].outer.clone()], "DBInstanceIdentifier").as_deref(),
            Some("b&c")
        );
        assert_eq!(text(DOC, "Missing"), None);
        assert_eq!(elements("<A x=\"1\">t</A><A/>", "A").len(), 2);
    }

    #[test]
    fn edits_text_and_elements() {
        let set = set_text("<a><s>available</s></a>", "s", "mod<ifying").unwrap();
        assert_eq!(set, "<a><s>mod&lt;ifying</s></a>");
        assert_eq!(set_text("<a/>", "s", "x"), None);
        let removed = remove(DOC, "ReadReplicaDBInstanceIdentifier").unwrap();
        assert!(!removed.contains("<ReadReplicaDBInstanceIdentifier>"));
        assert!(removed
            .contains("<ReadReplicaDBInstanceIdentifiers></ReadReplicaDBInstanceIdentifiers>"));
        let kept = retain(DOC, "ReadReplicaDBInstanceIdentifier", |v| v != "x").unwrap();
        assert!(kept.contains("<ReadReplicaDBInstanceIdentifier>y<"));
        assert!(!kept.contains("<ReadReplicaDBInstanceIdentifier>x<"));
        assert_eq!(
            retain(DOC, "ReadReplicaDBInstanceIdentifier", |_| true),
            None
        );
        assert_eq!(unescape(&escape("a&<b>\"'")), "a&<b>\"'");
    }
}
