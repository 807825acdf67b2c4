//! OIDC with `jwks_url`: the JWKS fetched over HTTP from a loopback server made here (the
//! config's https rule is the validator's; the verifier takes any URL). A token signed with a
//! key of the served JWKS is accepted; one signed with another key is refused; an unreachable
//! or broken JWKS URL is a load error naming the URL; a rotated key is fetched again at most
//! once per refetch interval.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use pilotlight_core::access::{OidcConfig, Role};
use pilotlight_server::access::{Oidc, JWKS_REFETCH};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the loopback identity provider serves, and how often it was asked.
#[derive(Clone)]
struct Idp {
    /// `None`: answer 500.
    jwks: Arc<Mutex<Option<Value>>>,
    fetches: Arc<AtomicUsize>,
}

async fn jwks(State(idp): State<Idp>) -> Response {
    idp.fetches.fetch_add(1, Ordering::SeqCst);
    match idp.jwks.lock().unwrap().clone() {
        Some(v) => Json(v).into_response(),
        None => (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response(),
    }
}

async fn serve(jwks_body: Option<Value>) -> (Idp, String) {
    let idp = Idp {
        jwks: Arc::new(Mutex::new(jwks_body)),
        fetches: Arc::default(),
    };
    let app = Router::new()
        .route("/jwks.json", get(jwks))
        .route("/not-jwks", get(|| async { "hello" }))
        .with_state(idp.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (idp, format!("http://{addr}"))
}

/// An Ed25519 key made here: (PKCS#8 for signing, JWK of its public half).
fn keypair(kid: &str) -> (Vec<u8>, Value) {
    use ring::signature::KeyPair;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    (
        pkcs8.as_ref().to_vec(),
        json!({ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig" }),
    )
}

fn id_token(pkcs8: &[u8], kid: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        &json!({
            "iss": "https://idp.example.com", "aud": "pilotlight", "sub": "u-1",
            "email": "carol@example.com", "pilotlight_role": "approver",
            "iat": now, "exp": now + 600,
        }),
        &jsonwebtoken::EncodingKey::from_ed_der(pkcs8),
    )
    .unwrap()
}

fn config(url: &str) -> OidcConfig {
    OidcConfig {
        issuer: "https://idp.example.com".into(),
        audience: "pilotlight".into(),
        jwks_file: None,
        jwks_url: Some(url.into()),
        role_claim: "pilotlight_role".into(),
    }
}

async fn load(url: &str) -> Oidc {
    Oidc::load(&config(url), Path::new("."))
        .await
        .expect("the JWKS loads")
}

#[tokio::test]
async fn a_token_signed_with_a_served_key_is_accepted_and_another_key_is_refused() {
    let (key, jwk) = keypair("k1");
    let (idp, base) = serve(Some(json!({ "keys": [jwk] }))).await;
    let oidc = load(&format!("{base}/jwks.json")).await;
    assert_eq!(
        idp.fetches.load(Ordering::SeqCst),
        1,
        "fetched once at load"
    );

    let who = oidc.verify(&id_token(&key, "k1")).await.unwrap();
    assert_eq!(who.name, "carol@example.com");
    assert_eq!(who.role, Role::Approver);

    // Another key under the served key's id: the signature does not verify.
    let (other, _) = keypair("k1");
    let refused = oidc.verify(&id_token(&other, "k1")).await.unwrap_err();
    assert!(refused.0.contains("ID token refused"), "{refused}");
    // Another key under an id the JWKS does not have: refused, and (within the refetch
    // interval of the load) not fetched again.
    let refused = oidc.verify(&id_token(&other, "k9")).await.unwrap_err();
    assert!(
        refused.0.contains("not in the configured JWKS"),
        "{refused}"
    );
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);
    assert_eq!(JWKS_REFETCH, Duration::from_secs(60));
}

#[tokio::test]
async fn an_unreachable_or_broken_jwks_url_is_a_clear_load_error() {
    // A port nobody listens on: bind one, then close it.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = format!("http://{closed}/jwks.json");
    let e = Oidc::load(&config(&url), Path::new("."))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&url), "names the URL: {e}");
    assert!(e.contains("jwks_url"), "says what to check: {e}");

    let (_, base) = serve(None).await;
    let e = Oidc::load(&config(&format!("{base}/jwks.json")), Path::new("."))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("HTTP 500"), "{e}");

    let e = Oidc::load(&config(&format!("{base}/not-jwks")), Path::new("."))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a JWKS"), "{e}");
}

#[tokio::test]
async fn a_rotated_key_is_fetched_again_at_most_once_per_interval() {
    let (old, old_jwk) = keypair("old");
    let (idp, base) = serve(Some(json!({ "keys": [old_jwk] }))).await;
    let url = format!("{base}/jwks.json");

    // The provider rotates to a new key after the service loaded the JWKS.
    let (new, new_jwk) = keypair("new");
    let rotate = |idp: &Idp| *idp.jwks.lock().unwrap() = Some(json!({ "keys": [new_jwk.clone()] }));

    // With the default interval, a token with the new key right after the load is refused
    // without a fetch (the load was the last fetch).
    let oidc = load(&url).await;
    rotate(&idp);
    assert!(oidc.verify(&id_token(&new, "new")).await.is_err());
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);

    // Once the interval has passed, the unknown key id fetches the JWKS again and the token
    // is accepted; the old key is gone with the old JWKS.
    *idp.jwks.lock().unwrap() = Some(json!({ "keys": [keypair("old").1] }));
    idp.fetches.store(0, Ordering::SeqCst);
    let oidc = load(&url)
        .await
        .with_refetch_interval(Duration::from_millis(200));
    rotate(&idp);
    assert!(
        oidc.verify(&id_token(&new, "new")).await.is_err(),
        "not yet due"
    );
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let who = oidc.verify(&id_token(&new, "new")).await.unwrap();
    assert_eq!(who.role, Role::Approver);
    assert_eq!(
        idp.fetches.load(Ordering::SeqCst),
        2,
        "one fetch for the rotation"
    );
    // Known keys need no fetch.
    oidc.verify(&id_token(&new, "new")).await.unwrap();
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 2);
    let refused = oidc.verify(&id_token(&old, "old")).await.unwrap_err();
    assert!(
        refused.0.contains("not in the configured JWKS"),
        "{refused}"
    );

    // A JWKS that cannot be fetched when due keeps the keys it has.
    *idp.jwks.lock().unwrap() = None;
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(oidc.verify(&id_token(&old, "old")).await.is_err());
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 3);
    oidc.verify(&id_token(&new, "new")).await.unwrap();
}
