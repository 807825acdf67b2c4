//! Building shell text: quoting, AWS CLI command lines wrapped for reading, JMESPath literals,
//! and the look-ups of values only known at run time.

use std::time::Duration;

/// Width after which a command line is continued on the next line.
const WIDTH: usize = 120;

/// `s` as one shell word: unchanged when it is made of safe characters, single-quoted otherwise.
pub(crate) fn word(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '-' | '.' | '/' | ':' | '=' | ',' | '@' | '+' | '%')
        });
    if safe {
        s.to_string()
    } else {
        single_quoted(s)
    }
}

/// `s` single-quoted for the shell (a `'` inside becomes `'\''`).
pub(crate) fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A JMESPath JSON literal of a string: `` `"value"` ``.
pub(crate) fn lit(s: &str) -> String {
    let json = serde_json::to_string(s).expect("a string serializes");
    format!("`{}`", json.replace('`', "\\`"))
}

/// A JMESPath JSON literal of a number: `` `6` ``.
pub(crate) fn num(n: impl std::fmt::Display) -> String {
    format!("`{n}`")
}

/// An AWS CLI command line.
#[derive(Debug, Clone)]
pub(crate) struct Aws {
    words: Vec<String>,
}

impl Aws {
    /// `aws SERVICE OPERATION`.
    pub fn new(service: &str, operation: &str) -> Aws {
        Aws {
            words: vec![format!("aws {service} {operation}")],
        }
    }

    /// `--name value`, the value quoted as needed.
    pub fn opt(mut self, name: &str, value: &str) -> Aws {
        self.words.push(format!("--{name} {}", word(value)));
        self
    }

    /// `--name value` where the value is already shell text (a `"$VAR"`, a quoted query).
    pub fn raw(mut self, name: &str, value: &str) -> Aws {
        self.words.push(format!("--{name} {value}"));
        self
    }

    /// `--name`.
    pub fn flag(mut self, name: &str) -> Aws {
        self.words.push(format!("--{name}"));
        self
    }

    /// `--query '…'`.
    pub fn query(self, expression: &str) -> Aws {
        self.raw("query", &single_quoted(expression))
    }

    /// `--query '…' --output text`.
    pub fn text(self, expression: &str) -> Aws {
        self.query(expression).opt("output", "text")
    }

    /// The command, continued with `\` over lines of about [`WIDTH`] characters.
    pub fn line(&self) -> String {
        let mut out = String::new();
        let mut width = 0;
        for (i, w) in self.words.iter().enumerate() {
            let first_line_len = w.lines().next().unwrap_or("").len();
            if i > 0 {
                if width + 1 + first_line_len > WIDTH {
                    out.push_str(" \\\n  ");
                    width = 2;
                } else {
                    out.push(' ');
                    width += 1;
                }
            }
            out.push_str(w);
            width = match w.rfind('\n') {
                Some(p) => w.len() - p - 1,
                None => width + w.len(),
            };
        }
        out
    }

    /// `VAR=$(command)`.
    pub fn assign(&self, var: &str) -> String {
        format!("{var}=$({})", self.line())
    }
}

/// A duration for people: `15m`, `2m 30s`, `1h`, `0s`.
pub(crate) fn dur(d: Duration) -> String {
    let total = d.as_secs();
    if total == 0 {
        return if d.is_zero() {
            "0s".into()
        } else {
            format!("{}ms", d.as_millis())
        };
    }
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}

/// A record name as Route 53 lists it: lower case, with the final dot, characters outside
/// `a-z0-9-_.` as `\ooo` octal escapes (`*` is `\052`).
pub(crate) fn route53_name(name: &str) -> String {
    let mut n = name.to_ascii_lowercase();
    if !n.ends_with('.') {
        n.push('.');
    }
    n.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c.to_string()
            } else if c.is_ascii() {
                format!("\\{:03o}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(word("confer-api"), "confer-api");
        assert_eq!(
            word("arn:aws:rds:us-east-1:1:db:x"),
            "arn:aws:rds:us-east-1:1:db:x"
        );
        assert_eq!(word("a b"), "'a b'");
        assert_eq!(word("it's"), "'it'\\''s'");
        assert_eq!(word(""), "''");
        assert_eq!(word("$HOME"), "'$HOME'");
    }

    #[test]
    fn literals_are_json_inside_backticks() {
        assert_eq!(lit("api.confer.example."), "`\"api.confer.example.\"`");
        assert_eq!(lit("a`b\"c"), "`\"a\\`b\\\"c\"`");
        assert_eq!(num(6), "`6`");
    }

    #[test]
    fn long_commands_are_continued() {
        let c = Aws::new("rds", "delete-db-instance")
            .opt("region", "us-east-1")
            .opt("db-instance-identifier", "confer-db")
            .raw(
                "final-db-snapshot-identifier",
                "\"confer-db-pilotlight-final-$(date -u +%s)\"",
            )
            .flag("no-skip-final-snapshot");
        let line = c.line();
        assert!(line.contains(" \\\n  "), "{line}");
        assert!(line.lines().all(|l| l.len() <= WIDTH + 2), "{line}");
        assert_eq!(
            Aws::new("ecs", "update-service")
                .opt("region", "us-west-2")
                .line(),
            "aws ecs update-service --region us-west-2"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(dur(Duration::from_secs(900)), "15m");
        assert_eq!(dur(Duration::from_secs(150)), "2m 30s");
        assert_eq!(dur(Duration::from_secs(7200)), "2h");
        assert_eq!(dur(Duration::ZERO), "0s");
        assert_eq!(dur(Duration::from_millis(500)), "500ms");
    }

    #[test]
    fn record_names_are_listed_names() {
        assert_eq!(route53_name("API.confer.example"), "api.confer.example.");
        assert_eq!(route53_name("*.confer.example."), "\\052.confer.example.");
    }
}
