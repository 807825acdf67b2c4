//! The command-block convention of rendered runbooks, and its parser.
//!
//! Every shell command of a rendered Markdown runbook is in a fenced block whose info string is
//! `sh pilotlight role=ROLE node=NODE`: `sh` for highlighting, `pilotlight` marks the block as
//! part of the procedure, `role` says what the block is for ([`Role`]) and `node` names the plan
//! node it belongs to (`scale-services/api`; `before-you-start` for the preamble). A block is
//! self-contained: it starts with the look-ups it needs (`HC=$(aws ...)`), so it can be pasted on
//! its own. A block whose output must match something ends with one comment line, `# expect: TEXT`
//! (the output equals TEXT, whitespace-insensitive, `*` matching any run of characters),
//! `# expect at most: N` or `# expect at least: N` (the output is a number in that range).
//! Blocks appear in an order that respects every dependency of the plan.

use serde::{Deserialize, Serialize};

/// The tag in a fenced block's info string that marks a command block of a rendered runbook.
pub const TAG: &str = "pilotlight";

/// What a command block is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Environment variables every other block relies on: run once in the shell you use.
    Setup,
    /// A read before acting: the state now (for the rollback), or a precondition.
    Check,
    /// A read a rule is applied to before going on (readiness, replication lag, health).
    Gate,
    /// Changes AWS: the step itself.
    Act,
    /// Blocks until AWS reports the state the step waits for (`aws ... wait ...`).
    Wait,
    /// Reads the result; the step is done when it shows what the block expects.
    Verify,
    /// Run only when the step stops for a person's decision (a drain past its timeout, a health
    /// drop during a gradual shift).
    Decision,
    /// Run only to undo the step.
    Rollback,
}

impl Role {
    /// Every role, in the order they are documented.
    pub const ALL: [Role; 8] = [
        Role::Setup,
        Role::Check,
        Role::Gate,
        Role::Act,
        Role::Wait,
        Role::Verify,
        Role::Decision,
        Role::Rollback,
    ];

    /// The name used in info strings (`role=act`).
    pub fn name(self) -> &'static str {
        match self {
            Role::Setup => "setup",
            Role::Check => "check",
            Role::Gate => "gate",
            Role::Act => "act",
            Role::Wait => "wait",
            Role::Verify => "verify",
            Role::Decision => "decision",
            Role::Rollback => "rollback",
        }
    }

    /// The role named `name`, if any.
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }

    /// Whether blocks of this role change AWS.
    pub fn mutates(self) -> bool {
        matches!(self, Role::Act | Role::Decision | Role::Rollback)
    }

    /// Whether the block belongs to the straight path of the procedure (run in order, every
    /// time), as opposed to decisions and rollbacks, which are run only when called for.
    pub fn forward(self) -> bool {
        !matches!(self, Role::Decision | Role::Rollback)
    }
}

/// What a block's output must show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// The output equals this text, comparing whitespace-separated words; `*` in the text
    /// matches any run of characters.
    Equals(String),
    /// The output is a number no larger than this.
    AtMost(f64),
    /// The output is a number no smaller than this.
    AtLeast(f64),
}

impl Expect {
    /// The comment line that states the expectation in a block.
    pub fn comment(&self) -> String {
        match self {
            Expect::Equals(t) => format!("# expect: {t}"),
            Expect::AtMost(n) => format!("# expect at most: {}", number(*n)),
            Expect::AtLeast(n) => format!("# expect at least: {}", number(*n)),
        }
    }

    /// The expectation stated by a comment line, if it is one.
    pub fn parse_comment(line: &str) -> Option<Expect> {
        let line = line.trim();
        if let Some(n) = line.strip_prefix("# expect at most:") {
            return n.trim().parse().ok().map(Expect::AtMost);
        }
        if let Some(n) = line.strip_prefix("# expect at least:") {
            return n.trim().parse().ok().map(Expect::AtLeast);
        }
        line.strip_prefix("# expect:")
            .map(|t| Expect::Equals(t.trim().to_string()))
    }

    /// For people: what the output must show.
    pub fn describe(&self) -> String {
        match self {
            Expect::Equals(t) => format!("`{t}`"),
            Expect::AtMost(n) => format!("a number ≤ {}", number(*n)),
            Expect::AtLeast(n) => format!("a number ≥ {}", number(*n)),
        }
    }

    /// Whether `output` (a command's standard output) shows what is expected.
    pub fn matches(&self, output: &str) -> bool {
        let words: Vec<&str> = output.split_whitespace().collect();
        match self {
            Expect::Equals(t) => {
                let want: Vec<&str> = t.split_whitespace().collect();
                glob(&want.join(" "), &words.join(" "))
            }
            Expect::AtMost(n) => single_number(&words).is_some_and(|v| v <= *n),
            Expect::AtLeast(n) => single_number(&words).is_some_and(|v| v >= *n),
        }
    }
}

fn single_number(words: &[&str]) -> Option<f64> {
    match words {
        [one] => one.parse::<f64>().ok().filter(|v| v.is_finite()),
        _ => None,
    }
}

/// A number without a needless fraction (`60`, `0.5`).
pub(crate) fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// One command block of a rendered runbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandBlock {
    /// The plan node it belongs to (`before-you-start` for the preamble).
    pub node: String,
    /// What it is for.
    pub role: Role,
    /// The shell text (bash), without the fences.
    pub script: String,
    /// What its output must show, from its `# expect` line.
    pub expect: Option<Expect>,
}

/// The info string of a command block.
pub(crate) fn info_string(role: Role, node: &str) -> String {
    let node = if node.chars().any(|c| c.is_whitespace() || c == '"') {
        format!("\"{}\"", node.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        node.to_string()
    };
    format!("sh {TAG} role={} node={node}", role.name())
}

/// The `key=value` attributes of an info string (values may be double-quoted).
fn attributes(info: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = info.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return out;
        }
        let mut key = String::new();
        while let Some(c) = chars.peek().copied() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.peek().copied() {
                    if c.is_whitespace() {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((key, value));
    }
}

/// The command blocks of a rendered Markdown runbook, in document order. Fenced blocks without
/// the [`TAG`] (or with an unknown role) are not command blocks and are skipped.
pub fn command_blocks(markdown: &str) -> Vec<CommandBlock> {
    let mut out = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let fence_len = trimmed.chars().take_while(|c| *c == '`').count();
        if fence_len < 3 {
            continue;
        }
        let fence = &trimmed[..fence_len];
        let info = trimmed[fence_len..].trim();
        let mut body = Vec::new();
        for l in lines.by_ref() {
            if l.trim() == fence {
                break;
            }
            body.push(l);
        }
        let mut words = info.split_whitespace();
        if words.next() != Some("sh") || words.next() != Some(TAG) {
            continue;
        }
        let attrs = attributes(info);
        let get = |k: &str| {
            attrs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let (Some(role), Some(node)) = (get("role").as_deref().and_then(Role::parse), get("node"))
        else {
            continue;
        };
        let expect = body.iter().rev().find_map(|l| Expect::parse_comment(l));
        out.push(CommandBlock {
            node,
            role,
            script: body.join("\n"),
            expect,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_match_words_globs_and_bounds() {
        let e = Expect::Equals("4 4".into());
        assert!(e.matches("4\t4\n"));
        assert!(!e.matches("4\t3\n"));
        let arn = Expect::Equals("available arn:*:rds:us-east-1:*:db:confer-db".into());
        assert!(arn.matches("available\tarn:aws:rds:us-east-1:123456789012:db:confer-db\n"));
        assert!(!arn.matches("available\tarn:aws:rds:us-west-2:123456789012:db:confer-db\n"));
        assert!(!arn.matches("available\tarn:aws:rds:us-east-1:1:db:confer-db-replica\n"));
        assert!(Expect::AtMost(60.0).matches("2.0\n"));
        assert!(!Expect::AtMost(60.0).matches("61\n"));
        assert!(
            !Expect::AtMost(0.0).matches("None\n"),
            "unknown is not within budget"
        );
        assert!(Expect::AtMost(0.0).matches("0.0"));
        assert!(Expect::AtLeast(5.0).matches("6"));
        assert!(!Expect::AtLeast(5.0).matches("4"));
        assert!(!Expect::AtLeast(5.0).matches("5 6"));
    }

    #[test]
    fn comments_round_trip() {
        for e in [
            Expect::Equals("True".into()),
            Expect::AtMost(0.0),
            Expect::AtMost(0.5),
            Expect::AtLeast(4.0),
        ] {
            assert_eq!(Expect::parse_comment(&e.comment()), Some(e.clone()));
        }
        assert_eq!(Expect::parse_comment("# a comment"), None);
    }

    #[test]
    fn blocks_are_parsed_with_role_node_and_expectation() {
        let md = "text\n\n```sh pilotlight role=verify node=scale-services/api\naws ecs describe-services\n# expect: 4 4\n```\n\n```sh\nnot ours\n```\n\n```sh pilotlight role=act node=\"odd id\"\naws x\n```\n";
        let blocks = command_blocks(md);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].node, "scale-services/api");
        assert_eq!(blocks[0].role, Role::Verify);
        assert_eq!(blocks[0].expect, Some(Expect::Equals("4 4".into())));
        assert_eq!(blocks[1].node, "odd id");
        assert_eq!(blocks[1].role, Role::Act);
        assert_eq!(blocks[1].script, "aws x");
        assert_eq!(
            info_string(Role::Act, "odd id"),
            "sh pilotlight role=act node=\"odd id\""
        );
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.name()), Some(r));
        }
        assert!(Role::Act.mutates() && Role::Rollback.mutates() && !Role::Verify.mutates());
        assert!(Role::Act.forward() && !Role::Decision.forward());
    }
}
