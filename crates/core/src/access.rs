//! Who may do what through the HTTP API and the console (`[access]`): bearer tokens (stored as
//! SHA-256), optional OIDC ID tokens, the four roles and what each allows. Pure: the server
//! authenticates, this module decides.
//!
//! Roles are ordered, each including everything the one before allows:
//! `viewer` (reads) < `operator` (start, pause, resume, abort runs) < `approver` (also approve
//! steps) < `admin` (also read the audit log). Without an `[access]` section nobody can act.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A role, ordered from least to most allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads status, plans, runs.
    Viewer,
    /// Also starts, pauses, resumes and aborts runs.
    Operator,
    /// Also approves steps (and a second person's request under the two-person rule).
    Approver,
    /// Everything, including the audit log.
    Admin,
}

impl Role {
    /// Every role, least allowed first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Approver, Role::Admin];

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// Parse a lower-case name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == s.trim())
    }

    /// Whether this role may perform `p`.
    pub fn allows(self, p: Permission) -> bool {
        self >= p.least_role()
    }
}

/// Something a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read status, readiness, plans, runs.
    Read,
    /// Start a run.
    StartRun,
    /// Pause, resume or abort a run.
    ControlRun,
    /// Approve a step.
    Approve,
    /// Read the audit log.
    ReadAudit,
}

impl Permission {
    /// The least role that has this permission.
    pub fn least_role(self) -> Role {
        match self {
            Permission::Read => Role::Viewer,
            Permission::StartRun | Permission::ControlRun => Role::Operator,
            Permission::Approve => Role::Approver,
            Permission::ReadAudit => Role::Admin,
        }
    }
}

/// `[access]`: who may use the HTTP API and the console.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// When true, a failover or failback started from the API waits for a different person with
    /// the approver (or admin) role to approve it.
    #[serde(default)]
    pub two_person_rule: bool,
    /// How long a console session lasts after sign-in.
    #[serde(default = "default_session_ttl", with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Bearer tokens, stored as their SHA-256.
    #[serde(default)]
    pub tokens: Vec<AccessToken>,
    /// OIDC ID tokens, validated against a JWKS.
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
}

fn default_session_ttl() -> Duration {
    Duration::from_secs(8 * 3600)
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            two_person_rule: false,
            session_ttl: default_session_ttl(),
            tokens: Vec::new(),
            oidc: None,
        }
    }
}

/// One bearer token (`[[access.tokens]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessToken {
    /// The person or automation: the actor in the journal and the audit log.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// SHA-256 (64 hex digits) of the token; never the token itself.
    pub token_sha256: String,
}

/// `[access.oidc]`: OIDC ID tokens (JWT) validated against a JWKS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer (`iss`) the tokens must carry.
    pub issuer: String,
    /// The audience (`aud`) the tokens must carry.
    pub audience: String,
    /// A JWKS file (relative to the config file's directory), or
    #[serde(default)]
    pub jwks_file: Option<String>,
    /// the JWKS URL (https).
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// The claim holding the role (`viewer`, `operator`, `approver`, `admin`).
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
}

fn default_role_claim() -> String {
    "pilotlight_role".into()
}

/// Who made a request, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The name (token name, or the ID token's `email`, else `sub`).
    pub name: String,
    /// The role.
    pub role: Role,
}

/// Why the two-person rule refuses an approval, if it does: under the rule, nobody approves a
/// step of a run they requested themselves.
pub fn two_person_refusal(rule: bool, requested_by: &str, approver: &str) -> Option<String> {
    (rule && requested_by == approver).then(|| {
        format!(
            "a second person must approve: {approver} requested this run, and the two-person rule is on; ask another approver"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_each_adds_a_permission() {
        use Permission::*;
        let table = [
            (Role::Viewer, [true, false, false, false, false]),
            (Role::Operator, [true, true, true, false, false]),
            (Role::Approver, [true, true, true, true, false]),
            (Role::Admin, [true, true, true, true, true]),
        ];
        for (role, expected) in table {
            let got = [Read, StartRun, ControlRun, Approve, ReadAudit].map(|p| role.allows(p));
            assert_eq!(got, expected, "{role:?}");
            assert_eq!(Role::parse(role.name()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn two_person_rule() {
        assert!(two_person_refusal(true, "alice", "alice")
            .unwrap()
            .contains("a second person must approve"));
        assert_eq!(two_person_refusal(true, "alice", "bob"), None);
        assert_eq!(two_person_refusal(false, "alice", "alice"), None);
    }

    #[test]
    fn parses_with_defaults() {
        let a: AccessConfig = toml::from_str(
            r#"
            [[tokens]]
            name = "alice"
            role = "operator"
            token_sha256 = "00"
            "#,
        )
        .unwrap();
        assert!(!a.two_person_rule);
        assert_eq!(a.session_ttl, Duration::from_secs(8 * 3600));
        assert_eq!(a.tokens[0].role, Role::Operator);
        assert!(toml::from_str::<AccessConfig>("bogus = 1").is_err());
    }
}
