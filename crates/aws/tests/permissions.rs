//! The permissions table (`pilotlight_aws::permissions`) against what it describes:
//! - the code: this crate's sources and the HA store's (`crates/store/src`, the files that use
//!   `Caller`) are scanned for every call through `Caller` (`call`, `call_opt`, `call_opt_if`,
//!   `call_change`, `call_change_once`), and the (service, operation) pairs found must equal the
//!   table's, so a new AWS call without a table entry fails here;
//! - the IAM template `infra/pilotlight-iam.yaml`: every policy grants exactly the actions of its
//!   capabilities on exactly their resources, and every role exactly those of its capabilities;
//! - the docs: the permission tables of `docs/deploying.md` are `permissions::markdown()`
//!   (`PILOTLIGHT_BLESS=1` rewrites them).
//!
//! No AWS and no emulator: files only.

use pilotlight_aws::permissions::{
    self, Resource, CAPABILITIES, DEPENDENT, EXECUTOR_STEP_KINDS, PERMISSIONS,
};
use pilotlight_core::runbook::StepKind;
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Calls whose operation is a variable rather than a literal: (file under `crates/aws/src`,
/// service, variable name, every operation the variable takes). The scan must find each such
/// call, and the file's `let <variable> = "<Operation>";` assignments must be exactly these.
const VARIABLE_OPERATIONS: &[(&str, &str, &str, &[&str])] = &[(
    "actions.rs",
    "autoscaling",
    "op",
    &["UpdateAutoScalingGroup", "SetDesiredCapacity"],
)];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Where the HA store's sources are; their files are named `store/<file>` in [`Call::file`].
fn store_src_dir() -> PathBuf {
    repo().join("crates/store/src")
}

const STORE_PREFIX: &str = "store/";

/// Every source file the scan reads: this crate's (named relative to `crates/aws/src`) and the
/// HA store's files that call AWS through a `Caller` (they name it; named `store/<file>`).
fn scanned_files() -> Vec<(String, String)> {
    let mut files = rust_files(&src_dir());
    files.extend(
        rust_files(&store_src_dir())
            .into_iter()
            .filter(|(_, text)| text.to_lowercase().contains("caller"))
            .map(|(f, text)| (format!("{STORE_PREFIX}{f}"), text)),
    );
    files
}

/// The string constants (`const NAME: &str = "value";`) of the scanned files, by name: a
/// call's service may be one (`SERVICE` in the store).
fn string_constants(files: &[(String, String)]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (_, text) in files {
        let code = strip_comments(text);
        for stmt in code.split(';') {
            let stmt = stmt.trim();
            let Some(at) = stmt.find("const ") else {
                continue;
            };
            let Some((lhs, rhs)) = stmt[at + "const ".len()..].split_once('=') else {
                continue;
            };
            let Some((name, ty)) = lhs.split_once(':') else {
                continue;
            };
            if ty.trim() == "&str" {
                if let Some(v) = string_literal(rhs.trim()) {
                    out.insert(name.trim().to_string(), v);
                }
            }
        }
    }
    out
}

// ---- scanning the sources ------------------------------------------------------------------

/// The operation argument of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Literal(String),
    Variable(String),
}

/// One call through `Caller` found in the sources.
#[derive(Debug, Clone)]
struct Call {
    /// Path under `crates/aws/src`, with `/` (`store/<file>` for the HA store's files).
    file: String,
    line: usize,
    service: String,
    op: Op,
}

/// Every `.rs` file under `dir`, recursively, as (path relative to `dir`, text).
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read src dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&path).expect("read source")));
            }
        }
    }
    out.sort();
    out
}

/// `src` with comments blanked out (newlines kept, so line numbers stay right) and string,
/// raw-string and char literals kept as they are.
fn strip_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        out.extend_from_slice(b"  ");
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        out.extend_from_slice(b"  ");
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        out.push(if b[i] == b'\n' { b'\n' } else { b' ' });
                        i += 1;
                    }
                }
            }
            _ => {
                let end = literal_end(b, i);
                out.extend_from_slice(&b[i..end]);
                i = end;
            }
        }
    }
    String::from_utf8(out).expect("utf-8 kept")
}

/// If a string, raw string or char literal starts at `i`, the index just past it; else `i + 1`.
fn literal_end(b: &[u8], i: usize) -> usize {
    let prev_ident = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    match b[i] {
        b'"' => {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            j + 1
        }
        b'r' if !prev_ident && matches!(b.get(i + 1), Some(b'"') | Some(b'#')) => {
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                return i + 1;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    return j;
                }
                if b[j] == b'"' && b[j + 1..].iter().take(hashes).all(|&c| c == b'#') {
                    return j + 1 + hashes;
                }
                j += 1;
            }
        }
        b'\'' => {
            // A char literal ('x', '\n', '\''), not a lifetime ('a).
            if b.get(i + 1) == Some(&b'\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != b'\'' {
                    j += 1;
                }
                j + 1
            } else if b.get(i + 2) == Some(&b'\'') {
                i + 3
            } else {
                i + 1
            }
        }
        _ => i + 1,
    }
}

/// `code` (comments stripped) without the items under `#[cfg(test)]`.
fn strip_test_items(code: &str) -> String {
    let b = code.as_bytes();
    let mut out = code.as_bytes().to_vec();
    let mut from = 0;
    while let Some(pos) = code[from..].find("#[cfg(test)]") {
        let start = from + pos;
        // The item ends at its first `;` before any `{`, or at the `}` matching that `{`.
        let mut j = start + "#[cfg(test)]".len();
        let mut depth = 0usize;
        let mut end = b.len();
        while j < b.len() {
            match b[j] {
                b';' if depth == 0 => {
                    end = j + 1;
                    break;
                }
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = j + 1;
                        break;
                    }
                }
                b'"' | b'\'' | b'r' => {
                    let k = literal_end(b, j);
                    if k > j + 1 {
                        j = k;
                        continue;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        for c in &mut out[start..end] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
        from = end;
    }
    String::from_utf8(out).expect("utf-8 kept")
}

/// Splits the argument list starting just after `(` at `open` into its first `n` top-level
/// arguments (trimmed).
fn arguments(code: &str, open: usize, n: usize) -> Vec<String> {
    let b = code.as_bytes();
    let mut args = Vec::new();
    let mut depth = 0i32;
    let mut start = open;
    let mut j = open;
    while j < b.len() && args.len() < n {
        match b[j] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => {
                args.push(code[start..j].trim().to_string());
                break;
            }
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                args.push(code[start..j].trim().to_string());
                start = j + 1;
            }
            b'"' | b'\'' | b'r' => {
                let k = literal_end(b, j);
                if k > j + 1 {
                    j = k;
                    continue;
                }
            }
            _ => {}
        }
        j += 1;
    }
    args
}

fn string_literal(arg: &str) -> Option<String> {
    let inner = arg.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains(['"', '\\'])).then(|| inner.to_string())
}

fn identifier(arg: &str) -> Option<String> {
    let ok = arg
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && arg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then(|| arg.to_string())
}

/// Every call through `Caller` in the non-test code of `crates/aws/src` and the HA store, and the
/// call sites the scan could not read (a service that is neither a literal nor a string
/// constant, an operation that is an expression).
fn scan() -> (Vec<Call>, Vec<String>) {
    let mut calls = Vec::new();
    let mut unreadable = Vec::new();
    let files = scanned_files();
    let constants = string_constants(&files);
    for (file, text) in files {
        let code = strip_test_items(&strip_comments(&text));
        let line_of = |pos: usize| code[..pos].matches('\n').count() + 1;
        let mut from = 0;
        while let Some(pos) = code[from..].find(".call") {
            let at = from + pos;
            from = at + 1;
            let rest = &code[at + 1..];
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..name_len];
            if !matches!(
                name,
                "call" | "call_opt" | "call_opt_if" | "call_change" | "call_change_once"
            ) {
                continue;
            }
            let after = &rest[name_len..];
            let ws = after.len() - after.trim_start().len();
            if !after[ws..].starts_with('(') {
                continue;
            }
            let open = at + 1 + name_len + ws + 1;
            let args = arguments(&code, open, 3);
            let line = line_of(at);
            let parsed = match args.as_slice() {
                [service, _region, op] => string_literal(service)
                    .or_else(|| constants.get(service.as_str()).cloned())
                    .and_then(|service| {
                        string_literal(op)
                            .map(Op::Literal)
                            .or_else(|| identifier(op).map(Op::Variable))
                            .map(|op| (service, op))
                    }),
                _ => None,
            };
            match parsed {
                Some((service, op)) => calls.push(Call {
                    file: file.clone(),
                    line,
                    service,
                    op,
                }),
                None => unreadable.push(format!("{file}:{line}: .{name}({})", args.join(", "))),
            }
        }
    }
    (calls, unreadable)
}

/// The string literals assigned to `var` in `file` (`let var = "X";`, `var = "X";`).
fn assignments(file: &str, var: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(src_dir().join(file)).expect("read source");
    let code = strip_test_items(&strip_comments(&text));
    let mut found = BTreeSet::new();
    for stmt in code.split(';') {
        let stmt = stmt.trim();
        let stmt = stmt.rsplit(['{', '}']).next().unwrap_or(stmt).trim();
        let stmt = stmt.strip_prefix("let ").unwrap_or(stmt).trim();
        let stmt = stmt.strip_prefix("mut ").unwrap_or(stmt).trim();
        if let Some((lhs, rhs)) = stmt.split_once('=') {
            let lhs = lhs.split(':').next().unwrap_or(lhs).trim();
            if lhs == var {
                if let Some(s) = string_literal(rhs.trim()) {
                    found.insert(s);
                }
            }
        }
    }
    found
}

/// The (service, operation) pairs of the scanned calls, variable operations expanded.
fn scanned_operations(calls: &[Call]) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for c in calls {
        match &c.op {
            Op::Literal(op) => {
                ops.insert((c.service.clone(), op.clone()));
            }
            Op::Variable(var) => {
                for (file, service, v, listed) in VARIABLE_OPERATIONS {
                    if *file == c.file && *service == c.service && v == var {
                        for op in *listed {
                            ops.insert((c.service.clone(), op.to_string()));
                        }
                    }
                }
            }
        }
    }
    ops
}

fn owned(set: BTreeSet<(&'static str, &'static str)>) -> BTreeSet<(String, String)> {
    set.into_iter()
        .map(|(s, o)| (s.to_string(), o.to_string()))
        .collect()
}

#[test]
fn the_scan_reads_every_call_site() {
    let (calls, unreadable) = scan();
    assert!(
        unreadable.is_empty(),
        "calls through Caller the scan cannot read; pass the service and operation as string \
         literals, or list a variable operation in VARIABLE_OPERATIONS:\n{}",
        unreadable.join("\n")
    );
    // The scan sees the adapters at all: the readiness facts, the actuator, the record lookup.
    for file in ["readiness.rs", "actions.rs", "route53.rs"] {
        assert!(
            calls.iter().any(|c| c.file == file),
            "no call found in {file}: is the scan broken?"
        );
    }
    assert!(calls.len() >= 40, "only {} calls found", calls.len());
}

#[test]
fn every_aws_call_is_in_the_table_and_nothing_else() {
    let (calls, _) = scan();
    let found = scanned_operations(&calls);
    let table = owned(permissions::operations());
    let missing: Vec<_> = found.difference(&table).collect();
    let stale: Vec<_> = table.difference(&found).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "crates/aws/src/permissions.rs is out of date.\n\
         Calls the code makes that the table lacks (add a Permission for each capability that \
         makes it, grant it in infra/pilotlight-iam.yaml, then bless docs/deploying.md):\n{missing:#?}\n\
         Table entries no code makes any more (remove them):\n{stale:#?}"
    );
}

#[test]
fn variable_operations_are_listed_and_found() {
    let (calls, _) = scan();
    let variable: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c.op, Op::Variable(_)))
        .collect();
    for c in &variable {
        let Op::Variable(var) = &c.op else {
            unreachable!()
        };
        assert!(
            VARIABLE_OPERATIONS
                .iter()
                .any(|(f, s, v, _)| *f == c.file && *s == c.service && v == var),
            "{}:{}: the operation of a {} call is the variable `{var}`; list the operations it \
             takes in VARIABLE_OPERATIONS",
            c.file,
            c.line,
            c.service
        );
    }
    for (file, service, var, listed) in VARIABLE_OPERATIONS {
        let n = variable
            .iter()
            .filter(|c| {
                c.file == *file && c.service == *service && c.op == Op::Variable(var.to_string())
            })
            .count();
        assert!(
            n > 0,
            "VARIABLE_OPERATIONS lists `{var}` in {file} ({service}), but the scan found no call \
             with it: remove the entry"
        );
        let listed: BTreeSet<String> = listed.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            assignments(file, var),
            listed,
            "the string literals assigned to `{var}` in {file} differ from VARIABLE_OPERATIONS"
        );
    }
}

#[test]
fn check_is_exactly_what_the_readiness_adapter_reads() {
    let (calls, _) = scan();
    let readiness = scanned_operations(
        &calls
            .iter()
            .filter(|c| c.file == "readiness.rs" || c.file == "route53.rs")
            .cloned()
            .collect::<Vec<_>>(),
    );
    let check: BTreeSet<(String, String)> = permissions::of("check")
        .map(|p| (p.service.to_string(), p.operation.to_string()))
        .collect();
    assert_eq!(readiness, check);
}

#[test]
fn ha_store_is_exactly_what_the_store_calls() {
    let (calls, _) = scan();
    let store = scanned_operations(
        &calls
            .iter()
            .filter(|c| c.file.starts_with(STORE_PREFIX))
            .cloned()
            .collect::<Vec<_>>(),
    );
    for file in ["dynamodb.rs", "lease.rs"] {
        assert!(
            calls
                .iter()
                .any(|c| c.file == format!("{STORE_PREFIX}{file}")),
            "no call found in crates/store/src/{file}: is the scan broken?"
        );
    }
    let ha: BTreeSet<(String, String)> = permissions::of("ha_store")
        .map(|p| (p.service.to_string(), p.operation.to_string()))
        .collect();
    assert_eq!(store, ha);
    // A transaction is authorized by its parts: the store's transactions put, update and check
    // a condition, and the capability grants exactly those.
    let actions = permissions::actions("ha_store");
    for part in [
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
    ] {
        assert!(actions.contains(part), "ha_store lacks {part}");
    }
    assert!(!actions.contains("dynamodb:TransactWriteItems"));
}

#[test]
fn actuator_calls_belong_to_step_kinds() {
    let (calls, _) = scan();
    let actuator = scanned_operations(
        &calls
            .iter()
            .filter(|c| c.file == "actions.rs" || c.file.starts_with("actions/"))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let by_steps: BTreeSet<(String, String)> = PERMISSIONS
        .iter()
        .filter(|p| p.capability != "check")
        .map(|p| (p.service.to_string(), p.operation.to_string()))
        .collect();
    let orphans: Vec<_> = actuator.difference(&by_steps).collect();
    assert!(
        orphans.is_empty(),
        "the actuator makes these calls but no step kind's capability lists them: {orphans:?}"
    );
}

/// Every step kind, by an exhaustive match: a new `StepKind` fails to compile here until it is
/// added, and then the assertions below require a capability (or an executor-only listing).
fn all_step_kinds() -> Vec<StepKind> {
    let all = [
        StepKind::ReadinessGate,
        StepKind::ReplicationLagGate,
        StepKind::ScaleEcs,
        StepKind::ScaleAutoscaling,
        StepKind::PromoteRdsReplica,
        StepKind::FenceDatabase,
        StepKind::RetireDatabase,
        StepKind::ReprotectDatabase,
        StepKind::AuroraFailover,
        StepKind::AuroraSwitchover,
        StepKind::ShiftTraffic,
        StepKind::WaitUntil,
        StepKind::ManualApproval,
        StepKind::CommandHook,
        StepKind::Notify,
    ];
    for k in all {
        match k {
            StepKind::ReadinessGate
            | StepKind::ReplicationLagGate
            | StepKind::ScaleEcs
            | StepKind::ScaleAutoscaling
            | StepKind::PromoteRdsReplica
            | StepKind::FenceDatabase
            | StepKind::RetireDatabase
            | StepKind::ReprotectDatabase
            | StepKind::AuroraFailover
            | StepKind::AuroraSwitchover
            | StepKind::ShiftTraffic
            | StepKind::WaitUntil
            | StepKind::ManualApproval
            | StepKind::CommandHook
            | StepKind::Notify => {}
        }
    }
    all.to_vec()
}

#[test]
fn every_step_kind_has_a_capability_or_is_run_by_the_executor() {
    let kinds = all_step_kinds();
    let names: BTreeSet<&str> = kinds.iter().map(|k| k.name()).collect();
    assert_eq!(names.len(), kinds.len(), "a step kind is listed twice");
    for kind in &kinds {
        let name = kind.name();
        let cap = permissions::capability_of_step(name);
        let executor = EXECUTOR_STEP_KINDS.contains(&name);
        assert!(
            cap.is_some() != executor,
            "step kind `{name}` must have exactly one of: a capability in permissions.rs, a \
             place in EXECUTOR_STEP_KINDS"
        );
    }
    for cap in CAPABILITIES {
        for k in cap.step_kinds {
            assert!(
                names.contains(k),
                "capability {} names an unknown step kind `{k}`",
                cap.name
            );
        }
    }
    for k in EXECUTOR_STEP_KINDS {
        assert!(
            names.contains(k),
            "EXECUTOR_STEP_KINDS names an unknown step kind `{k}`"
        );
    }
}

#[test]
fn the_table_is_well_formed() {
    let names: BTreeSet<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
    assert_eq!(
        names.len(),
        CAPABILITIES.len(),
        "capability names are unique"
    );
    let mut seen = BTreeSet::new();
    for p in PERMISSIONS {
        assert!(names.contains(p.capability), "unknown capability in {p:?}");
        assert!(
            seen.insert((p.capability, p.service, p.operation)),
            "listed twice: {p:?}"
        );
        assert!(!p.resources.is_empty(), "no resources: {p:?}");
        let Some(action) = p.iam_action() else {
            assert!(
                DEPENDENT
                    .iter()
                    .any(|d| d.service == p.service && d.operation == p.operation),
                "a call authorized by its parts lists them in DEPENDENT: {p:?}"
            );
            continue;
        };
        let (prefix, name) = action.split_once(':').expect("service:Action");
        assert!(
            !prefix.is_empty() && name.chars().next().is_some_and(|c| c.is_ascii_uppercase()),
            "{action}"
        );
        assert!(!action.contains('*'), "no wildcard actions: {action}");
        if p.resources.contains(&Resource::Any) {
            assert_eq!(p.resources, &[Resource::Any], "`*` is never mixed: {p:?}");
            assert!(
                p.is_read_only(),
                "least privilege: a mutating call must name its resources: {p:?}"
            );
        }
    }
    for c in CAPABILITIES {
        assert!(
            permissions::of(c.name).next().is_some(),
            "capability {} makes no call",
            c.name
        );
    }
    for d in DEPENDENT {
        assert!(
            PERMISSIONS
                .iter()
                .any(|p| p.service == d.service && p.operation == d.operation),
            "a dependent action of a call the table does not list: {d:?}"
        );
        assert!(
            !d.resources.is_empty() && !d.resources.contains(&Resource::Any),
            "dependent actions name their resources: {d:?}"
        );
        assert!(d.action.contains(':') && !d.action.contains('*'), "{d:?}");
        for c in d.capabilities {
            assert!(
                permissions::of(c).any(|p| p.service == d.service && p.operation == d.operation),
                "a dependent action names capability {c}, which does not make the call: {d:?}"
            );
        }
    }
}

/// The grants of the isolated drill's copies are scoped to `*-drill-*`: the names the code gives
/// copies (`copy_name` with a `drill-…` id) carry it.
#[test]
fn drill_copies_are_named_as_the_grant_expects() {
    use pilotlight_aws::copies::DRILL_NAME_MARKER;
    for r in [
        Resource::DrillDbSnapshot,
        Resource::DrillDbInstance,
        Resource::DrillEcsService,
        Resource::DrillAutoScalingGroup,
    ] {
        assert!(
            r.template_reference()
                .ends_with(&format!("*{DRILL_NAME_MARKER}*")),
            "{r:?}"
        );
    }
    for source in ["orders-dr", "9_media.routers--", &"a".repeat(80)] {
        let name = pilotlight_drill::isolated::copy_name(source, "drill-20261121-232909-e9bd");
        assert!(name.contains(DRILL_NAME_MARKER), "{name}");
    }
    // Every mutating call of the isolated drill names the drill's copies only, except the
    // snapshot of the replica (its source) and the subnet group a restore uses.
    for p in permissions::of("isolated_drill").filter(|p| !p.is_read_only()) {
        for r in p.resources {
            assert!(
                matches!(
                    r,
                    Resource::DrillDbSnapshot
                        | Resource::DrillDbInstance
                        | Resource::DrillEcsService
                        | Resource::DrillAutoScalingGroup
                        | Resource::RdsSubnetGroup
                ) || (p.operation == "CreateDBSnapshot" && *r == Resource::RdsReplica),
                "{p:?}"
            );
        }
    }
}

/// `Resource::RdsFinalSnapshot` grants on the names the code gives final snapshots.
#[test]
fn final_snapshots_are_named_as_the_grant_expects() {
    let pattern = Resource::RdsFinalSnapshot.template_reference();
    let marker = pattern
        .rsplit(':')
        .next()
        .unwrap()
        .trim_matches('*')
        .to_string();
    assert_eq!(marker, "-pilotlight-final-");
    let (calls, _) = scan();
    if !calls
        .iter()
        .any(|c| c.op == Op::Literal("DeleteDBInstance".into()))
    {
        return;
    }
    let named = rust_files(&src_dir()).into_iter().any(|(_, text)| {
        strip_comments(&text)
            .lines()
            .any(|l| l.contains(&format!("{{instance}}{marker}")))
    });
    assert!(
        named,
        "DeleteDBInstance is called but no final snapshot is named `{{instance}}{marker}...`: \
         keep the names and Resource::RdsFinalSnapshot in step"
    );
}

#[test]
fn gates_and_waits_only_read() {
    for cap in ["check", "replication_lag_gate", "wait_until"] {
        for p in permissions::of(cap) {
            assert!(p.is_read_only(), "{cap} must only read: {p:?}");
        }
    }
}

// ---- the IAM template ----------------------------------------------------------------------

fn load_template(name: &str) -> Value {
    let path = repo().join("infra").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A short-form intrinsic (`!Ref X`) or its long form (`{Ref: X}`): (function, argument).
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let f = tag.trim_start_matches('!');
            let f = if f == "Ref" || f == "Condition" {
                f.to_string()
            } else {
                format!("Fn::{f}")
            };
            Some((f, &t.value))
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let k = k.as_str()?;
            (k == "Ref" || k.starts_with("Fn::")).then(|| (k.to_string(), v))
        }
        _ => None,
    }
}

fn is_no_value(v: &Value) -> bool {
    matches!(intrinsic(v), Some((f, a)) if f == "Ref" && a.as_str() == Some("AWS::NoValue"))
}

/// `v` with every `Fn::If` replaced by its true branch (every optional feature on), and
/// `AWS::NoValue` list items dropped.
fn all_features_on(v: &Value) -> Option<Value> {
    if is_no_value(v) {
        return None;
    }
    match intrinsic(v) {
        Some((f, args)) if f == "Fn::If" => {
            let branches = args.as_sequence().expect("Fn::If takes a list");
            all_features_on(&branches[1])
        }
        _ => Some(match v {
            Value::Sequence(items) => {
                Value::Sequence(items.iter().filter_map(all_features_on).collect())
            }
            Value::Mapping(m) => Value::Mapping(
                m.iter()
                    .filter_map(|(k, v)| all_features_on(v).map(|v| (k.clone(), v)))
                    .collect(),
            ),
            Value::Tagged(t) => Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
                tag: t.tag.clone(),
                value: all_features_on(&t.value).unwrap_or(Value::Null),
            })),
            other => other.clone(),
        }),
    }
}

/// What a `Resource` expression names: the template parameters it refers to, or the literal
/// when it refers to none (`*`, `arn:${AWS::Partition}:route53:::change/*`).
fn resource_refs(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    match (intrinsic(v), v) {
        (Some((f, arg)), _) if f == "Ref" => {
            let name = arg.as_str().expect("Ref name");
            assert!(
                !name.starts_with("AWS::"),
                "a policy resource refers to {name}"
            );
            out.insert(name.to_string());
        }
        (Some((f, arg)), _) if f == "Fn::Sub" => {
            let s = arg.as_str().expect("Fn::Sub with a plain string");
            let params: BTreeSet<String> = s
                .split("${")
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(name, _)| name.to_string()))
                .filter(|name| !name.starts_with("AWS::"))
                .collect();
            if params.is_empty() {
                out.insert(s.to_string());
            } else {
                out.extend(params);
            }
        }
        (Some((f, arg)), _) if f == "Fn::Join" || f == "Fn::Split" => {
            let args = arg.as_sequence().expect("list");
            out.extend(resource_refs(&args[1]));
        }
        (Some((f, _)), _) => panic!("unexpected {f} in a policy resource"),
        (None, Value::String(s)) => {
            out.insert(s.clone());
        }
        (None, Value::Sequence(items)) => {
            for i in items {
                out.extend(resource_refs(i));
            }
        }
        (None, other) => panic!("unexpected policy resource {other:?}"),
    }
    out
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items
            .iter()
            .map(|i| i.as_str().expect("a string").to_string())
            .collect(),
        other => panic!("expected a string or a list of strings, got {other:?}"),
    }
}

/// action → resources it is granted on.
type Grants = BTreeMap<String, BTreeSet<String>>;

/// The grants of a policy document (every feature on). Every statement must `Allow` with
/// `Action` and `Resource` (no `NotAction`, `NotResource`, `Deny`).
fn grants(doc: &Value, policy: &str) -> Grants {
    let doc = all_features_on(doc).expect("a document");
    let mut out = Grants::new();
    let statements = doc["Statement"].as_sequence().expect("Statement list");
    for s in statements {
        let keys: BTreeSet<&str> = s
            .as_mapping()
            .expect("statement")
            .keys()
            .map(|k| k.as_str().unwrap())
            .collect();
        for k in &keys {
            assert!(
                ["Sid", "Effect", "Action", "Resource", "Condition"].contains(k),
                "{policy}: statement key {k} is not allowed here"
            );
        }
        assert_eq!(s["Effect"].as_str(), Some("Allow"), "{policy}");
        let resources = resource_refs(&s["Resource"]);
        for action in strings(&s["Action"]) {
            assert!(!action.contains('*'), "{policy}: wildcard action {action}");
            out.entry(action)
                .or_default()
                .extend(resources.iter().cloned());
        }
    }
    out
}

/// What the table says `capabilities` need (their calls' actions and dependent actions).
fn expected_grants<'a>(capabilities: impl IntoIterator<Item = &'a str>) -> Grants {
    let mut out = Grants::new();
    for cap in capabilities {
        assert!(
            permissions::capability(cap).is_some(),
            "unknown capability {cap}"
        );
        for (action, resources) in permissions::grants(cap) {
            out.entry(action)
                .or_default()
                .extend(resources.iter().map(|r| r.template_reference().to_string()));
        }
    }
    out
}

fn capabilities_of(resource: &Value, id: &str) -> Vec<String> {
    let caps = &resource["Metadata"]["Pilotlight"]["Capabilities"];
    assert!(
        caps.is_sequence(),
        "{id}: Metadata.Pilotlight.Capabilities must list what it grants"
    );
    strings(caps)
}

fn resources_of_type<'a>(template: &'a Value, ty: &str) -> Vec<(String, &'a Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(ty))
        .map(|(k, r)| (k.as_str().unwrap().to_string(), r))
        .collect()
}

#[test]
fn each_policy_grants_exactly_its_capabilities() {
    let t = load_template("pilotlight-iam.yaml");
    let policies = resources_of_type(&t, "AWS::IAM::ManagedPolicy");
    assert!(!policies.is_empty());
    let mut covered: BTreeMap<String, String> = BTreeMap::new();
    for (id, policy) in &policies {
        let caps = capabilities_of(policy, id);
        for c in &caps {
            if let Some(other) = covered.insert(c.clone(), id.clone()) {
                panic!("capability {c} is granted by both {other} and {id}");
            }
        }
        let got = grants(&policy["Properties"]["PolicyDocument"], id);
        let want = expected_grants(caps.iter().map(String::as_str));
        assert_eq!(
            got, want,
            "{id} must grant exactly the actions of {caps:?} on exactly their resources \
             (crates/aws/src/permissions.rs)"
        );
    }
    let all: BTreeSet<String> = CAPABILITIES.iter().map(|c| c.name.to_string()).collect();
    let granted: BTreeSet<String> = covered.keys().cloned().collect();
    assert_eq!(
        granted, all,
        "every capability has a policy in infra/pilotlight-iam.yaml"
    );
}

#[test]
fn each_role_grants_exactly_its_capabilities() {
    let t = load_template("pilotlight-iam.yaml");
    let policies = resources_of_type(&t, "AWS::IAM::ManagedPolicy");
    let roles = resources_of_type(&t, "AWS::IAM::Role");
    assert!(
        roles.len() >= 3,
        "check, control service and operator roles"
    );
    for (id, role) in &roles {
        let props = &role["Properties"];
        for forbidden in ["Policies", "ManagedPolicyArns", "PermissionsBoundary"] {
            assert!(
                props.get(forbidden).is_none(),
                "{id}: grant through the capability policies' `Roles` only, not {forbidden}"
            );
        }
        let caps: BTreeSet<String> = capabilities_of(role, id).into_iter().collect();
        let mut attached_caps = BTreeSet::new();
        let mut got = Grants::new();
        let mut attached = 0;
        for (pid, policy) in &policies {
            let roles_of_policy = all_features_on(&policy["Properties"]["Roles"])
                .and_then(|v| v.as_sequence().cloned())
                .unwrap_or_default();
            let attached_here = roles_of_policy.iter().any(|r| {
                matches!(intrinsic(r), Some((f, a)) if f == "Ref" && a.as_str() == Some(id.as_str()))
            });
            if attached_here {
                attached += 1;
                attached_caps.extend(capabilities_of(policy, pid));
                for (action, res) in grants(&policy["Properties"]["PolicyDocument"], pid) {
                    got.entry(action).or_default().extend(res);
                }
            }
        }
        assert!(
            attached <= 10,
            "{id}: {attached} managed policies exceed IAM's default quota of 10 per role"
        );
        assert_eq!(
            attached_caps, caps,
            "{id}: attached policies vs declared capabilities"
        );
        assert_eq!(
            got,
            expected_grants(caps.iter().map(String::as_str)),
            "{id} must grant exactly what its capabilities need"
        );
    }
    let caps_of = |name: &str| -> BTreeSet<String> {
        let (_, role) = roles.iter().find(|(id, _)| id == name).expect(name);
        capabilities_of(role, name).into_iter().collect()
    };
    assert_eq!(caps_of("CheckRole"), BTreeSet::from(["check".to_string()]));
    let all: BTreeSet<String> = CAPABILITIES.iter().map(|c| c.name.to_string()).collect();
    assert_eq!(
        caps_of("ControlServiceRole"),
        all,
        "the control service runs every runbook"
    );
    assert_eq!(caps_of("OperatorRole"), all, "operators run every runbook");
    // The read-only role reads.
    for action in expected_grants(["check"]).keys() {
        let op = action.split_once(':').unwrap().1;
        assert!(
            ["Describe", "Get", "List"]
                .iter()
                .any(|p| op.starts_with(p)),
            "CheckRole grants {action}"
        );
    }
}

#[test]
fn record_changes_are_limited_to_the_named_records() {
    let t = load_template("pilotlight-iam.yaml");
    let doc =
        all_features_on(&t["Resources"]["ShiftTrafficPolicy"]["Properties"]["PolicyDocument"])
            .unwrap();
    let stmt = doc["Statement"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| strings(&s["Action"]).contains(&"route53:ChangeResourceRecordSets".to_string()))
        .expect("a ChangeResourceRecordSets statement");
    let cond = &stmt["Condition"]["ForAllValues:StringEquals"];
    let names = &cond["route53:ChangeResourceRecordSetsNormalizedRecordNames"];
    assert!(
        matches!(intrinsic(names), Some((f, a)) if f == "Ref" && a.as_str() == Some("DnsRecordNames")),
        "record names must be restricted to DnsRecordNames: {names:?}"
    );
    assert_eq!(
        strings(&cond["route53:ChangeResourceRecordSetsActions"]),
        vec!["UPSERT".to_string()]
    );
}

#[test]
fn every_resource_parameter_is_declared() {
    let t = load_template("pilotlight-iam.yaml");
    let params = t["Parameters"].as_mapping().expect("Parameters");
    for r in Resource::ALL {
        let name = r.template_reference();
        if name == "*" || name.starts_with("arn:") {
            continue;
        }
        assert!(
            params.contains_key(name),
            "infra/pilotlight-iam.yaml lacks the parameter {name}"
        );
    }
}

// ---- the docs ------------------------------------------------------------------------------

const BEGIN: &str = "<!-- BEGIN permissions: generated from crates/aws/src/permissions.rs -->";
const END: &str = "<!-- END permissions -->";

#[test]
fn the_docs_permission_tables_match_the_table() {
    let path = repo().join("docs/deploying.md");
    let doc = std::fs::read_to_string(&path).expect("docs/deploying.md");
    let start = doc.find(BEGIN).expect("the BEGIN permissions marker") + BEGIN.len();
    let end = doc[start..].find(END).expect("the END permissions marker") + start;
    let want = format!("\n{}", permissions::markdown());
    if std::env::var_os("PILOTLIGHT_BLESS").is_some() {
        let blessed = format!("{}{want}{}", &doc[..start], &doc[end..]);
        std::fs::write(&path, blessed).expect("write docs/deploying.md");
        return;
    }
    assert_eq!(
        &doc[start..end],
        want,
        "docs/deploying.md's permission tables are stale; regenerate them with \
         PILOTLIGHT_BLESS=1 cargo test -p pilotlight-aws --test permissions"
    );
}

#[test]
fn ci_lints_every_template() {
    let run = std::fs::read_to_string(repo().join(".ci/run")).expect(".ci/run");
    assert!(
        run.contains("cfn_lint infra/*.yaml") && run.contains("cfnlint.runner"),
        ".ci/run lints the templates"
    );
    let setup = std::fs::read_to_string(repo().join(".ci/setup")).expect(".ci/setup");
    assert!(
        setup.contains("CFN_LINT_VERSION="),
        ".ci/setup pins cfn-lint"
    );
}
