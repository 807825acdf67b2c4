//! Every example in the documentation is exercised. The test scans `README.md` and every
//! `docs/*.md` (so pages added later are covered too) and checks their fenced blocks by the
//! convention written at the top of `docs/README.md`:
//!
//! - ```` ```toml ```` with an `[environment]` table: a complete environment config, parsed and
//!   validated by `pilotlight_config::parse` (the loader `pilotlight check` uses; offline).
//! - ```` ```toml ```` with a `[runbook]` table: a complete runbook, parsed like `runbooks/*.toml`
//!   and planned (`build_plan`) against the last complete environment config above it in the same
//!   page, else `docs/examples/environment.toml`.
//! - ```` ```toml ```` with `[[steps]]` and no `[runbook]`: runbook steps, planned the same way under
//!   a `[runbook]` header with `direction = "failover"` (`toml failback`: `"failback"`).
//! - any other ```` ```toml ````: a fragment of an environment config, merged into
//!   `docs/examples/environment.toml` (tables merge key by key, a key given in the fragment —
//!   lists included — replaces the example's) and validated as a whole. ```` ```toml other ````:
//!   TOML that is not Pilotlight's, checked for syntax only.
//! - ```` ```sh ````: every command that runs `pilotlight` (directly, by path, or as
//!   `cargo run -p pilotlight --`) is parsed by the CLI's own clap definition, so a subcommand,
//!   flag or value that does not exist fails here.
//! - `docs/quickstart.md`: its ```` ```sh run ```` blocks are run in order against a fresh
//!   emulator, and every line of a ```` ```text check ```` block must appear in the output of the
//!   `sh run` block before it (`…` stands for any text).
//!
//! Every failure names the page and line of the example.

mod common;

use clap::Parser;
use pilotlight_core::model::EnvironmentConfig;
use pilotlight_testkit::Emulator;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The repository root.
const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
/// The endpoint the quickstart's commands name; the test substitutes its own emulator's.
const DOC_ENDPOINT: &str = "http://127.0.0.1:4566";
/// The example environment fragments are merged into, and runbooks planned against by default.
const EXAMPLE_ENV: &str = "docs/examples/environment.toml";

/// One fenced block of a page.
#[derive(Debug, Clone)]
struct Block {
    /// Page, relative to the repository root.
    file: String,
    /// 1-based line of the opening fence.
    line: usize,
    /// The info string's first word (`toml`, `sh`, `text`, ...).
    lang: String,
    /// The info string's other words.
    tags: Vec<String>,
    /// The content, without the fences.
    text: String,
}

impl Block {
    fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
    fn has(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
    /// The content, preceded by as many empty lines as the fence's line number, so that line
    /// numbers in diagnostics are the page's.
    fn text_at_page_lines(&self) -> String {
        format!("{}{}", "\n".repeat(self.line), self.text)
    }
    /// Whether a line of the content is exactly the table header `[name]`.
    fn has_table(&self, header: &str) -> bool {
        self.text.lines().any(|l| l.trim() == header)
    }
}

/// `README.md` and every `docs/*.md`, sorted, with their text.
fn pages() -> Vec<(String, String)> {
    let mut names = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .expect("read docs/")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    docs.sort();
    names.extend(docs);
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(Path::new(ROOT).join(&n))
                .unwrap_or_else(|e| panic!("read {n}: {e}"));
            (n, text)
        })
        .collect()
}

/// The fenced blocks of a page (CommonMark fences: three or more backticks or tildes, indented at
/// most three spaces, closed by a fence of the same character at least as long). Blocks nested in
/// a longer fence are content of that block, not blocks of the page.
fn fenced_blocks(file: &str, text: &str) -> Vec<Block> {
    struct Open {
        ch: char,
        len: usize,
        line: usize,
        info: String,
        body: Vec<String>,
    }
    let mut out = Vec::new();
    let mut open: Option<Open> = None;
    for (i, raw) in text.lines().enumerate() {
        let stripped = raw.trim_start_matches(' ');
        let indented = raw.len() - stripped.len() <= 3;
        let fence = |ch: char| stripped.chars().take_while(|c| *c == ch).count();
        match &mut open {
            None => {
                for ch in ['`', '~'] {
                    let len = fence(ch);
                    let info = stripped[len..].trim();
                    if indented && len >= 3 && !(ch == '`' && info.contains('`')) {
                        open = Some(Open {
                            ch,
                            len,
                            line: i + 1,
                            info: info.to_string(),
                            body: Vec::new(),
                        });
                        break;
                    }
                }
            }
            Some(o) => {
                let len = fence(o.ch);
                if indented && len >= o.len && stripped[len..].trim().is_empty() {
                    let mut words = o.info.split_whitespace().map(str::to_string);
                    out.push(Block {
                        file: file.to_string(),
                        line: o.line,
                        lang: words.next().unwrap_or_default(),
                        tags: words.collect(),
                        text: o.body.join("\n") + "\n",
                    });
                    open = None;
                } else {
                    o.body.push(raw.to_string());
                }
            }
        }
    }
    if let Some(o) = open {
        panic!("{file}:{}: this code fence is never closed", o.line);
    }
    out
}

/// Every fenced block of every page.
fn all_blocks() -> Vec<Block> {
    pages()
        .iter()
        .flat_map(|(name, text)| fenced_blocks(name, text))
        .collect()
}

fn example_env_text() -> String {
    std::fs::read_to_string(Path::new(ROOT).join(EXAMPLE_ENV)).expect("read the example env")
}

/// `a` with `b` merged in: tables merge key by key, any other value of `b` replaces `a`'s.
fn merge(a: &mut toml::Table, b: toml::Table) {
    for (k, v) in b {
        if let (Some(toml::Value::Table(at)), toml::Value::Table(bt)) = (a.get_mut(&k), &v) {
            merge(at, bt.clone());
        } else {
            a.insert(k, v);
        }
    }
}

/// What a `toml` block is, by the convention above.
#[derive(Debug, PartialEq)]
enum TomlKind {
    Environment,
    Runbook,
    Steps,
    Fragment,
    Other,
}

fn toml_kind(b: &Block) -> TomlKind {
    if b.has("other") {
        TomlKind::Other
    } else if b.has_table("[environment]") {
        TomlKind::Environment
    } else if b.has_table("[runbook]") {
        TomlKind::Runbook
    } else if b.has_table("[[steps]]") {
        TomlKind::Steps
    } else {
        TomlKind::Fragment
    }
}

/// Check one `toml` block; `env` is the environment runbooks are planned against. Returns the
/// problem, if any, and the environment the block declares, if it is one.
fn check_toml(b: &Block, env: &EnvironmentConfig) -> Result<Option<EnvironmentConfig>, String> {
    let plan = |text: String| -> Result<Option<EnvironmentConfig>, String> {
        let runbook = pilotlight_config::parse_runbook(&text, &b.file)
            .map_err(|e| format!("{}: the runbook does not parse:\n{e}", b.at()))?;
        pilotlight_core::plan::build_plan(env, &runbook)
            .map(|_| None)
            .map_err(|errors| {
                let mut msg = format!(
                    "{}: the runbook does not fit the environment it is planned against (`{}`):",
                    b.at(),
                    env.environment.name
                );
                for e in errors {
                    let _ = write!(msg, "\n  - {e}");
                }
                msg
            })
    };
    match toml_kind(b) {
        TomlKind::Other => toml::from_str::<toml::Table>(&b.text_at_page_lines())
            .map(|_| None)
            .map_err(|e| format!("{}: not valid TOML: {e}", b.at())),
        TomlKind::Environment => pilotlight_config::parse(&b.text_at_page_lines(), &b.file)
            .map(Some)
            .map_err(|e| format!("{}: not a valid environment config:\n{e}", b.at())),
        TomlKind::Runbook => plan(b.text_at_page_lines()),
        TomlKind::Steps => {
            let direction = if b.has("failback") {
                "failback"
            } else {
                "failover"
            };
            // The header goes on the fence's own line, so the steps keep their page lines.
            let header = format!("[runbook]\nname = \"example\"\ndirection = \"{direction}\"\n");
            let pad = "\n".repeat(b.line.saturating_sub(3));
            plan(format!("{pad}{header}{}", b.text))
        }
        TomlKind::Fragment => {
            let fragment: toml::Table = toml::from_str(&b.text_at_page_lines())
                .map_err(|e| format!("{}: not valid TOML: {e}", b.at()))?;
            let mut base: toml::Table = toml::from_str(&example_env_text()).expect("example");
            merge(&mut base, fragment);
            let text = toml::to_string(&base).expect("serialize the merged config");
            let name = "[merged config]".to_string();
            pilotlight_config::parse(&text, &name)
                .map(|_| None)
                .map_err(|e| {
                    format!(
                        "{}: this fragment, merged into {EXAMPLE_ENV}, is not a valid environment config \
                         (tag it `toml other` if it is not Pilotlight's):\n{e}",
                        b.at()
                    )
                })
        }
    }
}

/// Check every `toml` block of `blocks`; returns the problems and how many blocks of each kind
/// were checked.
fn check_toml_blocks(blocks: &[Block]) -> (Vec<String>, Vec<(String, TomlKind)>) {
    let example: EnvironmentConfig =
        pilotlight_config::parse(&example_env_text(), EXAMPLE_ENV).expect("the example is valid");
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    let mut page = String::new();
    let mut env = example.clone();
    for b in blocks.iter().filter(|b| b.lang == "toml") {
        if b.file != page {
            page = b.file.clone();
            env = example.clone();
        }
        match check_toml(b, &env) {
            Ok(Some(declared)) => env = declared,
            Ok(None) => {}
            Err(p) => problems.push(p),
        }
        checked.push((b.at(), toml_kind(b)));
    }
    (problems, checked)
}

#[test]
fn every_toml_example_is_valid() {
    let (problems, checked) = check_toml_blocks(&all_blocks());
    assert!(
        problems.is_empty(),
        "{} TOML example(s) in the docs are wrong (convention: docs/README.md):\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    // The docs do hold examples of each kind; if these disappear, this test checks nothing.
    for kind in [
        TomlKind::Environment,
        TomlKind::Runbook,
        TomlKind::Steps,
        TomlKind::Fragment,
    ] {
        assert!(
            checked.iter().any(|(_, k)| *k == kind),
            "no {kind:?} TOML example found in the docs: {checked:?}"
        );
    }
}

/// The checks above reject what is wrong: a mistyped field, a step of an unknown kind, a target
/// that is not in the environment, a fragment with an unknown section, and a broken fence.
#[test]
fn the_toml_checks_reject_wrong_examples() {
    let block = |info: &str, text: &str| {
        let page = format!("intro\n\n```{info}\n{text}```\n");
        fenced_blocks("docs/bad.md", &page).remove(0)
    };
    let mut env_text = example_env_text();
    env_text = env_text.replace("active_count = 4", "activ_count = 4");
    let bad_env = block("toml", &env_text);
    assert_eq!(bad_env.line, 3);
    let (problems, _) = check_toml_blocks(&[bad_env]);
    assert!(
        problems.len() == 1
            && problems[0].starts_with("docs/bad.md:3: not a valid environment config")
            && problems[0].contains("activ_count"),
        "{problems:?}"
    );

    let bad_steps = [
        ("[[steps]]\nid = \"x\"\nkind = \"teleport\"\n", "teleport"),
        (
            "[[steps]]\nid = \"x\"\nkind = \"scale_ecs\"\ntargets = [\"nope\"]\nto = \"active\"\n",
            "nope",
        ),
        (
            "[[steps]]\nid = \"x\"\nkind = \"notify\"\nmessage = \"m\"\ndepends_on = [\"y\"]\n",
            "y",
        ),
    ];
    for (text, named) in bad_steps {
        let (problems, _) = check_toml_blocks(&[block("toml", text)]);
        assert!(
            problems.len() == 1 && problems[0].contains(named),
            "{text}: {problems:?}"
        );
    }
    // A failback promotion without fence and zero-lag gate is refused, a failover one is fine.
    let promote = "[[steps]]\nid = \"p\"\nkind = \"promote_rds_replica\"\ntargets = [\"db\"]\n";
    assert!(check_toml_blocks(&[block("toml", promote)]).0.is_empty());
    assert_eq!(
        check_toml_blocks(&[block("toml failback", promote)])
            .0
            .len(),
        1
    );

    let (problems, _) = check_toml_blocks(&[block("toml", "[healthz]\nquorum = 2\n")]);
    assert!(
        problems.len() == 1 && problems[0].contains("healthz"),
        "{problems:?}"
    );
    let (problems, _) = check_toml_blocks(&[block("toml", "[health]\nquorum = 9\n")]);
    assert!(
        problems.len() == 1 && problems[0].contains("quorum"),
        "{problems:?}"
    );
    let (problems, _) = check_toml_blocks(&[block("toml other", "[package]\nname = \"x\"\n")]);
    assert!(problems.is_empty(), "{problems:?}");
    let (problems, _) = check_toml_blocks(&[block("toml other", "[package\n")]);
    assert_eq!(problems.len(), 1, "{problems:?}");

    let unclosed = std::panic::catch_unwind(|| fenced_blocks("docs/bad.md", "```sh\nls\n"));
    assert!(unclosed.is_err());
    let nested = fenced_blocks("x.md", "````markdown\n```toml\n[x]\n```\n````\n");
    assert_eq!(nested.len(), 1);
    assert_eq!(nested[0].lang, "markdown");
}

/// One simple command of a shell block: its words, the page line it starts on, and the exit code
/// its line's comment announces (`# exits 1`; default 0).
#[derive(Debug)]
struct ShellCommand {
    line: usize,
    words: Vec<String>,
    exits: i32,
}

/// Split a shell block into simple commands: continuation lines joined, comments dropped, quotes
/// and backslashes removed, split at `&&`, `||`, `;`, `|` and `&`, redirections dropped. `$(…)`
/// and `$VAR` stay literal: only the shape of the command matters here.
fn shell_commands(b: &Block) -> Vec<ShellCommand> {
    let mut out = Vec::new();
    // Logical lines: (first page line, text), joined at a trailing backslash.
    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in b.text.lines().enumerate() {
        let page_line = b.line + 1 + i;
        let (start, mut acc) = pending.take().unwrap_or((page_line, String::new()));
        if let Some(head) = line.strip_suffix('\\') {
            acc.push_str(head);
            acc.push(' ');
            pending = Some((start, acc));
        } else {
            acc.push_str(line);
            logical.push((start, acc));
        }
    }
    if let Some(p) = pending {
        logical.push(p);
    }
    for (line, text) in logical {
        let mut commands: Vec<Vec<String>> = vec![Vec::new()];
        let mut word: Option<String> = None;
        let mut comment = String::new();
        let mut chars = text.chars().peekable();
        let mut depth = 0usize; // inside `$( … )`
        let end_word = |word: &mut Option<String>, commands: &mut Vec<Vec<String>>| {
            if let Some(w) = word.take() {
                commands.last_mut().expect("a command").push(w);
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '\'' => {
                    let w = word.get_or_insert_with(String::new);
                    for c in chars.by_ref() {
                        if c == '\'' {
                            break;
                        }
                        w.push(c);
                    }
                }
                '"' => {
                    let w = word.get_or_insert_with(String::new);
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => w.extend(chars.next()),
                            c => w.push(c),
                        }
                    }
                }
                '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
                '$' if chars.peek() == Some(&'(') => {
                    depth += 1;
                    word.get_or_insert_with(String::new).push(c);
                }
                ')' if depth > 0 => {
                    depth -= 1;
                    word.get_or_insert_with(String::new).push(c);
                }
                c if depth > 0 => word.get_or_insert_with(String::new).push(c),
                '#' if word.is_none() => {
                    comment = chars.by_ref().collect();
                }
                '&' if word
                    .as_deref()
                    .is_some_and(|w| w.ends_with('>') || w.ends_with('<')) =>
                {
                    word.get_or_insert_with(String::new).push(c);
                }
                ';' | '&' | '|' => {
                    end_word(&mut word, &mut commands);
                    if chars.peek() == Some(&c) {
                        chars.next();
                    }
                    commands.push(Vec::new());
                }
                c if c.is_whitespace() => end_word(&mut word, &mut commands),
                c => word.get_or_insert_with(String::new).push(c),
            }
        }
        end_word(&mut word, &mut commands);
        let exits = comment
            .split_whitespace()
            .skip_while(|w| *w != "exits")
            .nth(1)
            .and_then(|n| n.trim_end_matches([':', ',', ';', '.']).parse().ok())
            .unwrap_or(0);
        for words in commands {
            // Redirections (`> file`, `2>&1`, `>file`) are the shell's, not the command's.
            let mut kept = Vec::new();
            let mut skip_next = false;
            for w in words {
                if skip_next {
                    skip_next = false;
                    continue;
                }
                let bare = w.trim_start_matches(|c: char| c.is_ascii_digit());
                if bare.starts_with('>') || bare.starts_with('<') {
                    skip_next =
                        bare.trim_start_matches(['>', '<', '&']).is_empty() && !bare.contains('&');
                    continue;
                }
                kept.push(w);
            }
            if !kept.is_empty() {
                out.push(ShellCommand {
                    line,
                    words: kept,
                    exits,
                });
            }
        }
    }
    out
}

/// The argument vector of `pilotlight` if this command runs it: `pilotlight …`, a path ending in
/// `/pilotlight`, or `cargo run … -p pilotlight … -- …`; environment assignments and `exec`,
/// `time`, `sudo`, `env` in front are skipped.
fn pilotlight_argv(words: &[String]) -> Option<Vec<String>> {
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let assignment = w.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if assignment || ["exec", "time", "sudo", "env"].contains(&w.as_str()) {
            i += 1;
        } else {
            break;
        }
    }
    let rest = &words[i..];
    let program = rest.first()?;
    if program == "cargo" && rest.get(1).map(String::as_str) == Some("run") {
        let sep = rest.iter().position(|w| w == "--");
        let cargo_args = &rest[..sep.unwrap_or(rest.len())];
        let names_pilotlight = cargo_args
            .windows(2)
            .any(|p| ["-p", "--package", "--bin"].contains(&p[0].as_str()) && p[1] == "pilotlight");
        if !names_pilotlight {
            return None;
        }
        let mut argv = vec!["pilotlight".to_string()];
        if let Some(sep) = sep {
            argv.extend(rest[sep + 1..].iter().cloned());
        }
        return Some(argv);
    }
    if program == "pilotlight" || program.ends_with("/pilotlight") {
        let mut argv = vec!["pilotlight".to_string()];
        argv.extend(rest[1..].iter().cloned());
        return Some(argv);
    }
    None
}

/// Parse `argv` with the CLI's clap definition; `--help` and `--version` count as valid.
fn clap_check(argv: &[String]) -> Result<(), String> {
    match pilotlight::Cli::try_parse_from(argv) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e.render().to_string()),
    }
}

/// Check every `pilotlight` command of the `sh` blocks; returns the problems and how many
/// commands were checked.
fn check_shell_blocks(blocks: &[Block]) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut checked = 0;
    for b in blocks
        .iter()
        .filter(|b| ["sh", "bash", "shell"].contains(&b.lang.as_str()))
    {
        for c in shell_commands(b) {
            let Some(argv) = pilotlight_argv(&c.words) else {
                continue;
            };
            checked += 1;
            if let Err(e) = clap_check(&argv) {
                problems.push(format!(
                    "{}:{}: `{}` is not a valid pilotlight command:\n{e}",
                    b.file,
                    c.line,
                    argv.join(" ")
                ));
            }
        }
    }
    (problems, checked)
}

#[test]
fn every_pilotlight_command_in_the_docs_parses() {
    let (problems, checked) = check_shell_blocks(&all_blocks());
    assert!(
        problems.is_empty(),
        "{} command(s) in the docs name a subcommand, flag or value that does not exist:\n\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        checked >= 30,
        "only {checked} pilotlight commands found in the docs"
    );
}

/// The shell check finds commands in every form the docs use and rejects what clap rejects.
#[test]
fn the_shell_check_rejects_wrong_commands() {
    let page = "x\n```sh\n\
        pilotlight failover --config c.toml --reason r --no-such-flag   # a comment\n\
        cargo run -q -p pilotlight -- runs shwo 1\n\
        PILOTLIGHT_JOURNAL=/tmp/j.db ./target/debug/pilotlight check \\\n  --config c.toml --output yaml\n\
        docker build -t pilotlight:0.1.0 . && pilotlight plan failover -c c.toml > plan.txt\n\
        aws route53 get-health-check --health-check-id x | pilotlight --help\n\
        pilotlight status --config \"my env.toml\" 2>&1 | tee out   # exits 1\n\
        ```\n";
    let blocks = fenced_blocks("docs/bad.md", page);
    let commands = shell_commands(&blocks[0]);
    let lines: Vec<usize> = commands.iter().map(|c| c.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 7, 7, 8, 8, 9, 9], "{commands:?}");
    assert_eq!(commands[7].exits, 1);
    assert_eq!(
        commands[7].words,
        vec!["pilotlight", "status", "--config", "my env.toml"]
    );
    let (problems, checked) = check_shell_blocks(&blocks);
    assert_eq!(checked, 6, "{problems:?}");
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].starts_with("docs/bad.md:3:") && problems[0].contains("--no-such-flag"));
    assert!(problems[1].starts_with("docs/bad.md:4:") && problems[1].contains("shwo"));
    assert!(problems[2].starts_with("docs/bad.md:5:") && problems[2].contains("yaml"));
}

/// Whether `line` of the real output matches `pattern` of a `text check` block: the same words
/// (runs of spaces count as one, so column widths do not matter), where `…` stands for any text.
fn matches(pattern: &str, line: &str) -> bool {
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let pattern = words(pattern);
    let line = words(line);
    let line = line.as_str();
    let pieces: Vec<&str> = pattern.split('…').collect();
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if pieces.len() == 1 {
        return line == first;
    }
    if !line.starts_with(first) || !line.ends_with(last) || line.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    true
}

#[test]
fn output_patterns_match_what_they_say() {
    assert!(matches("run … started", "run 20261121-223611-2fc4 started"));
    assert!(matches(
        "  ✔ promote-db/db (…) status available, standalone",
        "✔ promote-db/db (0.1s) status available, standalone"
    ));
    assert!(matches("a … b … c", "a 1 b 2 c"));
    assert!(!matches("a … b … c", "a 1 c 2 b"));
    assert!(!matches("run … started", "run 1 succeeded"));
    assert!(!matches("Phase        failed over", "Phase        normal"));
    assert!(matches("…", "anything"));
    assert!(matches(
        "* done   succeeded   …  notified",
        "* done succeeded     366.0s      0.0s  notified"
    ));
}

/// A run id as Pilotlight prints them: `YYYYMMDD-HHMMSS-xxxx`.
fn is_run_id(w: &str) -> bool {
    let parts: Vec<&str> = w.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 8
        && parts[1].len() == 6
        && parts[0]
            .chars()
            .chain(parts[1].chars())
            .all(|c| c.is_ascii_digit())
        && parts[2].len() == 4
        && parts[2].chars().all(|c| c.is_ascii_hexdigit())
}

/// The quickstart, followed as written: a fresh emulator, then every `sh run` command in order
/// (with the emulator's endpoint for `http://127.0.0.1:4566`, the id of the latest run for a run
/// id, and the failback's 2-minute soak shortened to 1 s), each exiting as its comment says, and
/// every line of each `text check` block found in the output of the commands before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quickstart_runs_end_to_end_in_the_sandbox() {
    let page = "docs/quickstart.md";
    let text = std::fs::read_to_string(Path::new(ROOT).join(page)).expect("read the quickstart");
    let blocks = fenced_blocks(page, &text);
    let emu = Emulator::start().await.expect("start the emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let runbooks = dir.path().join("runbooks");
    std::fs::create_dir_all(&runbooks).unwrap();
    for name in ["failover.toml", "failback.toml"] {
        let original = std::fs::read_to_string(PathBuf::from(common::RUNBOOKS).join(name)).unwrap();
        let quick = original.replace("soak = \"2m\"", "soak = \"1s\"");
        if name == "failback.toml" {
            assert_ne!(
                quick, original,
                "the failback runbook has a soak to shorten"
            );
        }
        std::fs::write(runbooks.join(name), quick).unwrap();
    }

    let mut failures = Vec::new();
    let mut output: Option<(String, String)> = None; // (where the commands are, their output)
    let mut latest_run: Option<String> = None;
    let (mut ran, mut checked) = (0, 0);
    for b in &blocks {
        if b.lang == "sh" && b.has("run") {
            let mut all = String::new();
            for c in shell_commands(b) {
                let at = format!("{}:{}", b.file, c.line);
                let argv = pilotlight_argv(&c.words).unwrap_or_else(|| {
                    panic!("{at}: a `sh run` block runs only pilotlight commands")
                });
                let args: Vec<String> = argv[1..]
                    .iter()
                    .map(|a| {
                        if a == DOC_ENDPOINT {
                            emu.endpoint()
                        } else if is_run_id(a) {
                            latest_run
                                .clone()
                                .unwrap_or_else(|| panic!("{at}: names a run id before any run"))
                        } else {
                            a.clone()
                        }
                    })
                    .collect();
                let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pilotlight"))
                    .args(&args)
                    .current_dir(dir.path())
                    .env("AWS_EC2_METADATA_DISABLED", "true")
                    .env("NO_COLOR", "1")
                    .env("USER", "alice")
                    .env_remove("PILOTLIGHT_LOG")
                    .env_remove("PILOTLIGHT_JOURNAL")
                    .env_remove("PILOTLIGHT_RUNBOOKS")
                    .output()
                    .await
                    .expect("run pilotlight");
                ran += 1;
                let both = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
                for line in both.lines() {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    if let ["run", id, "started"] = words[..] {
                        latest_run = Some(id.to_string());
                    }
                }
                let code = out.status.code().unwrap_or(-1);
                assert_eq!(
                    code,
                    c.exits,
                    "{at}: `pilotlight {}` exited {code}, the page says {}:\n{both}",
                    args.join(" "),
                    c.exits
                );
                all.push_str(&both);
            }
            output = Some((b.at(), all));
        }
        if b.lang == "text" && b.has("check") {
            let (from, out) = output.as_ref().unwrap_or_else(|| {
                panic!(
                    "{}: a `text check` block must follow a `sh run` block",
                    b.at()
                )
            });
            for (i, pattern) in b.text.lines().enumerate() {
                if pattern.trim().is_empty() || pattern.trim() == "…" {
                    continue;
                }
                checked += 1;
                if !out.lines().any(|l| matches(pattern, l)) {
                    failures.push(format!(
                        "{}:{}: not in the output of the commands at {from}:\n    {}\n  output:\n{}",
                        b.file,
                        b.line + 1 + i,
                        pattern.trim(),
                        out
                    ));
                }
            }
        }
    }
    emu.shutdown().await;
    assert!(
        failures.is_empty(),
        "the quickstart's sample output differs from the real output:\n\n{}",
        failures.join("\n\n")
    );
    assert!(
        ran >= 8 && checked >= 20,
        "the quickstart ran {ran} commands and checked {checked} output lines"
    );
}

/// One row of a `text timeline` block: the time, each vantage point's outcome (`None`: no
/// report), and the declaration expected after evaluating that round.
struct TimelineRow {
    line: usize,
    at: std::time::Duration,
    outcomes: Vec<(String, Option<pilotlight_core::health::ProbeOutcome>)>,
    declared: Option<pilotlight_core::health::DeclarationKind>,
}

/// Parse a `text timeline` block: a header `time VANTAGE… declared`, then one row per round.
fn timeline_rows(b: &Block) -> Result<Vec<TimelineRow>, String> {
    use pilotlight_core::health::{DeclarationKind, ProbeOutcome};
    let mut lines = b
        .text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(format!("{}: empty timeline", b.at()))?;
    let header: Vec<&str> = header.split_whitespace().collect();
    if header.len() < 3 || header[0] != "time" || header[header.len() - 1] != "declared" {
        return Err(format!(
            "{}: a timeline's header is `time VANTAGE_POINT… declared`",
            b.at()
        ));
    }
    let vantages = &header[1..header.len() - 1];
    let mut rows = Vec::new();
    for (i, line) in lines {
        let at_line = b.line + 1 + i;
        let cells: Vec<&str> = line.split_whitespace().collect();
        if cells.len() != header.len() {
            return Err(format!(
                "{}:{at_line}: expected {} columns",
                b.file,
                header.len()
            ));
        }
        let at = humantime::parse_duration(cells[0])
            .map_err(|e| format!("{}:{at_line}: time `{}`: {e}", b.file, cells[0]))?;
        let mut outcomes = Vec::new();
        for (v, cell) in vantages.iter().zip(&cells[1..]) {
            let o = match *cell {
                "up" => Some(ProbeOutcome::Up),
                "down" => Some(ProbeOutcome::down("timeline")),
                "unknown" => Some(ProbeOutcome::Unknown),
                "-" => None,
                other => {
                    return Err(format!(
                        "{}:{at_line}: `{other}` is not up, down, unknown or -",
                        b.file
                    ))
                }
            };
            outcomes.push((v.to_string(), o));
        }
        let declared = match cells[cells.len() - 1] {
            "-" => None,
            "failure" => Some(DeclarationKind::Failure),
            "recovery" => Some(DeclarationKind::Recovery),
            other => {
                return Err(format!(
                    "{}:{at_line}: `{other}` is not -, failure or recovery",
                    b.file
                ))
            }
        };
        rows.push(TimelineRow {
            line: at_line,
            at,
            outcomes,
            declared,
        });
    }
    Ok(rows)
}

/// Replay a timeline through the core's evaluator with `health` (a config whose `[health]` the
/// timeline illustrates); on each declared failure, the trigger with every interlock clear must
/// fail over in `auto` mode. Returns the problems.
fn replay_timeline(b: &Block, env: &EnvironmentConfig) -> Vec<String> {
    use pilotlight_core::health::{
        trigger, DeclaredFailure, HealthEvaluator, ProbeSample, ReadinessInput, TriggerInputs,
        TriggerMode,
    };
    let rows = match timeline_rows(b) {
        Ok(r) => r,
        Err(e) => return vec![e],
    };
    let Some(health) = &env.health else {
        return vec![format!("{}: no [health] above this timeline", b.at())];
    };
    let mut eval = match HealthEvaluator::new(health.settings()) {
        Ok(e) => e,
        Err(e) => return vec![format!("{}: {e}", b.at())],
    };
    let mut problems = Vec::new();
    for row in &rows {
        for (vantage, outcome) in &row.outcomes {
            let Some(outcome) = outcome else { continue };
            let vp = health.vantage_points.iter().find(|v| &v.id == vantage);
            let Some(vp) = vp else {
                problems.push(format!(
                    "{}:{}: no vantage point `{vantage}`",
                    b.file, row.line
                ));
                continue;
            };
            for p in health
                .probes
                .iter()
                .filter(|p| vp.probes.is_empty() || vp.probes.contains(&p.id))
            {
                let sample =
                    ProbeSample::new(p.id.as_str(), vantage.as_str(), row.at, outcome.clone());
                if let Err(e) = eval.observe(sample) {
                    problems.push(format!("{}:{}: {e}", b.file, row.line));
                }
            }
        }
        let assessment = eval.evaluate(row.at);
        let got = assessment.declaration.as_ref().map(|d| d.kind);
        if got != row.declared {
            problems.push(format!(
                "{}:{}: at {} the evaluator declares {:?}, the page says {:?} (votes: {:?})",
                b.file,
                row.line,
                humantime::format_duration(row.at),
                got,
                row.declared,
                assessment.votes
            ));
        }
        if let Some(d) = assessment
            .declaration
            .filter(|d| d.kind == row.declared.unwrap_or(d.kind))
        {
            let Some(failure) = DeclaredFailure::from_declaration(&d) else {
                continue;
            };
            let inputs = TriggerInputs {
                failure: Some(failure),
                readiness: Some(ReadinessInput {
                    verdict: pilotlight_core::readiness::Verdict::Ready,
                    evaluated_at: row.at,
                    summary: String::new(),
                }),
                ..TriggerInputs::default()
            };
            let decision = trigger::decide(&health.trigger, &inputs, row.at);
            if health.trigger.mode == TriggerMode::Auto && !decision.is_fail_over() {
                problems.push(format!(
                    "{}:{}: with every interlock clear the trigger decides: {}",
                    b.file,
                    row.line,
                    decision.summary()
                ));
            }
        }
    }
    if !rows.iter().any(|r| r.declared.is_some()) {
        problems.push(format!("{}: the timeline declares nothing", b.at()));
    }
    problems
}

/// Every `text timeline` block replays as written, with the `[health]` of the last TOML example
/// above it on its page (merged into the example environment when it is a fragment).
#[test]
fn every_health_timeline_replays_as_documented() {
    let blocks = all_blocks();
    let mut problems = Vec::new();
    let mut replayed = 0;
    for (i, b) in blocks.iter().enumerate() {
        if !(b.lang == "text" && b.has("timeline")) {
            continue;
        }
        replayed += 1;
        let Some(source) = blocks[..i]
            .iter()
            .rev()
            .find(|p| p.file == b.file && p.lang == "toml" && p.text.contains("[health"))
        else {
            problems.push(format!(
                "{}: no TOML example with [health] above it",
                b.at()
            ));
            continue;
        };
        let env = if toml_kind(source) == TomlKind::Environment {
            pilotlight_config::parse(&source.text, &source.file).ok()
        } else {
            let mut base: toml::Table = toml::from_str(&example_env_text()).expect("example");
            merge(&mut base, toml::from_str(&source.text).unwrap_or_default());
            pilotlight_config::parse(&toml::to_string(&base).unwrap(), "[merged config]").ok()
        };
        match env {
            Some(env) => problems.extend(replay_timeline(b, &env)),
            None => problems.push(format!("{}: the config above it is not valid", b.at())),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(replayed >= 1, "no `text timeline` block in the docs");
}

/// A timeline that says something the evaluator does not do is caught, with its line.
#[test]
fn a_wrong_timeline_is_caught() {
    let page = "```toml\n[health]\npreset = \"fast\"\nquorum = 2\n[health.trigger]\nmode = \"auto\"\n\
        [[health.probes]]\nid = \"p\"\nkind = \"tcp\"\naddress = \"h:1\"\n\
        [[health.vantage_points]]\nid = \"a\"\nruns_in = \"control\"\n\
        [[health.vantage_points]]\nid = \"b\"\ntoken_sha256 = \"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"\n```\n\
        ```text timeline\ntime a b declared\n0s down down -\n10s down down -\n20s down up failure\n```\n";
    let blocks = fenced_blocks("docs/bad.md", page);
    let mut base: toml::Table = toml::from_str(&example_env_text()).unwrap();
    merge(&mut base, toml::from_str(&blocks[0].text).unwrap());
    let env = pilotlight_config::parse(&toml::to_string(&base).unwrap(), "x").unwrap();
    let problems = replay_timeline(&blocks[1], &env);
    // Quorum 2 of 2: one vantage point down at 20 s is not a failure.
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("docs/bad.md:22:"), "{problems:?}");
}

/// Pages linked from these docs before they exist (none now; a page being written goes here
/// until it is merged).
const PAGES_BEING_WRITTEN: &[&str] = &[];

/// The relative link targets of a page's Markdown links (`](target)`), with their lines; code
/// blocks are skipped.
fn relative_links(file: &str, text: &str) -> Vec<(usize, String)> {
    let fenced: std::collections::BTreeSet<usize> = fenced_blocks(file, text)
        .iter()
        .flat_map(|b| b.line..=b.line + b.text.lines().count() + 1)
        .collect();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if fenced.contains(&(i + 1)) {
            continue;
        }
        // Inline code (`…`) is not a link.
        let prose: String = line
            .split('`')
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(_, s)| s)
            .collect();
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = &rest[..end];
            rest = &rest[end..];
            let path = target.split('#').next().unwrap_or("");
            if path.is_empty() || path.contains("://") || path.starts_with("mailto:") {
                continue;
            }
            out.push((i + 1, path.to_string()));
        }
    }
    out
}

/// Every relative link of the docs points at a file or directory of the repository.
#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = Path::new(ROOT).canonicalize().unwrap();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, text) in pages() {
        let dir = Path::new(&name)
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        for (line, target) in relative_links(&name, &text) {
            checked += 1;
            let joined = dir.join(&target);
            // Normalise `a/../b` without touching the file system.
            let mut parts: Vec<String> = Vec::new();
            for c in joined.components() {
                match c {
                    std::path::Component::ParentDir => {
                        parts.pop();
                    }
                    std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into()),
                    _ => {}
                }
            }
            let relative = parts.join("/");
            if root.join(&relative).exists() || PAGES_BEING_WRITTEN.contains(&relative.as_str()) {
                continue;
            }
            problems.push(format!(
                "{name}:{line}: link to `{target}`: no such file ({relative})"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 40, "only {checked} relative links found");
    let page =
        "see [a](missing.md) and [b](../README.md#x), [c](https://x.y), `[e](code.md)`\n```md\n[d](nope.md)\n```\n";
    assert_eq!(
        relative_links("docs/x.md", page),
        vec![
            (1, "missing.md".to_string()),
            (1, "../README.md".to_string())
        ]
    );
}
