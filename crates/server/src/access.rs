//! Authentication for the API and the console: bearer access tokens (checked against the
//! SHA-256 in `[access.tokens]`), OIDC ID tokens (JWT, checked against a JWKS: signature with
//! an asymmetric key, issuer, audience, expiry), and server-side sessions (in memory: a restart
//! signs everybody out) with a 256-bit random id in a cookie and a CSRF token.

use crate::auth::{same_digest, token_sha256};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use pilotlight_core::access::{AccessConfig, OidcConfig, Principal, Role};
use rand::RngCore;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::warn;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "pilotlight_session";

/// Why a credential was refused (said to the caller and recorded in the audit log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// The OIDC verifier: the configured issuer and audience, and the keys.
pub struct Oidc {
    config: OidcConfig,
    keys: Mutex<JwkSet>,
    /// Where to fetch the keys again when a token names an unknown key (`jwks_url`).
    url: Option<String>,
    last_fetch: Mutex<Option<std::time::Instant>>,
    /// The shortest time between two fetches of `jwks_url` ([`JWKS_REFETCH`] unless changed).
    refetch: Duration,
}

/// With `jwks_url`, a token naming an unknown key fetches the JWKS again at most this often
/// (the first fetch is at start): an identity provider's key rotation is picked up within a
/// minute, and a stream of tokens with made-up key ids does not become a stream of fetches.
pub const JWKS_REFETCH: Duration = Duration::from_secs(60);

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

/// Errors loading the OIDC keys.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The JWKS could not be read or fetched.
    #[error("cannot load the JWKS from {source_name}: {detail}; check `[access.oidc]` jwks_file / jwks_url")]
    Load {
        /// File or URL.
        source_name: String,
        /// What went wrong.
        detail: String,
    },
}

impl OidcError {
    /// Fetching again may help; a bad file does not.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

async fn fetch_jwks(url: &str) -> Result<JwkSet, OidcError> {
    let err = |detail: String| OidcError::Load {
        source_name: url.to_string(),
        detail,
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| err(e.to_string()))?;
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| err(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(err(format!("HTTP {}", resp.status())));
    }
    resp.json::<JwkSet>()
        .await
        .map_err(|e| err(format!("not a JWKS: {e}")))
}

impl Oidc {
    /// Load the keys: `jwks_file` (relative to `base_dir`) or `jwks_url`.
    pub async fn load(config: &OidcConfig, base_dir: &Path) -> Result<Oidc, OidcError> {
        let (keys, url) = match (&config.jwks_file, &config.jwks_url) {
            (Some(f), _) => {
                let path = base_dir.join(f);
                let text = std::fs::read_to_string(&path).map_err(|e| OidcError::Load {
                    source_name: path.display().to_string(),
                    detail: e.to_string(),
                })?;
                let keys = serde_json::from_str::<JwkSet>(&text).map_err(|e| OidcError::Load {
                    source_name: path.display().to_string(),
                    detail: format!("not a JWKS: {e}"),
                })?;
                (keys, None)
            }
            (None, Some(u)) => (fetch_jwks(u).await?, Some(u.clone())),
            (None, None) => {
                return Err(OidcError::Load {
                    source_name: "[access.oidc]".into(),
                    detail: "neither jwks_file nor jwks_url is set".into(),
                })
            }
        };
        Ok(Oidc {
            config: config.clone(),
            keys: Mutex::new(keys),
            url,
            last_fetch: Mutex::new(Some(std::time::Instant::now())),
            refetch: JWKS_REFETCH,
        })
    }

    /// The same verifier with another shortest time between two fetches of `jwks_url`
    /// (tests; [`JWKS_REFETCH`] by default).
    pub fn with_refetch_interval(mut self, every: Duration) -> Oidc {
        self.refetch = every;
        self
    }

    fn key_for(&self, kid: Option<&str>) -> Option<jsonwebtoken::jwk::Jwk> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        match kid {
            Some(k) => keys.find(k).cloned(),
            None if keys.keys.len() == 1 => keys.keys.first().cloned(),
            None => None,
        }
    }

    /// Verify an ID token and return who it names and their role.
    pub async fn verify(&self, token: &str) -> Result<Principal, Refusal> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Refusal(format!("not a valid ID token: {e}")))?;
        let mut jwk = self.key_for(header.kid.as_deref());
        if jwk.is_none() {
            // A rotated key: fetch the JWKS again, at most once per `refetch`.
            if let Some(url) = &self.url {
                let due = {
                    let mut last = self.last_fetch.lock().unwrap_or_else(|e| e.into_inner());
                    let due = last.is_none_or(|t| t.elapsed() >= self.refetch);
                    if due {
                        *last = Some(std::time::Instant::now());
                    }
                    due
                };
                if due {
                    match fetch_jwks(url).await {
                        Ok(k) => *self.keys.lock().unwrap_or_else(|e| e.into_inner()) = k,
                        Err(e) => warn!(error = %e, "cannot refresh the JWKS"),
                    }
                    jwk = self.key_for(header.kid.as_deref());
                }
            }
        }
        let jwk = jwk.ok_or_else(|| {
            Refusal("the ID token is signed with a key that is not in the configured JWKS".into())
        })?;
        // Only asymmetric keys and algorithms: a symmetric key in a JWKS would let anyone who
        // can read the (public) JWKS sign tokens, and `none` is never accepted.
        let family_ok = matches!(
            (&jwk.algorithm, header.alg),
            (
                AlgorithmParameters::RSA(_),
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512,
            ) | (
                AlgorithmParameters::EllipticCurve(_),
                Algorithm::ES256 | Algorithm::ES384
            ) | (AlgorithmParameters::OctetKeyPair(_), Algorithm::EdDSA)
        );
        if !family_ok {
            return Err(Refusal(format!(
                "the ID token's algorithm {:?} does not fit its key (only RSA, EC and Ed25519 keys are accepted)",
                header.alg
            )));
        }
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| Refusal(format!("unusable key in the JWKS: {e}")))?;
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[&self.config.issuer]);
        v.set_audience(&[&self.config.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.leeway = 30;
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
            .map_err(|e| Refusal(format!("ID token refused: {e}")))?;
        let claims = data.claims;
        let name = claims
            .get("email")
            .and_then(|v| v.as_str())
            .or_else(|| claims.get("sub").and_then(|v| v.as_str()))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Refusal("the ID token has neither `email` nor `sub`".into()))?;
        let role = claims
            .get(&self.config.role_claim)
            .and_then(|v| v.as_str())
            .and_then(Role::parse)
            .ok_or_else(|| {
                Refusal(format!(
                    "the ID token's `{}` claim is missing or not one of viewer, operator, approver, admin",
                    self.config.role_claim
                ))
            })?;
        Ok(Principal {
            name: name.to_string(),
            role,
        })
    }
}

/// A signed-in session.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    /// Who.
    pub user: String,
    /// Their role.
    pub role: Role,
    /// The token state-changing requests must echo in `X-CSRF-Token`.
    pub csrf_token: String,
    /// When the session ends, ms since the epoch.
    pub expires_at_ms: u64,
}

/// 256 random bits, hex.
pub fn random_id() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Authentication state: the access config, the OIDC verifier, the sessions.
#[derive(Clone)]
pub struct Authenticator {
    access: Option<Arc<AccessConfig>>,
    oidc: Option<Arc<Oidc>>,
    /// Sessions by the SHA-256 of their id (a memory dump does not hand out live cookies).
    sessions: Arc<Mutex<HashMap<String, Session>>>,
}

impl Authenticator {
    /// From the config's `[access]` (none: nobody can sign in) and a loaded OIDC verifier.
    pub fn new(access: Option<AccessConfig>, oidc: Option<Oidc>) -> Authenticator {
        Authenticator {
            access: access.map(Arc::new),
            oidc: oidc.map(Arc::new),
            sessions: Arc::default(),
        }
    }

    /// The access config, if any.
    pub fn access(&self) -> Option<&AccessConfig> {
        self.access.as_deref()
    }

    /// Whether the two-person rule is on.
    pub fn two_person_rule(&self) -> bool {
        self.access.as_ref().is_some_and(|a| a.two_person_rule)
    }

    fn no_access() -> Refusal {
        Refusal("this control service has no [access] section, so nobody can sign in or act: add [access] with tokens to the environment config (docs/console.md#access)".into())
    }

    /// Who an access token belongs to.
    pub fn token(&self, token: &str) -> Result<Principal, Refusal> {
        let access = self.access.as_ref().ok_or_else(Self::no_access)?;
        let digest = token_sha256(token);
        access
            .tokens
            .iter()
            .find(|t| same_digest(&t.token_sha256, &digest))
            .map(|t| Principal {
                name: t.name.clone(),
                role: t.role,
            })
            .ok_or_else(|| Refusal("unknown token".into()))
    }

    /// Who an OIDC ID token names.
    pub async fn id_token(&self, token: &str) -> Result<Principal, Refusal> {
        self.access.as_ref().ok_or_else(Self::no_access)?;
        match &self.oidc {
            Some(o) => o.verify(token).await,
            None => Err(Refusal(
                "OIDC sign-in is not configured: add [access.oidc], or use an access token".into(),
            )),
        }
    }

    /// A bearer credential: an ID token if it looks like a JWT (three dot-separated parts),
    /// else an access token.
    pub async fn bearer(&self, token: &str) -> Result<Principal, Refusal> {
        if token.split('.').count() == 3 && self.oidc.is_some() {
            self.id_token(token).await
        } else {
            self.token(token)
        }
    }

    /// Open a session for `who`; returns the cookie value and the session.
    pub fn open_session(&self, who: &Principal, now_ms: u64) -> (String, Session) {
        let ttl = self
            .access
            .as_ref()
            .map(|a| a.session_ttl)
            .unwrap_or(Duration::from_secs(3600));
        let id = random_id();
        let s = Session {
            user: who.name.clone(),
            role: who.role,
            csrf_token: random_id(),
            expires_at_ms: now_ms + u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX / 2),
        };
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, s| s.expires_at_ms > now_ms);
        map.insert(token_sha256(&id), s.clone());
        (id, s)
    }

    /// The live session of a cookie value; an expired one is removed and refused.
    pub fn session(&self, id: &str, now_ms: u64) -> Result<Session, Refusal> {
        let key = token_sha256(id);
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&key) {
            Some(s) if s.expires_at_ms > now_ms => Ok(s.clone()),
            Some(_) => {
                map.remove(&key);
                Err(Refusal("the session has expired: sign in again".into()))
            }
            None => Err(Refusal(
                "no such session (signed out, expired, or the service restarted): sign in again"
                    .into(),
            )),
        }
    }

    /// End a session.
    pub fn close_session(&self, id: &str) -> bool {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&token_sha256(id))
            .is_some()
    }

    /// Test hook: move a session's expiry (to test expiry without waiting hours).
    pub fn set_session_expiry(&self, id: &str, expires_at_ms: u64) -> bool {
        let mut map = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(&token_sha256(id)) {
            Some(s) => {
                s.expires_at_ms = expires_at_ms;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pilotlight_core::access::AccessToken;

    fn auth(ttl: Duration) -> Authenticator {
        Authenticator::new(
            Some(AccessConfig {
                session_ttl: ttl,
                tokens: vec![AccessToken {
                    name: "alice".into(),
                    role: Role::Operator,
                    token_sha256: token_sha256("alice-token"),
                }],
                ..AccessConfig::default()
            }),
            None,
        )
    }

    #[test]
    fn tokens_and_sessions() {
        let a = auth(Duration::from_secs(60));
        let p = a.token("alice-token").unwrap();
        assert_eq!((p.name.as_str(), p.role), ("alice", Role::Operator));
        assert!(a.token("mallory").is_err());
        let (id, s) = a.open_session(&p, 1_000);
        assert_eq!(id.len(), 64);
        assert_ne!(id, s.csrf_token);
        assert_eq!(s.expires_at_ms, 61_000);
        assert_eq!(a.session(&id, 2_000).unwrap().user, "alice");
        assert!(a.session(&id, 61_000).unwrap_err().0.contains("expired"));
        assert!(a.session(&id, 2_000).is_err(), "an expired session is gone");
        let (id, _) = a.open_session(&p, 1_000);
        assert!(a.close_session(&id));
        assert!(a.session(&id, 2_000).is_err());
    }

    #[test]
    fn without_access_nobody_signs_in() {
        let a = Authenticator::new(None, None);
        assert!(a.token("anything").unwrap_err().0.contains("add [access]"));
    }
}
