//! Turns the `toml` crate's syntax and deserialization errors into a located [`Diagnostic`] that
//! names the field and says what to write instead.

use crate::error::Diagnostic;
use crate::locate::{self, SpanIndex};
use crate::suggest;
use std::collections::HashMap;

/// The field name used when the TOML itself is malformed and no field can be named.
pub const SYNTAX: &str = "(syntax)";

/// The fields that are lists of tables (`[[name]]`).
const TABLE_ARRAYS: &[&str] = &[
    "ecs_services",
    "autoscaling_groups",
    "rds_replicas",
    "aurora_global_clusters",
    "dynamodb_tables",
    "s3_buckets",
    "kms_keys",
    "route53.records",
];

/// The accepted duration form, repeated in every duration fix.
pub const DURATION_FORM: &str =
    "use a duration such as `90s`, `15m`, `1h` (a quoted number with a \
    unit: `ms`, `s`, `m`, `h`, `d`; combinations such as `1h 30m` work too)";

/// One diagnostic for a `toml::from_str` error on `source`.
pub fn diagnostic(
    err: &toml::de::Error,
    source: &str,
    file: &str,
    index: &SpanIndex,
) -> Diagnostic {
    let span = err.span().unwrap_or(0..0);
    let (line, column) = locate::line_col(source, span.start);
    let message = err.message().trim();
    // An empty span is the document itself (e.g. a missing top-level table), not the key at it.
    let path = if span.is_empty() {
        String::new()
    } else {
        index.path_at(span.start)
    };
    let (field, message, fix) = explain(message, source, span, path, index);
    Diagnostic {
        file: file.to_string(),
        line,
        column,
        field,
        message,
        fix,
    }
}

/// `(field, message, fix)` for an error `message` at `span`, written at `path`.
fn explain(
    message: &str,
    source: &str,
    span: std::ops::Range<usize>,
    path: String,
    index: &SpanIndex,
) -> (String, String, String) {
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (name, valid) = backticked_head_and_list(rest);
        return unknown_field(&path, &name, &valid);
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (value, valid) = backticked_head_and_list(rest);
        let choices: Vec<&str> = valid.iter().map(String::as_str).collect();
        let mut fix = format!("use one of {}", suggest::or_list(&choices));
        if let Some(hint) = suggest::did_you_mean(&value, choices.iter().copied()) {
            fix = format!("{hint} {}", capitalize(&fix));
        }
        let key = path.rsplit('.').next().unwrap_or_default();
        return (
            path.clone(),
            format!("`{value}` is not an accepted value for `{key}`"),
            fix,
        );
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let (key, _) = backticked_head_and_list(rest);
        return missing_field(&path, &key);
    }
    if message.ends_with("expected a duration") {
        let got = message
            .strip_prefix("invalid value: ")
            .or_else(|| message.strip_prefix("invalid type: "));
        let got = got
            .and_then(|m| m.strip_suffix(", expected a duration"))
            .unwrap_or("this value");
        return (
            path,
            format!("{got} is not a duration"),
            DURATION_FORM.to_string(),
        );
    }
    if message.starts_with("invalid type: ") || message.starts_with("invalid value: ") {
        return wrong_type(&path, message);
    }
    if !index.parsed() {
        return syntax(message, source, span);
    }
    (
        path.clone(),
        message.to_string(),
        format!(
            "correct `{}`; docs/configuration.md lists every field with its type",
            display_path(&path)
        ),
    )
}

fn unknown_field(path: &str, name: &str, valid: &[String]) -> (String, String, String) {
    // The error points at the unknown key; its path ends with it (a table header may add `[i]`).
    let mut field = path.to_string();
    while field.ends_with(']') {
        field = locate::parent(&field).unwrap_or_default().to_string();
    }
    if field.rsplit('.').next() != Some(name) {
        field = if field.is_empty() {
            name.to_string()
        } else {
            format!("{field}.{name}")
        };
    }
    let table = locate::parent(&field).unwrap_or_default();
    let place = if table.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{table}`")
    };
    let choices: Vec<&str> = valid.iter().map(String::as_str).collect();
    let message = format!(
        "unknown field `{name}` {place}; valid fields here: {}",
        choices.join(", ")
    );
    let fix = match suggest::closest(name, choices.iter().copied()).as_slice() {
        [] if choices.is_empty() => format!("remove `{name}`"),
        [] => format!("remove `{name}`, or replace it with one of the valid fields"),
        [one] => format!("did you mean `{one}`? Rename `{name}` to `{one}`"),
        many => format!(
            "did you mean {}? Rename `{name}` to the one you meant",
            suggest::or_list(many)
        ),
    };
    (field, message, fix)
}

fn missing_field(table_path: &str, key: &str) -> (String, String, String) {
    let field = if table_path.is_empty() {
        key.to_string()
    } else {
        format!("{table_path}.{key}")
    };
    let generic = locate::generic(&field);
    let example = required_example(&generic);
    if table_path.is_empty() {
        let message = format!("the required table `[{key}]` is missing");
        let fix = match example {
            Some(ex) => format!("add a `[{key}]` table with {ex}"),
            None => format!("add a `[{key}]` table"),
        };
        return (field, message, fix);
    }
    let message = format!(
        "`{}` is missing the required key `{key}`",
        display_path(table_path)
    );
    let fix = match example {
        Some(ex) => format!("add {ex} to `{}`", display_path(table_path)),
        None => format!("add `{key} = …` to `{}`", display_path(table_path)),
    };
    (field, message, fix)
}

/// An example line for each required field (the generic path, without indices), so a missing
/// key's fix can say exactly what to add.
pub fn required_example(generic_path: &str) -> Option<&'static str> {
    Some(match generic_path {
        "environment" => "`name = \"confer-prod\"` and `tier = \"production\"`",
        "environment.name" => "`name = \"confer-prod\"` (lower-case letters, digits, hyphens)",
        "environment.tier" => "`tier = \"production\"` (or `staging`, `development`)",
        "regions" => {
            "`primary = \"us-east-1\"` and `dr = \"us-west-2\"` (your primary and DR region codes)"
        }
        "regions.primary" => {
            "`primary = \"us-east-1\"` (the region that serves in normal operation)"
        }
        "regions.dr" => "`dr = \"us-west-2\"` (the region kept at pilot-light size)",
        "objectives" => "`rto = \"15m\"` and `rpo = \"1m\"`",
        "objectives.rto" => "`rto = \"15m\"` (how long a failover may take)",
        "objectives.rpo" => "`rpo = \"1m\"` (the most data, in time, a failover may lose)",
        "ecs_services.name"
        | "autoscaling_groups.name"
        | "rds_replicas.name"
        | "aurora_global_clusters.name"
        | "dynamodb_tables.name"
        | "s3_buckets.name"
        | "kms_keys.name"
        | "route53.records.name" => {
            "`name = \"…\"` (a logical name unique in the file, e.g. `\"api\"`)"
        }
        "ecs_services.cluster" => "`cluster = \"confer\"` (the ECS cluster in the DR region)",
        "ecs_services.service" => "`service = \"confer-api\"` (the ECS service in the DR region)",
        "ecs_services.pilot_light_count" => {
            "`pilot_light_count = 1` (desired tasks while DR is idle)"
        }
        "ecs_services.active_count" => "`active_count = 4` (desired tasks when DR serves)",
        "autoscaling_groups.group" => {
            "`group = \"confer-media-routers\"` (the group in the DR region)"
        }
        "autoscaling_groups.pilot_light_capacity" => {
            "`pilot_light_capacity = 1` (desired instances while DR is idle)"
        }
        "autoscaling_groups.active_capacity" => {
            "`active_capacity = 6` (desired instances when DR serves)"
        }
        "rds_replicas.primary_instance" => {
            "`primary_instance = \"confer-db\"` (the DB instance in the primary region)"
        }
        "rds_replicas.replica_instance" => {
            "`replica_instance = \"confer-db-replica\"` (the read replica in DR)"
        }
        "aurora_global_clusters.global_cluster" => {
            "`global_cluster = \"confer-global\"` (the global cluster id)"
        }
        "aurora_global_clusters.primary_cluster" => {
            "`primary_cluster = \"confer-aurora\"` (the cluster in the primary region)"
        }
        "aurora_global_clusters.dr_cluster" => {
            "`dr_cluster = \"confer-aurora-dr\"` (the cluster in the DR region)"
        }
        "dynamodb_tables.table" => "`table = \"confer-meetings\"` (the global table's name)",
        "s3_buckets.primary_bucket" => {
            "`primary_bucket = \"confer-recordings-us-east-1\"` (the bucket in the primary region)"
        }
        "s3_buckets.dr_bucket" => {
            "`dr_bucket = \"confer-recordings-us-west-2\"` (the bucket in the DR region)"
        }
        "kms_keys.key_id" => "`key_id = \"mrk-…\"` (the multi-region key id)",
        "route53.zone_id" => "`zone_id = \"Z0123456789ABC\"` (the hosted zone id)",
        "route53.records.record_name" => {
            "`record_name = \"api.confer.example.\"` (the fully qualified record name)"
        }
        "route53.records.routing" => "`routing = \"failover\"` (or `weighted`)",
        "route53.records.primary_set_identifier" => "`primary_set_identifier = \"confer-primary\"`",
        "route53.records.dr_set_identifier" => "`dr_set_identifier = \"confer-dr\"`",
        "access.tokens.name" => {
            "`name = \"alice\"` (the person or automation; the actor in the audit log)"
        }
        "access.tokens.role" => {
            "`role = \"operator\"` (`viewer`, `operator`, `approver` or `admin`)"
        }
        "access.tokens.token_sha256" => {
            "`token_sha256 = \"…\"` (the SHA-256 of the token: `sha256sum token-file`)"
        }
        "access.oidc.issuer" => "`issuer = \"https://idp.example.com\"` (the ID tokens' `iss`)",
        "access.oidc.audience" => "`audience = \"pilotlight\"` (the ID tokens' `aud`)",
        _ => return None,
    })
}

fn wrong_type(path: &str, message: &str) -> (String, String, String) {
    let (got, expected) = match message.rsplit_once(", expected ") {
        Some((got, expected)) => (got, expected),
        None => (message, ""),
    };
    let got = got
        .trim_start_matches("invalid type: ")
        .trim_start_matches("invalid value: ");
    let key = path.rsplit('.').next().unwrap_or(path);
    let key = key.split('[').next().unwrap_or(key);
    let (want, fix) = match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => {
            let max = match expected {
                "u8" => u64::from(u8::MAX),
                "u16" => u64::from(u16::MAX),
                "u32" => u64::from(u32::MAX),
                _ => u64::MAX,
            };
            (
                "a whole number, not negative".to_string(),
                format!("write a whole number from 0 to {max} without quotes, e.g. `{key} = 4`"),
            )
        }
        "f32" | "f64" => {
            let fix = format!("write a number without quotes, e.g. `{key} = 8.0`");
            ("a number".to_string(), fix)
        }
        "a boolean" => {
            let fix = format!("write `{key} = true` or `{key} = false`, without quotes");
            ("`true` or `false`".to_string(), fix)
        }
        "a string" => {
            let fix = format!("write the value in double quotes, e.g. `{key} = \"…\"`");
            ("a string".to_string(), fix)
        }
        "a sequence" if TABLE_ARRAYS.contains(&locate::generic(path).as_str()) => (
            "a list of tables".to_string(),
            format!(
                "declare each entry under its own `[[{}]]` header",
                locate::generic(path)
            ),
        ),
        "a sequence" => (
            "a list".to_string(),
            format!("write a list in square brackets, e.g. `{key} = [\"…\"]`"),
        ),
        other => match other.strip_prefix("struct ") {
            Some(_) => {
                let fix = format!(
                    "write `{key}` as a table: a `[{key}]` header followed by its keys \
                     (see docs/configuration.md)"
                );
                ("a table".to_string(), fix)
            }
            None => {
                let fix = format!("write `{key}` as {other} (see docs/configuration.md)");
                (other.to_string(), fix)
            }
        },
    };
    (
        path.to_string(),
        format!("expected {want}, found {got}"),
        fix,
    )
}

/// A malformed TOML document: name the table (and key) being written, as far as the text tells.
fn syntax(message: &str, source: &str, span: std::ops::Range<usize>) -> (String, String, String) {
    let field = syntax_context(source, span.start).unwrap_or_else(|| SYNTAX.to_string());
    let key = field
        .rsplit('.')
        .next()
        .unwrap_or("key")
        .split('[')
        .next()
        .unwrap_or("key");
    let spanned = source.get(span.clone()).unwrap_or_default().trim();
    let lower = message.to_lowercase();
    let mut message = format!("invalid TOML: {message}");
    let fix = if lower.contains("duplicate key") {
        message = format!("invalid TOML: `{spanned}` is defined twice");
        let line_start = source[..span.start.min(source.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line = source[line_start..].lines().next().unwrap_or_default();
        let header = line.split('#').next().unwrap_or_default().trim();
        if header.starts_with('[') {
            format!(
                "a `[table]` may appear only once: merge this second `{header}` into the first, \
                 or use \
                 `[[…]]` headers if you meant a list of tables"
            )
        } else {
            format!(
                "a key may appear only once per table: remove this second `{spanned}` or merge it \
                 with the first"
            )
        }
    } else if lower.contains("unclosed") && lower.contains("table") {
        let line_start = source[..span.start.min(source.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let text = source[line_start..]
            .lines()
            .next()
            .unwrap_or_default()
            .trim();
        let name = text.trim_start_matches('[').trim_end_matches(']').trim();
        if text.starts_with("[[") {
            format!("close the header on the same line: `[[{name}]]`")
        } else {
            format!("close the header on the same line: `[{name}]`")
        }
    } else if lower.contains("must be quoted") {
        // The unquoted value runs to the end of the line (or a comment).
        let rest = source.get(span.start..).unwrap_or_default();
        let value = rest
            .lines()
            .next()
            .unwrap_or_default()
            .split(" #")
            .next()
            .unwrap_or_default()
            .trim();
        if value.is_empty() {
            format!("write a value after `=`, e.g. `{key} = \"…\"`")
        } else {
            format!("put the value in double quotes: `{key} = \"{value}\"`")
        }
    } else if lower.contains("escape") {
        "write a backslash as `\\\\` inside double quotes, or use a literal string in single \
         quotes \
         (`'C:\\path'`), which has no escapes"
            .to_string()
    } else if lower.contains("string") {
        "close the string with `\"` on the same line (use `\"\"\"` for a string over several lines)"
            .to_string()
    } else {
        "fix the TOML syntax here: one `key = value` per line, strings in double quotes, \
         `[table]` and \
         `[[list_of_tables]]` headers on their own lines"
            .to_string()
    };
    (field, message, fix)
}

/// Best effort for a document that does not parse: the last table header before `offset`
/// (`[[x]]` headers counted into `x[i]`) and the key on the error's line.
fn syntax_context(source: &str, offset: usize) -> Option<String> {
    let offset = offset.min(source.len());
    let plausible = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    let mut table: Option<String> = None;
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut line_start = 0;
    for line in source.split_inclusive('\n') {
        let line_end = line_start + line.len();
        let text = line.trim();
        if offset < line_end || line_end == source.len() {
            // The error's line.
            if text.starts_with('[') {
                // The header is itself broken: name the table it was meant to open.
                let name = text
                    .trim_start_matches('[')
                    .split(']')
                    .next()
                    .unwrap_or_default()
                    .trim();
                return plausible(name).then(|| name.to_string());
            }
            let key = text
                .split_once('=')
                .map(|(k, _)| k.trim())
                .filter(|k| plausible(k));
            return match (table, key) {
                (Some(t), Some(k)) => Some(format!("{t}.{k}")),
                (None, Some(k)) => Some(k.to_string()),
                (t, None) => t,
            };
        }
        if let Some((name, _)) = text.strip_prefix("[[").and_then(|t| t.split_once("]]")) {
            let name = name.trim();
            let i = counts.entry(name.to_string()).or_insert(0);
            table = Some(format!("{name}[{i}]"));
            *i += 1;
        } else if let Some((name, _)) = text.strip_prefix('[').and_then(|t| t.split_once(']')) {
            table = Some(name.trim().to_string());
        }
        line_start = line_end;
    }
    table
}

/// Quotes a backticked word and the backticked list after it: "`x`, expected one of `a`, `b`".
fn backticked_head_and_list(text: &str) -> (String, Vec<String>) {
    let mut parts = text.split('`');
    parts.next();
    let head = parts.next().unwrap_or_default().to_string();
    let list = parts.skip(1).step_by(2).map(str::to_string).collect();
    (head, list)
}

/// The path as shown in prose; the top level is "the file".
fn display_path(path: &str) -> String {
    if path.is_empty() {
        "the top level".to_string()
    } else {
        path.to_string()
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticked_lists() {
        let (head, list) =
            backticked_head_and_list("`activ_count`, expected one of `name`, `active_count`");
        assert_eq!(head, "activ_count");
        assert_eq!(list, ["name", "active_count"]);
        let (head, list) = backticked_head_and_list("`bogus`, expected `rto` or `rpo`");
        assert_eq!(
            (head.as_str(), list),
            ("bogus", vec!["rto".to_string(), "rpo".to_string()])
        );
        let (head, list) = backticked_head_and_list("`x`, there are no fields");
        assert_eq!((head.as_str(), list.len()), ("x", 0));
    }

    #[test]
    fn syntax_context_names_table_and_key() {
        let src = "[environment]\nname = \"a\"\n[[ecs_services]]\nname = \"a\"\n\
                   [[ecs_services]]\nname = api\n";
        let offset = src.find("api").unwrap();
        assert_eq!(
            syntax_context(src, offset).as_deref(),
            Some("ecs_services[1].name")
        );
        assert_eq!(
            syntax_context("[environment\nname = 1", 12).as_deref(),
            Some("environment")
        );
        assert_eq!(syntax_context("[env ironment\n", 4), None);
        assert_eq!(syntax_context("a = = 1", 4).as_deref(), Some("a"));
        assert_eq!(syntax_context("[aws]\n[aws]\n", 7), Some("aws".to_string()));
    }

    #[test]
    fn every_required_field_has_an_example() {
        for path in [
            "ecs_services.active_count",
            "route53.records.dr_set_identifier",
            "regions",
            "kms_keys.key_id",
        ] {
            assert!(required_example(path).is_some(), "{path}");
        }
        assert!(required_example("aws.endpoint").is_none());
    }
}
