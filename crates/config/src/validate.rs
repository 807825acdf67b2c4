//! Semantic validation of a parsed [`EnvironmentConfig`]: everything serde cannot check (regions
//! that exist, counts that make sense, names unique across the file, AWS naming rules). Pure: no
//! I/O, no AWS calls. Collects every problem, not only the first.

use crate::regions;
use pilotlight_core::model::{EnvironmentConfig, Regions};
use serde::Serialize;
use std::collections::HashMap;
use std::time::Duration;

/// One semantic problem, before it is located in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Dotted path of the offending field, e.g. `ecs_services[1].active_count`, or `(top level)`
    /// for a problem of the file as a whole.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to change, concretely.
    pub fix: String,
}

/// The field name used for problems of the whole file (e.g. no resources at all).
pub const TOP_LEVEL: &str = "(top level)";

/// Upper bound of `aws.max_attempts`.
pub const MAX_ATTEMPTS: u32 = 10;
/// Upper bound of `aws.requests_per_second` (per service and region).
pub const MAX_REQUESTS_PER_SECOND: f64 = 100.0;
/// Upper bound of `check.concurrency`.
pub const MAX_CONCURRENCY: usize = 64;
/// DNS record types Pilotlight can steer.
pub const RECORD_TYPES: &[&str] = &["A", "AAAA", "CNAME"];

/// Check `cfg` for every semantic problem; an empty list means the config is valid.
pub fn validate(cfg: &EnvironmentConfig) -> Vec<Problem> {
    let mut v = Validator::default();
    v.environment(cfg);
    v.regions(cfg);
    v.objectives(cfg);
    v.aws(cfg);
    v.check(cfg);
    v.resources(cfg);
    v.health(cfg);
    v.notifications(cfg);
    v.access(cfg);
    v.problems
}

#[derive(Default)]
struct Validator {
    problems: Vec<Problem>,
}

impl Validator {
    fn problem(
        &mut self,
        field: impl Into<String>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.problems.push(Problem {
            field: field.into(),
            message: message.into(),
            fix: fix.into(),
        });
    }

    fn non_empty(&mut self, field: &str, value: &str, what: &str, example: &str) {
        if value.trim().is_empty() {
            let key = field.rsplit('.').next().unwrap_or(field);
            self.problem(
                field,
                format!("{what} is empty"),
                format!("set it, e.g. `{key} = \"{example}\"`"),
            );
        }
    }

    fn positive(&mut self, field: &str, value: Duration, what: &str, example: &str) {
        if value.is_zero() {
            let key = field.rsplit('.').next().unwrap_or(field);
            self.problem(
                field,
                format!("{what} is zero"),
                format!("set a duration greater than zero, e.g. `{key} = \"{example}\"`"),
            );
        }
    }

    fn environment(&mut self, cfg: &EnvironmentConfig) {
        let name = &cfg.environment.name;
        if name.is_empty() {
            self.problem(
                "environment.name",
                "the environment name is empty",
                "set a short name of lower-case letters, digits and hyphens, e.g. `name = \
                 \"confer-prod\"`",
            );
        } else if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            self.problem(
                "environment.name",
                format!(
                    "`{name}` may contain only lower-case letters, digits and hyphens \
                     (it is used in run ids, confirmations and file names)"
                ),
                format!(
                    "rename it, e.g. `name = \"{}\"`",
                    sanitize(name, false, "confer-prod")
                ),
            );
        }
    }

    fn regions(&mut self, cfg: &EnvironmentConfig) {
        let r = &cfg.regions;
        self.region("regions.primary", &r.primary);
        self.region("regions.dr", &r.dr);
        if r.primary == r.dr {
            self.problem(
                "regions.dr",
                format!(
                    "the DR region is the primary region (`{}`); a regional outage would \
                         take both down",
                    r.dr
                ),
                "set `dr` to a different region of the same partition, e.g. `us-west-2` for a \
                 `us-east-1` primary",
            );
        } else if regions::is_known(&r.primary)
            && regions::is_known(&r.dr)
            && regions::partition(&r.primary) != regions::partition(&r.dr)
        {
            self.problem(
                "regions.dr",
                format!(
                    "`{}` is in partition `{}` but the primary `{}` is in `{}`; replication, \
                     multi-region \
                     keys and global tables do not cross partitions",
                    r.dr,
                    regions::partition(&r.dr),
                    r.primary,
                    regions::partition(&r.primary)
                ),
                format!(
                    "choose a DR region in the `{}` partition",
                    regions::partition(&r.primary)
                ),
            );
        }
        for (i, observer) in r.observers.iter().enumerate() {
            let field = format!("regions.observers[{i}]");
            self.region(&field, observer);
            if observer == &r.primary {
                self.problem(
                    &field,
                    format!(
                        "observer `{observer}` is the primary region; it cannot tell a \
                             regional outage from its own"
                    ),
                    "remove it or choose a region other than the primary (the DR region or a \
                     third region)",
                );
            } else if let Some(first) = r.observers[..i].iter().position(|o| o == observer) {
                self.problem(
                    &field,
                    format!(
                        "observer `{observer}` is listed twice (also `regions.observers[{first}]`)"
                    ),
                    format!("remove this `\"{observer}\"` from `observers`"),
                );
            }
        }
    }

    fn region(&mut self, field: &str, code: &str) {
        if let Some((message, fix)) = regions::explain_unknown(code) {
            self.problem(field, message, fix);
        }
    }

    fn objectives(&mut self, cfg: &EnvironmentConfig) {
        self.positive(
            "objectives.rto",
            cfg.objectives.rto,
            "the recovery time objective",
            "15m",
        );
        self.positive(
            "objectives.rpo",
            cfg.objectives.rpo,
            "the recovery point objective",
            "1m",
        );
    }

    fn aws(&mut self, cfg: &EnvironmentConfig) {
        let aws = &cfg.aws;
        if let Some(endpoint) = &aws.endpoint {
            if let Err(why) = check_endpoint(endpoint) {
                self.problem(
                    "aws.endpoint",
                    format!("`{endpoint}` is not a usable endpoint URL: {why}"),
                    "write an http(s) URL with a host, e.g. `endpoint = \
                     \"http://127.0.0.1:4566\"`, \
                     or remove `endpoint` to use real AWS",
                );
            }
        }
        if let Some(profile) = &aws.profile {
            self.non_empty("aws.profile", profile, "the profile name", "default");
        }
        match (&aws.access_key_id, &aws.secret_access_key) {
            (Some(_), None) => self.problem(
                "aws.access_key_id",
                "`access_key_id` is set but `secret_access_key` is not; static credentials need \
                 both",
                "add `secret_access_key = \"…\"` under `[aws]`, or remove `access_key_id` to use \
                 the default credential chain",
            ),
            (None, Some(_)) => self.problem(
                "aws.secret_access_key",
                "`secret_access_key` is set but `access_key_id` is not; static credentials need \
                 both",
                "add `access_key_id = \"…\"` under `[aws]`, or remove `secret_access_key` to use \
                 the default credential chain",
            ),
            _ => {}
        }
        self.positive(
            "aws.connect_timeout",
            aws.connect_timeout,
            "the connect timeout",
            "3s",
        );
        self.positive(
            "aws.read_timeout",
            aws.read_timeout,
            "the read timeout",
            "20s",
        );
        if !(1..=MAX_ATTEMPTS).contains(&aws.max_attempts) {
            self.problem(
                "aws.max_attempts",
                format!(
                    "{} attempts is out of range: it must be 1 to {MAX_ATTEMPTS} (1 means no \
                         retries)",
                    aws.max_attempts
                ),
                format!("set `max_attempts` between 1 and {MAX_ATTEMPTS}; the default is 5"),
            );
        }
        let rps = aws.requests_per_second;
        if !(rps.is_finite() && rps > 0.0 && rps <= MAX_REQUESTS_PER_SECOND) {
            self.problem(
                "aws.requests_per_second",
                format!(
                    "{rps} requests per second is out of range: it must be greater than 0 \
                         and at most {MAX_REQUESTS_PER_SECOND}"
                ),
                "set `requests_per_second` above 0 and at most 100; the default 8.0 stays under \
                 AWS's published API limits",
            );
        }
    }

    fn check(&mut self, cfg: &EnvironmentConfig) {
        let c = &cfg.check;
        if !(1..=MAX_CONCURRENCY).contains(&c.concurrency) {
            self.problem(
                "check.concurrency",
                format!(
                    "a concurrency of {} is out of range: it must be 1 to {MAX_CONCURRENCY}",
                    c.concurrency
                ),
                format!("set `concurrency` between 1 and {MAX_CONCURRENCY}; the default is 8"),
            );
        }
        self.positive(
            "check.metric_window",
            c.metric_window,
            "the metric window",
            "5m",
        );
    }

    fn health(&mut self, cfg: &EnvironmentConfig) {
        use pilotlight_core::model::{ProbeKind, RunsIn};
        let Some(h) = &cfg.health else {
            return;
        };
        if h.probes.is_empty() {
            self.problem(
                "health.probes",
                "`[health]` has no probes: nothing would be watched",
                "add at least one `[[health.probes]]` (e.g. `kind = \"http\"` with the primary's health URL)",
            );
        }
        let mut ids: HashMap<&str, usize> = HashMap::new();
        for (i, p) in h.probes.iter().enumerate() {
            let at = |f: &str| format!("health.probes[{i}].{f}");
            if p.id.is_empty()
                || !p
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                self.problem(
                    at("id"),
                    format!("probe id `{}` must be letters, digits, `-` or `_`", p.id),
                    "use a short id, e.g. `id = \"api-http\"`",
                );
            }
            if let Some(first) = ids.insert(p.id.as_str(), i) {
                self.problem(
                    at("id"),
                    format!(
                        "probe id `{}` is already used by `health.probes[{first}]`",
                        p.id
                    ),
                    "give every probe its own id",
                );
            }
            let needs = |field: &str, ok: bool| (field.to_string(), ok);
            let required = match p.kind {
                ProbeKind::Http => vec![needs("url", p.url.is_some())],
                ProbeKind::Tcp => vec![needs("address", p.address.is_some())],
                ProbeKind::Route53HealthCheck => {
                    vec![needs("health_check_id", p.health_check_id.is_some())]
                }
                ProbeKind::CloudwatchAlarm => vec![needs("alarm_name", p.alarm_name.is_some())],
                ProbeKind::Command => vec![needs("command", !p.command.is_empty())],
            };
            let kind = serde_json::to_value(p.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            for (field, ok) in required {
                if !ok {
                    self.problem(
                        at(&field),
                        format!("a `{kind}` probe needs `{field}`"),
                        match field.as_str() {
                            "url" => "set `url = \"https://api.example.com/health\"`",
                            "address" => "set `address = \"api.example.com:443\"`",
                            "health_check_id" => "set the Route 53 health check id, e.g. `health_check_id = \"abcdef12-...\"`",
                            "alarm_name" => "set the CloudWatch alarm's name, e.g. `alarm_name = \"api-5xx\"`",
                            _ => "set `command = [\"./scripts/join-test-conference.sh\"]`",
                        },
                    );
                }
            }
            let stray: Vec<&str> = [
                ("url", p.url.is_some() && p.kind != ProbeKind::Http),
                (
                    "expect_status",
                    p.expect_status.is_some() && p.kind != ProbeKind::Http,
                ),
                (
                    "body_contains",
                    p.body_contains.is_some() && p.kind != ProbeKind::Http,
                ),
                ("address", p.address.is_some() && p.kind != ProbeKind::Tcp),
                (
                    "health_check_id",
                    p.health_check_id.is_some() && p.kind != ProbeKind::Route53HealthCheck,
                ),
                (
                    "alarm_name",
                    p.alarm_name.is_some() && p.kind != ProbeKind::CloudwatchAlarm,
                ),
                (
                    "region",
                    p.region.is_some() && p.kind != ProbeKind::CloudwatchAlarm,
                ),
                (
                    "command",
                    !p.command.is_empty() && p.kind != ProbeKind::Command,
                ),
            ]
            .into_iter()
            .filter(|(_, stray)| *stray)
            .map(|(f, _)| f)
            .collect();
            for f in stray {
                self.problem(
                    at(f),
                    format!("`{f}` does not apply to a `{kind}` probe"),
                    format!("remove `{f}`, or change `kind`"),
                );
            }
            if let Some(url) = &p.url {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    self.problem(
                        at("url"),
                        format!("`{url}` is not an http(s) URL"),
                        "write the full URL, e.g. `https://api.example.com/health`",
                    );
                }
            }
            if let Some(addr) = &p.address {
                let port_ok = addr
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
                if !port_ok {
                    self.problem(
                        at("address"),
                        format!("`{addr}` is not `host:port`"),
                        "write it as `host:port`, e.g. `api.example.com:443`",
                    );
                }
            }
            if let Some(r) = &p.region {
                self.region(&at("region"), r);
            }
        }
        if h.vantage_points.is_empty() {
            self.problem(
                "health.vantage_points",
                "`[health]` has no vantage points: no probe would run",
                "add `[[health.vantage_points]]` with `id = \"control\"` and `runs_in = \"control\"`, and observers in other regions",
            );
        }
        let mut vids: HashMap<&str, usize> = HashMap::new();
        for (i, v) in h.vantage_points.iter().enumerate() {
            let at = |f: &str| format!("health.vantage_points[{i}].{f}");
            if let Some(first) = vids.insert(v.id.as_str(), i) {
                self.problem(
                    at("id"),
                    format!(
                        "vantage point id `{}` is already used by `health.vantage_points[{first}]`",
                        v.id
                    ),
                    "give every vantage point its own id",
                );
            }
            for p in &v.probes {
                if !ids.contains_key(p.as_str()) {
                    self.problem(
                        at("probes"),
                        format!("probe `{p}` is not defined in `[[health.probes]]`"),
                        format!(
                            "use one of: {}",
                            h.probes
                                .iter()
                                .map(|p| p.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
            match (v.runs_in, &v.token_sha256) {
                (RunsIn::Observer, None) => self.problem(
                    at("token_sha256"),
                    format!("observer `{}` has no `token_sha256`: its reports could not be authenticated", v.id),
                    "generate a token, give it to the observer (`--token-file`), and set `token_sha256` to its SHA-256: `sha256sum token`",
                ),
                (RunsIn::Observer, Some(t))
                    if t.len() != 64 || !t.chars().all(|c| c.is_ascii_hexdigit()) =>
                {
                    self.problem(
                        at("token_sha256"),
                        "`token_sha256` must be 64 hex digits (a SHA-256), never the token itself",
                        "set it to the output of `sha256sum token-file` (the first field)",
                    )
                }
                (RunsIn::Control, Some(_)) => self.problem(
                    at("token_sha256"),
                    format!("vantage point `{}` runs in the control service; it takes no token", v.id),
                    "remove `token_sha256`, or set `runs_in = \"observer\"`",
                ),
                _ => {}
            }
        }
        // The evaluator's own rules (quorum within the vantage points, thresholds, windows).
        if !h.probes.is_empty() && !h.vantage_points.is_empty() {
            for p in h.settings().problems() {
                let field = format!("health.{}", p.field);
                if !self.problems.iter().any(|x| x.field == field) {
                    self.problem(field, p.message, "see docs/configuration.md, `[health]`");
                }
            }
        }
        for (i, w) in h.maintenance.iter().enumerate() {
            let at = |f: &str| format!("health.maintenance[{i}].{f}");
            let start = humantime::parse_rfc3339(&w.start);
            let end = humantime::parse_rfc3339(&w.end);
            for (f, v, r) in [("start", &w.start, &start), ("end", &w.end, &end)] {
                if r.is_err() {
                    self.problem(
                        at(f),
                        format!("`{v}` is not an RFC 3339 UTC time"),
                        format!("write it like `{f} = \"2026-11-22T01:00:00Z\"`"),
                    );
                }
            }
            if let (Ok(s), Ok(e)) = (start, end) {
                if e <= s {
                    self.problem(
                        at("end"),
                        "the window ends before it starts",
                        "set `end` after `start`",
                    );
                }
            }
        }
        self.positive(
            "health.readiness_interval",
            h.readiness_interval,
            "the readiness interval",
            "5m",
        );
    }

    fn access(&mut self, cfg: &EnvironmentConfig) {
        let Some(a) = &cfg.access else {
            return;
        };
        self.positive(
            "access.session_ttl",
            a.session_ttl,
            "the session lifetime",
            "8h",
        );
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut digests: HashMap<String, usize> = HashMap::new();
        for (i, t) in a.tokens.iter().enumerate() {
            let at = |f: &str| format!("access.tokens[{i}].{f}");
            self.non_empty(&at("name"), &t.name, "the token's name", "alice");
            if let Some(first) = names.insert(t.name.as_str(), i) {
                self.problem(
                    at("name"),
                    format!("token name `{}` is already used by `access.tokens[{first}]`", t.name),
                    "give every token its own name: it is the actor in the journal and the audit log",
                );
            }
            if t.token_sha256.len() != 64 || !t.token_sha256.chars().all(|c| c.is_ascii_hexdigit())
            {
                self.problem(
                    at("token_sha256"),
                    "`token_sha256` must be 64 hex digits (a SHA-256), never the token itself",
                    "set it to the output of `sha256sum token-file` (the first field)",
                );
            } else if let Some(first) = digests.insert(t.token_sha256.to_ascii_lowercase(), i) {
                self.problem(
                    at("token_sha256"),
                    format!("the same token is already given to `access.tokens[{first}]`"),
                    "generate a separate token for each person or automation",
                );
            }
        }
        if let Some(o) = &a.oidc {
            if !(o.issuer.starts_with("https://") || o.issuer.starts_with("http://127.0.0.1")) {
                self.problem(
                    "access.oidc.issuer",
                    format!("`{}` is not an https URL", o.issuer),
                    "set the identity provider's issuer URL exactly as its tokens carry it, e.g. `issuer = \"https://idp.example.com\"`",
                );
            }
            self.non_empty(
                "access.oidc.audience",
                &o.audience,
                "the audience",
                "pilotlight",
            );
            self.non_empty(
                "access.oidc.role_claim",
                &o.role_claim,
                "the role claim",
                "pilotlight_role",
            );
            match (&o.jwks_file, &o.jwks_url) {
                (None, None) => self.problem(
                    "access.oidc",
                    "no JWKS: ID tokens could not be verified",
                    "set `jwks_file = \"jwks.json\"` or `jwks_url = \"https://idp.example.com/.well-known/jwks.json\"`",
                ),
                (Some(_), Some(_)) => self.problem(
                    "access.oidc.jwks_url",
                    "both `jwks_file` and `jwks_url` are set",
                    "keep one of them",
                ),
                (None, Some(u)) if !(u.starts_with("https://") || u.starts_with("http://127.0.0.1")) => {
                    self.problem(
                        "access.oidc.jwks_url",
                        format!("`{u}` is not an https URL"),
                        "fetch the keys over https, e.g. `jwks_url = \"https://idp.example.com/.well-known/jwks.json\"`",
                    )
                }
                _ => {}
            }
        }
        if a.tokens.is_empty() && a.oidc.is_none() {
            self.problem(
                "access",
                "`[access]` has no tokens and no `[access.oidc]`: nobody could sign in",
                "add `[[access.tokens]]` with `name`, `role` and `token_sha256`, or `[access.oidc]`",
            );
        }
    }

    fn notifications(&mut self, cfg: &EnvironmentConfig) {
        let Some(n) = &cfg.notifications else {
            return;
        };
        for (i, url) in n.webhooks.iter().enumerate() {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                self.problem(
                    format!("notifications.webhooks[{i}]"),
                    format!("`{url}` is not an http(s) URL"),
                    "write the webhook's full URL, e.g. `https://hooks.slack.com/services/...`",
                );
            }
        }
        if let Some(arn) = &n.sns_topic_arn {
            if !arn.starts_with("arn:aws") || arn.split(':').nth(2) != Some("sns") {
                self.problem(
                    "notifications.sns_topic_arn",
                    format!("`{arn}` is not an SNS topic ARN"),
                    "set the topic's ARN, e.g. `arn:aws:sns:us-west-2:123456789012:pilotlight`",
                );
            }
        }
        self.positive(
            "notifications.timeout",
            n.timeout,
            "the notification timeout",
            "5s",
        );
    }

    fn resources(&mut self, cfg: &EnvironmentConfig) {
        let mut names: Vec<(String, &str, &str)> = Vec::new(); // (path of the name, name, kind)
        for (i, s) in cfg.ecs_services.iter().enumerate() {
            let at = format!("ecs_services[{i}]");
            names.push((format!("{at}.name"), &s.name, "ecs"));
            self.non_empty(
                &format!("{at}.cluster"),
                &s.cluster,
                "the cluster name",
                "confer",
            );
            self.non_empty(
                &format!("{at}.service"),
                &s.service,
                "the service name",
                "confer-api",
            );
            if let Some(c) = &s.primary_cluster {
                self.non_empty(
                    &format!("{at}.primary_cluster"),
                    c,
                    "the primary cluster name",
                    "confer",
                );
            }
            if let Some(c) = &s.primary_service {
                self.non_empty(
                    &format!("{at}.primary_service"),
                    c,
                    "the primary service name",
                    "confer-api",
                );
            }
            self.counts(&at, "count", s.pilot_light_count, s.active_count, "tasks");
        }
        for (i, g) in cfg.autoscaling_groups.iter().enumerate() {
            let at = format!("autoscaling_groups[{i}]");
            names.push((format!("{at}.name"), &g.name, "autoscaling"));
            self.non_empty(
                &format!("{at}.group"),
                &g.group,
                "the group name",
                "confer-media-routers",
            );
            if let Some(p) = &g.primary_group {
                self.non_empty(
                    &format!("{at}.primary_group"),
                    p,
                    "the primary group name",
                    "confer-media-routers",
                );
            }
            self.counts(
                &at,
                "capacity",
                g.pilot_light_capacity,
                g.active_capacity,
                "instances",
            );
        }
        for (i, r) in cfg.rds_replicas.iter().enumerate() {
            let at = format!("rds_replicas[{i}]");
            names.push((format!("{at}.name"), &r.name, "rds"));
            self.non_empty(
                &format!("{at}.primary_instance"),
                &r.primary_instance,
                "the primary instance",
                "confer-db",
            );
            self.non_empty(
                &format!("{at}.replica_instance"),
                &r.replica_instance,
                "the replica instance",
                "confer-db-replica",
            );
        }
        for (i, a) in cfg.aurora_global_clusters.iter().enumerate() {
            let at = format!("aurora_global_clusters[{i}]");
            names.push((format!("{at}.name"), &a.name, "aurora"));
            self.non_empty(
                &format!("{at}.global_cluster"),
                &a.global_cluster,
                "the global cluster",
                "confer-global",
            );
            self.non_empty(
                &format!("{at}.primary_cluster"),
                &a.primary_cluster,
                "the primary cluster",
                "confer-aurora",
            );
            self.non_empty(
                &format!("{at}.dr_cluster"),
                &a.dr_cluster,
                "the DR cluster",
                "confer-aurora-dr",
            );
        }
        for (i, t) in cfg.dynamodb_tables.iter().enumerate() {
            let at = format!("dynamodb_tables[{i}]");
            names.push((format!("{at}.name"), &t.name, "dynamodb"));
            self.non_empty(
                &format!("{at}.table"),
                &t.table,
                "the table name",
                "confer-meetings",
            );
        }
        for (i, b) in cfg.s3_buckets.iter().enumerate() {
            let at = format!("s3_buckets[{i}]");
            names.push((format!("{at}.name"), &b.name, "s3"));
            self.bucket(&format!("{at}.primary_bucket"), &b.primary_bucket);
            self.bucket(&format!("{at}.dr_bucket"), &b.dr_bucket);
            if b.primary_bucket == b.dr_bucket {
                self.problem(
                    format!("{at}.dr_bucket"),
                    format!(
                        "the DR bucket is the primary bucket (`{}`); replication needs two buckets",
                        b.dr_bucket
                    ),
                    format!(
                        "set `dr_bucket` to the bucket in the DR region, e.g. `\"{}\"`",
                        dr_bucket_suggestion(&b.primary_bucket, &cfg.regions)
                    ),
                );
            }
        }
        for (i, k) in cfg.kms_keys.iter().enumerate() {
            let at = format!("kms_keys[{i}]");
            names.push((format!("{at}.name"), &k.name, "kms"));
            if let Err(why) = check_mrk(&k.key_id) {
                self.problem(
                    format!("{at}.key_id"),
                    format!("`{}` is not a multi-region key id: {why}", k.key_id),
                    "use the id of a multi-region key, `mrk-` followed by 32 hex digits \
                     (e.g. `key_id = \"mrk-1234abcd12ab34cd56ef1234567890ab\"`), or its ARN; \
                     create one with `aws kms create-key --multi-region true` and \
                     `aws kms replicate-key`",
                );
            }
        }
        if let Some(r53) = &cfg.route53 {
            if r53.zone_id.trim().is_empty() {
                self.problem(
                    "route53.zone_id",
                    "the hosted zone id is empty",
                    "set the id of the hosted zone that holds the records, e.g. `zone_id = \
                     \"Z0123456789ABC\"` \
                     (`aws route53 list-hosted-zones` lists them)",
                );
            }
            for (i, rec) in r53.records.iter().enumerate() {
                let at = format!("route53.records[{i}]");
                names.push((format!("{at}.name"), &rec.name, "route53"));
                self.non_empty(
                    &format!("{at}.record_name"),
                    &rec.record_name,
                    "the record name",
                    "api.confer.example.",
                );
                self.non_empty(
                    &format!("{at}.primary_set_identifier"),
                    &rec.primary_set_identifier,
                    "the primary set identifier",
                    "confer-primary",
                );
                self.non_empty(
                    &format!("{at}.dr_set_identifier"),
                    &rec.dr_set_identifier,
                    "the DR set identifier",
                    "confer-dr",
                );
                if rec.primary_set_identifier == rec.dr_set_identifier
                    && !rec.dr_set_identifier.trim().is_empty()
                {
                    self.problem(
                        format!("{at}.dr_set_identifier"),
                        format!(
                            "the DR set identifier is the primary one (`{}`); the two record \
                             sets must be told apart",
                            rec.dr_set_identifier
                        ),
                        format!(
                            "set `dr_set_identifier` to the set identifier of the record set \
                             that points at the DR \
                             region (e.g. `{}-dr`)",
                            rec.name
                        ),
                    );
                }
                if !RECORD_TYPES.contains(&rec.record_type.as_str()) {
                    let upper = rec.record_type.to_ascii_uppercase();
                    let fix = if RECORD_TYPES.contains(&upper.as_str()) {
                        format!("write it in upper case: `record_type = \"{upper}\"`")
                    } else {
                        "set `record_type` to `A`, `AAAA` or `CNAME` (or remove it: the default \
                         is `A`)"
                            .to_string()
                    };
                    self.problem(
                        format!("{at}.record_type"),
                        format!(
                            "record type `{}` is not supported; Pilotlight steers A, AAAA \
                                 and CNAME records",
                            rec.record_type
                        ),
                        fix,
                    );
                }
            }
        }
        self.names(&names);
        if names.is_empty() {
            self.problem(
                TOP_LEVEL,
                "the file declares no resources, so there is nothing to protect or check",
                "add at least one resource table, e.g. `[[dynamodb_tables]]` with `name` and \
                 `table`, \
                 `[[ecs_services]]` or `[[s3_buckets]]` (see docs/configuration.md)",
            );
        }
    }

    fn counts(&mut self, at: &str, what: &str, pilot: u32, active: u32, unit: &str) {
        if active == 0 {
            self.problem(
                format!("{at}.active_{what}"),
                format!("`active_{what}` is 0: the DR region would serve with no {unit}"),
                format!("set `active_{what}` to the {what} the primary runs at, at least 1"),
            );
        } else if pilot > active {
            self.problem(
                format!("{at}.pilot_light_{what}"),
                format!(
                    "`pilot_light_{what}` ({pilot}) is greater than `active_{what}` \
                         ({active}): failover would scale down"
                ),
                format!(
                    "set `pilot_light_{what}` to at most {active} (typically 1), or raise \
                         `active_{what}`"
                ),
            );
        }
    }

    fn bucket(&mut self, field: &str, name: &str) {
        if let Err(why) = check_bucket(name) {
            self.problem(
                field,
                format!("`{name}` is not a valid S3 bucket name: {why}"),
                format!(
                    "use the bucket's real name: 3 to 63 lower-case letters, digits, dots and \
                     hyphens, starting and \
                     ending with a letter or digit, e.g. `\"{}\"`",
                    sanitize_bucket(name)
                ),
            );
        }
    }

    fn names(&mut self, names: &[(String, &str, &str)]) {
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for (path, name, kind) in names {
            if !valid_name(name) {
                let message = if name.is_empty() {
                    "the logical name is empty".to_string()
                } else {
                    format!(
                        "`{name}` is not a valid logical name: it must start with a lower-case \
                         letter or digit and contain only lower-case letters, digits, `_` and `-`"
                    )
                };
                self.problem(
                    path,
                    message,
                    format!(
                        "rename it, e.g. `name = \"{}\"`",
                        sanitize(name, true, kind)
                    ),
                );
            } else if let Some(first) = seen.get(name) {
                self.problem(
                    path,
                    format!(
                        "the name `{name}` is already used by `{first}`; runbooks refer to \
                         resources by name alone, \
                         so names must be unique across the whole file"
                    ),
                    format!(
                        "rename this one, e.g. `name = \"{name}-{}\"`, and use that name in \
                         runbooks",
                        if *kind == "route53" { "dns" } else { kind }
                    ),
                );
            } else {
                seen.insert(name, path);
            }
        }
    }
}

/// `^[a-z0-9][a-z0-9_-]*$`
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// A name close to `name` that passes the naming rule (lower case, other characters become `-`).
fn sanitize(name: &str, underscore: bool, fallback: &str) -> String {
    let mapped: String = name
        .trim()
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || (underscore && c == '_') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(|c| c == '-' || c == '_');
    let mut out = String::new();
    for c in trimmed.chars() {
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    if out.is_empty() {
        fallback.to_string()
    } else {
        out
    }
}

/// A valid bucket name close to `name`, for the fix text.
fn sanitize_bucket(name: &str) -> String {
    let mut out = sanitize(&name.replace(['_', '.'], "-"), false, "confer-recordings");
    out.truncate(63);
    let out = out.trim_end_matches('-').to_string();
    if out.len() < 3 {
        format!("{out}-bucket")
    } else {
        out
    }
}

/// The primary bucket's name with the primary region replaced by the DR region (or appended).
fn dr_bucket_suggestion(primary_bucket: &str, regions: &Regions) -> String {
    if !regions.primary.is_empty() && primary_bucket.contains(&regions.primary) {
        sanitize_bucket(&primary_bucket.replace(&regions.primary, &regions.dr))
    } else {
        sanitize_bucket(&format!("{primary_bucket}-{}", regions.dr))
    }
}

/// An http(s) URL with a host (and, if given, a numeric port).
fn check_endpoint(url: &str) -> Result<(), String> {
    if url.chars().any(char::is_whitespace) {
        return Err("it contains whitespace".to_string());
    }
    let lower = url.to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &url[7..]
    } else if lower.starts_with("https://") {
        &url[8..]
    } else {
        return Err("it must start with `http://` or `https://`".to_string());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => return Err("the IPv6 address is not closed with `]`".to_string()),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("it has no host".to_string());
    }
    if let Some(port) = port {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!("the port `{port}` is not a number from 1 to 65535"));
        }
    }
    Ok(())
}

/// `mrk-` + 32 hex digits, or an ARN `arn:PARTITION:kms:REGION:ACCOUNT:key/mrk-…`.
fn check_mrk(key_id: &str) -> Result<(), String> {
    // AWS writes 32 hex digits; some tools (and the emulator) write them as a dashed UUID.
    let is_mrk = |id: &str| {
        id.strip_prefix("mrk-").is_some_and(|rest| {
            let hex: String = rest.chars().filter(|c| *c != '-').collect();
            let dashed_ok =
                !rest.contains('-') || rest.split('-').map(str::len).eq([8usize, 4, 4, 4, 12]);
            dashed_ok && hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
        })
    };
    if key_id.starts_with("arn:") {
        return match key_id.split_once(":key/") {
            Some((head, id)) if head.contains(":kms:") && is_mrk(id) => Ok(()),
            Some((head, _)) if !head.contains(":kms:") => {
                Err("the ARN is not a KMS ARN".to_string())
            }
            Some((_, id)) if !id.starts_with("mrk-") => Err(
                "the ARN names a single-region key (its id does not start with `mrk-`)".to_string(),
            ),
            Some(_) => {
                Err("the key id in the ARN is not `mrk-` followed by 32 hex digits".to_string())
            }
            None => Err(
                "the ARN does not contain `:key/mrk-…` (aliases are per region and cannot be used)"
                    .to_string(),
            ),
        };
    }
    if is_mrk(key_id) {
        Ok(())
    } else if key_id.starts_with("alias/") {
        Err("an alias is per region; use the key id".to_string())
    } else if key_id.starts_with("mrk-") {
        Err("`mrk-` must be followed by exactly 32 hex digits".to_string())
    } else {
        Err(
            "it does not start with `mrk-` (a single-region key cannot be used in the DR region)"
                .to_string(),
        )
    }
}

/// AWS general-purpose bucket naming rules.
fn check_bucket(name: &str) -> Result<(), String> {
    let len = name.len();
    if !(3..=63).contains(&len) {
        return Err(format!(
            "it is {len} characters long; bucket names have 3 to 63"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "`{c}` is not allowed (only lower-case letters, digits, `.` and `-`)"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err("it must start and end with a letter or digit".to_string());
    }
    if name.contains("..") {
        return Err("it contains two adjacent dots".to_string());
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err("it is formatted as an IP address".to_string());
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!("the prefix `{prefix}` is reserved"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(format!("the suffix `{suffix}` is reserved"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        for ok in [
            "http://127.0.0.1:4566",
            "https://kms.us-east-1.amazonaws.com",
            "http://[::1]:5000/",
            "HTTP://moto",
        ] {
            assert_eq!(check_endpoint(ok), Ok(()), "{ok}");
        }
        let bad = [
            ("127.0.0.1:4566", "http://"),
            ("ftp://host", "http://"),
            ("http://", "no host"),
            ("http://:4566", "no host"),
            ("http://host:port", "port `port`"),
            ("http://host:0", "port `0`"),
            ("http://ho st", "whitespace"),
            ("http://[::1", "IPv6"),
        ];
        for (url, why) in bad {
            let err = check_endpoint(url).unwrap_err();
            assert!(err.contains(why), "{url}: {err}");
        }
    }

    #[test]
    fn kms_key_ids() {
        let hex = "1234abcd12ab34cd56ef1234567890ab";
        assert_eq!(check_mrk(&format!("mrk-{hex}")), Ok(()));
        assert_eq!(
            check_mrk(&format!("arn:aws:kms:us-east-1:123456789012:key/mrk-{hex}")),
            Ok(())
        );
        assert_eq!(
            check_mrk(&format!(
                "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-{hex}"
            )),
            Ok(())
        );
        let bad = [
            (
                "1234abcd-12ab-34cd-56ef-1234567890ab".to_string(),
                "does not start with `mrk-`",
            ),
            ("mrk-1234".to_string(), "exactly 32 hex"),
            (format!("mrk-{}", "g".repeat(32)), "exactly 32 hex"),
            ("alias/confer-data".to_string(), "alias"),
            (
                "arn:aws:kms:us-east-1:123456789012:alias/confer".to_string(),
                ":key/mrk-",
            ),
            (
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .to_string(),
                "single-region",
            ),
            (format!("arn:aws:s3:::key/mrk-{hex}"), "not a KMS ARN"),
            ("arn:aws:kms:us-east-1:1:key/mrk-12".to_string(), "32 hex"),
        ];
        for (id, why) in bad {
            let err = check_mrk(&id).unwrap_err();
            assert!(err.contains(why), "{id}: {err}");
        }
    }

    #[test]
    fn bucket_names() {
        for ok in [
            "confer-recordings-us-east-1",
            "abc",
            "a.b-c",
            &"a".repeat(63),
        ] {
            assert_eq!(check_bucket(ok), Ok(()), "{ok}");
        }
        let bad = [
            ("ab", "3 to 63"),
            ("Confer", "`C` is not allowed"),
            ("confer_recordings", "`_` is not allowed"),
            ("-confer", "start and end"),
            ("confer.", "start and end"),
            ("a..b", "adjacent dots"),
            ("192.168.5.4", "IP address"),
            ("xn--confer", "prefix `xn--`"),
            ("confer-s3alias", "suffix `-s3alias`"),
        ];
        for (name, why) in bad {
            let err = check_bucket(name).unwrap_err();
            assert!(err.contains(why), "{name}: {err}");
        }
        assert_eq!(
            check_bucket(&"a".repeat(64)).unwrap_err(),
            "it is 64 characters long; bucket names have 3 to 63"
        );
    }

    #[test]
    fn names_and_sanitizing() {
        for ok in ["api", "0db", "media-routers", "a_b"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "Api", "-api", "_api", "api.v2", "api v2"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert_eq!(sanitize("Confer Prod!", false, "x"), "confer-prod");
        assert_eq!(sanitize("Media_Routers", true, "x"), "media_routers");
        assert_eq!(sanitize("Media_Routers", false, "x"), "media-routers");
        assert_eq!(sanitize("!!", false, "fallback"), "fallback");
        assert_eq!(sanitize_bucket("Confer_Recordings"), "confer-recordings");
        assert_eq!(sanitize_bucket("A"), "a-bucket");
    }
}
