//! Scenario 15 (`console_attacks`): a real `pilotlight serve` over the sandbox, attacked through
//! its API the way a browser-borne or insider attack would: cross-site POSTs (missing or wrong
//! CSRF token, a foreign Origin, Sec-Fetch-Site: cross-site), a requester approving their own
//! request under the two-person rule, an expired session, forged, expired and wrong-audience
//! OIDC ID tokens, a viewer trying to act; every refusal is in the audit log; then the audit
//! log is tampered with (an edited row, a deleted row) and `pilotlight audit verify` names the
//! first broken entry. Also `api_failover_end_to_end`: a failover started over the API, followed
//! over SSE to its end, found in /runs; and `api_full_drill_end_to_end`: a full drill started over
//! the API, conducted by the service (failover and failback as runs), its report stored and
//! downloadable.

mod common;

use base64::Engine;
use common::{pilotlight, World};
use futures::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pilotlight"));
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env("PILOTLIGHT_LOG", "info")
        .kill_on_drop(true);
    c
}

async fn serve(world: &World, config: &std::path::Path) -> (Child, String) {
    let journal = world.journal();
    let runbooks = world.quick_runbooks();
    let mut child = bin()
        .args([
            "--journal",
            &journal,
            "--runbooks",
            &runbooks,
            "serve",
            "--config",
        ])
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("serve starts")
            .unwrap()
            .expect("serve prints its address");
        if let Some(i) = line.find("API on ") {
            break line[i + 7..].trim().to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

fn token(world: &World, role: &str) -> String {
    std::fs::read_to_string(world.dir.path().join(format!("token-{role}")))
        .unwrap()
        .trim()
        .to_string()
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

fn id_token(pkcs8: &[u8], kid: &str, claims: Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(pkcs8),
    )
    .unwrap()
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A signed-in browser session: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(c: &Client, url: &str, body: Value) -> (StatusCode, Value, Option<Session>) {
    let r = c
        .post(format!("{url}/api/v1/session"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    let v: Value = r.json().await.unwrap_or(Value::Null);
    let session = cookie.map(|c| {
        for attr in [
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=",
        ] {
            assert!(c.contains(attr), "cookie lacks {attr}: {c}");
        }
        Session {
            cookie: c.split(';').next().unwrap().to_string(),
            csrf: v["csrf_token"].as_str().unwrap().to_string(),
        }
    });
    (status, v, session)
}

fn start_body(env: &str, key: &str) -> Value {
    json!({ "runbook": "failover", "reason": "console test", "confirm": env, "planned": false, "idempotency_key": key })
}

async fn body_of(r: reqwest::Response) -> (StatusCode, Value) {
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn console_attacks() {
    let world = World::up().await;
    let env = world.config.environment.name.clone();
    let (pkcs8, jwk) = keypair("test-key");
    let (forger, _) = keypair("test-key");
    std::fs::write(
        world.dir.path().join("jwks.json"),
        json!({ "keys": [jwk] }).to_string(),
    )
    .unwrap();
    let base = std::fs::read_to_string(&world.config_path).unwrap();
    assert!(
        base.contains("two_person_rule = false"),
        "sandbox up writes [access]"
    );
    let config = world.dir.path().join("attacks.toml");
    std::fs::write(
        &config,
        base.replace("two_person_rule = false", "two_person_rule = true")
            .replace("session_ttl = \"8h\"", "session_ttl = \"4s\"")
            + "\n[access.oidc]\nissuer = \"https://idp.example.com\"\naudience = \"pilotlight\"\njwks_file = \"jwks.json\"\n",
    )
    .unwrap();
    let (mut child, url) = serve(&world, &config).await;
    let c = Client::new();
    let post = |path: &str| c.post(format!("{url}/api/v1{path}"));

    // A viewer may read but not act, with a token or with a session.
    let viewer = token(&world, "viewer");
    let (s, _) = body_of(
        c.get(format!("{url}/api/v1/status"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = body_of(
        post("/runs")
            .bearer_auth(&viewer)
            .json(&start_body(&env, "v1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(v["error"].as_str().unwrap().contains("viewer role"), "{v}");
    let (s, _) = body_of(
        c.get(format!("{url}/api/v1/audit"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only admins read the audit log");
    // No credential at all.
    let (s, _) = body_of(
        post("/runs")
            .json(&start_body(&env, "a0"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Cross-site POSTs with an operator's session cookie.
    let (s, _, op) = sign_in(&c, &url, json!({ "token": token(&world, "operator") })).await;
    assert_eq!(s, StatusCode::OK);
    let op = op.unwrap();
    /// What is wrong, the CSRF token sent, an extra header, and a fragment of the refusal.
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        Option<(&'a str, &'a str)>,
        &'a str,
    );
    let cases: [Case; 4] = [
        ("missing CSRF token", None, None, "missing X-CSRF-Token"),
        (
            "wrong CSRF token",
            Some("forged"),
            None,
            "wrong X-CSRF-Token",
        ),
        (
            "foreign Origin",
            Some(op.csrf.as_str()),
            Some(("origin", "https://evil.example")),
            "Origin https://evil.example",
        ),
        (
            "Sec-Fetch-Site",
            Some(op.csrf.as_str()),
            Some(("sec-fetch-site", "cross-site")),
            "Sec-Fetch-Site",
        ),
    ];
    for (what, csrf, extra, fragment) in cases {
        let mut req = post("/runs")
            .header("cookie", &op.cookie)
            .json(&start_body(&env, what));
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        if let Some((k, v)) = extra {
            req = req.header(k, v);
        }
        let (s, v) = body_of(req.send().await.unwrap()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{what}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains(fragment),
            "{what}: {v}"
        );
    }
    // A wrong typed confirmation is refused too (and nothing was started by any of the above).
    let (s, v) = body_of(
        post("/runs")
            .header("cookie", &op.cookie)
            .header("x-csrf-token", &op.csrf)
            .json(&start_body("not-the-env", "confirm"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (_, runs) = body_of(
        c.get(format!("{url}/api/v1/runs"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 0, "{runs}");

    // An expired session is refused for reads and writes.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (s, v) = body_of(
        c.get(format!("{url}/api/v1/session"))
            .header("cookie", &op.cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["error"].as_str().unwrap().contains("expired"), "{v}");
    let (s, _) = body_of(
        post("/runs/whatever/abort")
            .header("cookie", &op.cookie)
            .header("x-csrf-token", &op.csrf)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // OIDC: a valid ID token signs in; forged, expired and wrong-audience ones do not.
    let claims = |exp: u64, aud: &str| {
        json!({ "iss": "https://idp.example.com", "aud": aud, "sub": "u-1", "email": "carol@example.com",
                "pilotlight_role": "approver", "exp": exp, "iat": now_s() })
    };
    let (s, v, _) = sign_in(
        &c,
        &url,
        json!({ "id_token": id_token(&pkcs8, "test-key", claims(now_s() + 600, "pilotlight")) }),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["user"], "carol@example.com");
    assert_eq!(v["role"], "approver");
    for (what, tok) in [
        (
            "forged",
            id_token(&forger, "test-key", claims(now_s() + 600, "pilotlight")),
        ),
        (
            "expired",
            id_token(&pkcs8, "test-key", claims(now_s() - 3600, "pilotlight")),
        ),
        (
            "wrong audience",
            id_token(&pkcs8, "test-key", claims(now_s() + 600, "other-app")),
        ),
    ] {
        let (s, v, sess) = sign_in(&c, &url, json!({ "id_token": tok })).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{what}: {v}");
        assert!(sess.is_none(), "{what}: no cookie");
        // As a bearer credential too.
        let (s, _) = body_of(
            c.get(format!("{url}/api/v1/status"))
                .bearer_auth(&tok)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{what} as bearer");
    }
    let (s, _, _) = sign_in(&c, &url, json!({ "token": "guessed" })).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Two-person rule: the requester cannot approve their own request; another approver can.
    let approver = token(&world, "approver");
    let (s, v) = body_of(
        post("/runs")
            .bearer_auth(&approver)
            .json(&start_body(&env, "two-person"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["status"], "awaiting_approval", "{v}");
    let run_id = v["run_id"].as_str().unwrap().to_string();
    // The same idempotency key (a double click) is the same run.
    let (s, again) = body_of(
        post("/runs")
            .bearer_auth(&approver)
            .json(&start_body(&env, "two-person"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(again["run_id"], run_id.as_str());
    assert_eq!(again["created"], false);
    // Wait until the approval step asks.
    let mut waiting = Value::Null;
    for _ in 0..100 {
        let (_, r) = body_of(
            c.get(format!("{url}/api/v1/runs/{run_id}"))
                .bearer_auth(&viewer)
                .send()
                .await
                .unwrap(),
        )
        .await;
        if !r["awaiting_approval"].as_array().unwrap().is_empty() {
            waiting = r;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        waiting["awaiting_approval"][0], "approve-failover",
        "{waiting}"
    );
    let (s, v) = body_of(
        post(&format!("/runs/{run_id}/approve"))
            .bearer_auth(&approver)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("a second person must approve"),
        "{v}"
    );
    // An operator cannot approve at all.
    let (s, _) = body_of(
        post(&format!("/runs/{run_id}/approve"))
            .bearer_auth(token(&world, "operator"))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Abort it (admin): the test is about refusals, not about the failover.
    let admin = token(&world, "admin");
    let (s, v) = body_of(
        post(&format!("/runs/{run_id}/abort"))
            .bearer_auth(&admin)
            .json(&json!({ "reason": "test over" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Every refusal is in the audit log, with who and why.
    let (s, audit) = body_of(
        c.get(format!("{url}/api/v1/audit"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(audit["chain"]["intact"], true, "{}", audit["chain"]);
    let entries = audit["entries"].as_array().unwrap();
    let denied = |action: &str, fragment: &str| {
        entries.iter().any(|e| {
            e["outcome"] == "denied"
                && e["action"] == action
                && e["reason"].as_str().unwrap_or("").contains(fragment)
        })
    };
    for (action, fragment) in [
        ("run.start", "viewer role"),
        ("run.start", "not signed in"),
        ("run.start", "missing X-CSRF-Token"),
        ("run.start", "wrong X-CSRF-Token"),
        ("run.start", "evil.example"),
        ("run.start", "Sec-Fetch-Site"),
        ("run.start", "confirmation does not match"),
        ("run.abort", "expired"),
        ("session.create", "ExpiredSignature"),
        ("session.create", "InvalidSignature"),
        ("session.create", "InvalidAudience"),
        ("session.create", "unknown token"),
        ("run.approve", "a second person must approve"),
        ("run.approve", "operator role"),
    ] {
        assert!(
            denied(action, fragment),
            "no denied {action} entry with `{fragment}` in:\n{}",
            serde_json::to_string_pretty(entries).unwrap()
        );
    }
    assert!(entries.iter().any(|e| e["outcome"] == "allowed"
        && e["action"] == "session.create"
        && e["actor"] == "carol@example.com"));

    // Tampering: the chain verifies, then an edited row and a deleted row are named.
    child.start_kill().ok();
    let _ = child.wait().await;
    let journal = world.journal();
    let verify =
        |path: String| async move { pilotlight(&["--journal", &path, "audit", "verify"]).await };
    let ok = verify(journal.clone()).await;
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains("intact"), "{}", ok.stdout);
    let copy = world.dir.path().join("copy.db");
    {
        let conn = rusqlite::Connection::open(&journal).unwrap();
        conn.execute_batch(&format!(
            "VACUUM INTO '{}'",
            copy.display().to_string().replace('\'', "''")
        ))
        .unwrap();
        conn.execute_batch("DROP TRIGGER audit_append_only_update;")
            .unwrap();
        conn.execute(
            "UPDATE audit SET reason = 'nothing to see here' WHERE seq = 3",
            [],
        )
        .unwrap();
    }
    let broken = verify(journal).await;
    assert_eq!(broken.code, 1, "{}{}", broken.stdout, broken.stderr);
    assert!(
        broken.stdout.contains("BROKEN at entry 3"),
        "{}",
        broken.stdout
    );
    {
        let conn = rusqlite::Connection::open(&copy).unwrap();
        conn.execute_batch("DROP TRIGGER audit_append_only_delete;")
            .unwrap();
        conn.execute("DELETE FROM audit WHERE seq = 2", []).unwrap();
    }
    let broken = verify(copy.display().to_string()).await;
    assert_eq!(broken.code, 1, "{}{}", broken.stdout, broken.stderr);
    assert!(
        broken.stdout.contains("BROKEN at entry 3"),
        "{}",
        broken.stdout
    );
}

/// A failover started over the API (operator token), followed over SSE to its end, listed in
/// /runs, with the status page showing DR serving.
#[tokio::test(flavor = "multi_thread")]
async fn api_failover_end_to_end() {
    let world = World::up().await;
    let env = world.config.environment.name.clone();
    let (_child, url) = serve(&world, &world.config_path).await;
    let c = Client::new();
    let op = token(&world, "operator");
    let (s, v) = body_of(
        c.post(format!("{url}/api/v1/runs"))
            .bearer_auth(&op)
            .json(&start_body(&env, "e2e"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["status"], "running");
    let run_id = v["run_id"].as_str().unwrap().to_string();
    let resp = c
        .get(format!("{url}/api/v1/runs/{run_id}/events"))
        .bearer_auth(&op)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    };
    tokio::time::timeout(Duration::from_secs(240), read)
        .await
        .expect("the event stream ends when the run ends");
    let mut steps = 0;
    let mut last_run = Value::Null;
    for block in text.split("\n\n") {
        let kind = block.lines().find_map(|l| l.strip_prefix("event: "));
        let data = block.lines().find_map(|l| l.strip_prefix("data: "));
        if let (Some(kind), Some(data)) = (kind, data) {
            let v: Value = serde_json::from_str(data).unwrap();
            match kind {
                "step" => steps += 1,
                "run" => last_run = v,
                _ => {}
            }
        }
    }
    assert!(steps > 5, "step events: {text}");
    assert_eq!(last_run["event"]["event"], "run_finished", "{text}");
    assert_eq!(last_run["status"], "succeeded", "{text}");
    let (_, runs) = body_of(
        c.get(format!("{url}/api/v1/runs"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let first = &runs["runs"][0];
    assert_eq!(first["id"], run_id.as_str());
    assert_eq!(first["status"], "succeeded");
    assert_eq!(first["requested_by"], "sandbox-operator");
    let (_, show) = body_of(
        c.get(format!("{url}/api/v1/runs/{run_id}"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(show["steps"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "succeeded" && s["started_at_ms"].is_u64()));
    // The status page catches up with the new serving side.
    let mut status = Value::Null;
    for _ in 0..40 {
        let (_, s) = body_of(
            c.get(format!("{url}/api/v1/status"))
                .bearer_auth(&op)
                .send()
                .await
                .unwrap(),
        )
        .await;
        if s["serving"] == "dr" {
            status = s;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(status["phase"], "failed_over", "{status}");
    assert_eq!(status["serving_region"], world.dr(), "{status}");
    assert_eq!(status["last_run"]["id"], run_id.as_str());

    // The CLI against the server: status and runs read through the API, a viewer's failback is
    // refused, and an operator's failback runs to its end with progress from the event stream.
    let tok = |role: &str| {
        world
            .dir
            .path()
            .join(format!("token-{role}"))
            .display()
            .to_string()
    };
    let st = pilotlight(&[
        "status",
        "--server",
        &url,
        "--token-file",
        &tok("viewer"),
        "--output",
        "json",
    ])
    .await;
    let v: Value = serde_json::from_str(&st.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", st.stdout, st.stderr));
    assert_eq!(v["phase"], "failed_over", "{v}");
    let listed = pilotlight(&["runs", "--server", &url, "--token-file", &tok("viewer")]).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains(&run_id), "{}", listed.stdout);
    let refused = pilotlight(&[
        "failback",
        "--server",
        &url,
        "--token-file",
        &tok("viewer"),
        "--reason",
        "no",
        "--yes",
    ])
    .await;
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("viewer role"), "{}", refused.stderr);
    let back = pilotlight(&[
        "failback",
        "--server",
        &url,
        "--token-file",
        &tok("operator"),
        "--reason",
        "primary is back",
        "--yes",
    ])
    .await;
    assert_eq!(back.code, 0, "{}{}", back.stdout, back.stderr);
    assert!(back.stderr.contains("run succeeded"), "{}", back.stderr);
    assert!(back.stderr.contains("✔"), "progress lines: {}", back.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_full_drill_end_to_end() {
    use pilotlight_sandbox::{ReplicationDelays, Replicator};
    let world = World::up().await;
    let env = world.config.environment.name.clone();
    let replicator = Replicator::start(
        &world.config,
        ReplicationDelays {
            dynamodb: Some(Duration::ZERO),
            s3: None,
            poll: Duration::from_millis(100),
        },
    )
    .unwrap();
    let (_child, url) = serve(&world, &world.config_path).await;
    let c = Client::new();
    let op = token(&world, "operator");
    let drills = || async {
        body_of(
            c.get(format!("{url}/api/v1/drills"))
                .bearer_auth(&op)
                .send()
                .await
                .unwrap(),
        )
        .await
        .1
    };
    assert_eq!(drills().await["can_start"], true);
    let (s, v) = body_of(
        c.post(format!("{url}/api/v1/runs"))
            .bearer_auth(&op)
            .json(&json!({"runbook": "drill", "mode": "full", "reason": "annual DR drill", "confirm": env}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let id = v["drill_id"].as_str().unwrap().to_string();
    let t = std::time::Instant::now();
    let current = loop {
        let v = drills().await;
        assert_eq!(v["current"]["id"], id.as_str(), "{v}");
        if v["current"]["status"] != "running" {
            break v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "the drill never ended: {v}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    replicator.stop().await;
    assert_eq!(current["current"]["status"], "finished", "{current}");
    assert_eq!(current["drills"][0]["id"], id.as_str(), "{current}");
    let (s, report) = body_of(
        c.get(format!("{url}/api/v1/drills/{id}?format=json"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(report["mode"], "full");
    assert_eq!(report["requested_by"], "sandbox-operator");
    assert_eq!(report["verdict"]["passed"], true, "{}", report["verdict"]);
    assert_eq!(current["current"]["passed"], true);
    let runs: Vec<(&str, &str)> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["runbook"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(runs, [("failover", "succeeded"), ("failback", "succeeded")]);
    // The drill's runs are ordinary runs of the service, with the drill in their reason.
    let (_, listed) = body_of(
        c.get(format!("{url}/api/v1/runs"))
            .bearer_auth(&op)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let reasons: Vec<&str> = listed["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.contains(&format!("DR drill {id} (failover)").as_str()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&format!("DR drill {id} (failback)").as_str()),
        "{reasons:?}"
    );
}
