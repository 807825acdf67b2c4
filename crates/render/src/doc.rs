//! The document model of a rendered runbook and its two writers: Markdown, and a
//! self-contained HTML page (inline style, no scripts, no external assets).
//!
//! Text uses a small inline syntax, the same in both outputs: `` `code` ``, `**strong**` and
//! `[text](https://…)`.

use crate::blocks::{info_string, Role};

/// A rendered runbook before it is written out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Doc {
    /// The page title (also the first heading).
    pub title: String,
    /// The content, in order.
    pub blocks: Vec<Block>,
}

/// One piece of content.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    /// A heading of level 2 to 4 (the title is level 1).
    Heading(u8, String),
    /// A paragraph.
    Para(String),
    /// A bulleted list.
    List(Vec<String>),
    /// A table with a header row.
    Table(Vec<String>, Vec<Vec<String>>),
    /// A command block.
    Code(Role, String, String),
    /// A paragraph that must not be missed (a warning, a rule).
    Note(String),
}

impl Doc {
    /// The document as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = format!("# {}\n", self.title);
        for b in &self.blocks {
            out.push('\n');
            match b {
                Block::Heading(level, text) => {
                    out.push_str(&"#".repeat(usize::from(*level)));
                    out.push(' ');
                    out.push_str(text);
                    out.push('\n');
                }
                Block::Para(text) => {
                    out.push_str(text);
                    out.push('\n');
                }
                Block::List(items) => {
                    for i in items {
                        out.push_str("- ");
                        out.push_str(i);
                        out.push('\n');
                    }
                }
                Block::Table(head, rows) => {
                    let row = |cells: &[String]| {
                        let cells: Vec<String> =
                            cells.iter().map(|c| c.replace('|', "\\|")).collect();
                        format!("| {} |\n", cells.join(" | "))
                    };
                    out.push_str(&row(head));
                    out.push_str(&format!("|{}\n", " --- |".repeat(head.len())));
                    for r in rows {
                        out.push_str(&row(r));
                    }
                }
                Block::Code(role, node, script) => {
                    let longest = longest_backtick_run(script);
                    let fence = "`".repeat(longest.max(2) + 1);
                    out.push_str(&format!(
                        "{fence}{}\n{script}\n{fence}\n",
                        info_string(*role, node)
                    ));
                }
                Block::Note(text) => {
                    out.push_str("> ");
                    out.push_str(&text.replace('\n', "\n> "));
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The document as one self-contained HTML page.
    pub fn html(&self) -> String {
        let mut out = String::new();
        out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        out.push_str(&format!("<title>{}</title>\n", escape(&self.title)));
        out.push_str("<style>\n");
        out.push_str(STYLE);
        out.push_str("</style>\n</head>\n<body>\n<main>\n");
        out.push_str(&format!("<h1>{}</h1>\n", inline_html(&self.title)));
        for b in &self.blocks {
            match b {
                Block::Heading(level, text) => {
                    out.push_str(&format!("<h{level}>{}</h{level}>\n", inline_html(text)));
                }
                Block::Para(text) => out.push_str(&format!("<p>{}</p>\n", inline_html(text))),
                Block::List(items) => {
                    out.push_str("<ul>\n");
                    for i in items {
                        out.push_str(&format!("<li>{}</li>\n", inline_html(i)));
                    }
                    out.push_str("</ul>\n");
                }
                Block::Table(head, rows) => {
                    out.push_str("<table>\n<thead><tr>");
                    for h in head {
                        out.push_str(&format!("<th>{}</th>", inline_html(h)));
                    }
                    out.push_str("</tr></thead>\n<tbody>\n");
                    for r in rows {
                        out.push_str("<tr>");
                        for c in r {
                            out.push_str(&format!("<td>{}</td>", inline_html(c)));
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</tbody>\n</table>\n");
                }
                Block::Code(role, node, script) => {
                    // The label is drawn by CSS from data-label, so copying the block copies
                    // the commands only.
                    out.push_str(&format!(
                        "<pre class=\"cmd {r}\" data-role=\"{r}\" data-node=\"{n}\" data-label=\"{l}\"><code>{s}</code></pre>\n",
                        r = role.name(),
                        n = escape(node),
                        l = label(*role),
                        s = escape(script)
                    ));
                }
                Block::Note(text) => {
                    out.push_str(&format!("<p class=\"note\">{}</p>\n", inline_html(text)));
                }
            }
        }
        out.push_str("</main>\n</body>\n</html>\n");
        out
    }
}

/// The label of a command block's role on the page.
fn label(role: Role) -> &'static str {
    match role {
        Role::Setup => "set up",
        Role::Check => "check",
        Role::Gate => "gate",
        Role::Act => "run",
        Role::Wait => "wait",
        Role::Verify => "verify",
        Role::Decision => "decision",
        Role::Rollback => "roll back",
    }
}

fn longest_backtick_run(s: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            best = best.max(run);
        } else {
            run = 0;
        }
    }
    best
}

/// HTML-escaped text.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The inline syntax (`` `code` ``, `**strong**`, `[text](url)`) as HTML.
pub(crate) fn inline_html(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('`') {
            if let Some(end) = after.find('`') {
                out.push_str(&format!("<code>{}</code>", escape(&after[..end])));
                rest = &after[end + 1..];
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix("**") {
            if let Some(end) = after.find("**") {
                out.push_str(&format!("<strong>{}</strong>", inline_html(&after[..end])));
                rest = &after[end + 2..];
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix('[') {
            if let Some((text, tail)) = after.split_once("](") {
                if let Some((url, tail)) = tail.split_once(')') {
                    if url.starts_with("https://") && !text.contains('[') {
                        out.push_str(&format!(
                            "<a href=\"{}\">{}</a>",
                            escape(url),
                            inline_html(text)
                        ));
                        rest = tail;
                        continue;
                    }
                }
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push_str(&escape(&c.to_string()));
        rest = &rest[c.len_utf8()..];
    }
    out
}

const STYLE: &str = "\
body { font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #1d1d1f; margin: 0; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.7rem; margin-top: 0; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2.2rem; }
h3 { margin-top: 2rem; }
h4 { margin-top: 1.4rem; }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #f2f2f4; padding: 0 .2em; border-radius: 3px; }
pre.cmd { position: relative; background: #f7f7f9; border: 1px solid #d8d8de; border-left: 5px solid #8a8a96; border-radius: 4px; padding: 1.5rem .8rem .7rem; overflow-x: auto; white-space: pre; }
pre.cmd code { background: none; padding: 0; }
pre.cmd::before { content: attr(data-label); position: absolute; top: 0; right: 0; font: bold 11px/1 system-ui, sans-serif; text-transform: uppercase; padding: .25rem .4rem; background: #8a8a96; color: #fff; border-bottom-left-radius: 4px; }
pre.act, pre.decision, pre.rollback { border-left-color: #c2410c; }
pre.act::before, pre.decision::before, pre.rollback::before { background: #c2410c; }
pre.verify, pre.wait { border-left-color: #15803d; }
pre.verify::before, pre.wait::before { background: #15803d; }
pre.gate { border-left-color: #1d4ed8; }
pre.gate::before { background: #1d4ed8; }
p.note { border-left: 5px solid #b45309; background: #fff7ed; padding: .5rem .8rem; }
table { border-collapse: collapse; margin: .8rem 0; }
th, td { border: 1px solid #d8d8de; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f4; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  pre.cmd { white-space: pre-wrap; break-inside: avoid; }
  h2, h3, h4 { break-after: avoid; }
}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_syntax_becomes_html_and_everything_else_is_escaped() {
        assert_eq!(
            inline_html("run `a <b>` **now** & [docs](https://x.example/a?b=1&c)"),
            "run <code>a &lt;b&gt;</code> <strong>now</strong> &amp; <a href=\"https://x.example/a?b=1&amp;c\">docs</a>"
        );
        assert_eq!(inline_html("a `b"), "a `b");
        assert_eq!(inline_html("[x](javascript:y)"), "[x](javascript:y)");
    }

    #[test]
    fn code_blocks_get_a_fence_longer_than_their_backticks() {
        let doc = Doc {
            title: "T".into(),
            blocks: vec![Block::Code(Role::Act, "n".into(), "echo ```".into())],
        };
        assert!(doc
            .markdown()
            .contains("````sh pilotlight role=act node=n\necho ```\n````\n"));
        let html = doc.html();
        assert!(html.contains(
            "data-role=\"act\" data-node=\"n\" data-label=\"run\"><code>echo ```</code>"
        ));
        assert!(
            !html.contains("<script") && !html.contains("src=") && !html.contains("href=\"http")
        );
    }
}
