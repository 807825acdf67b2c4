//! The web console in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by `.ci/setup`) driven over WebDriver (fantoccini) against a real
//! `pilotlight serve` over the sandbox in the emulator. An operator signs in, reads the true
//! serving region, opens the plan, starts a failover with the typed confirmation and a reason,
//! watches it finish live (server-sent events), finds it in history, and fails back the same way:
//! the whole failover-and-failback cycle from the browser. Screenshots of every page, at desktop
//! and phone (390 px) width, are kept under `target/test-artifacts/console/`.
//!
//! Everything binds to 127.0.0.1 on free ports. Set `PILOTLIGHT_CHROMIUM` /
//! `PILOTLIGHT_CHROMEDRIVER` to use other binaries.

mod common;

use anyhow::{bail, Context, Result};
use common::World;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const OPERATOR_TOKEN: &str = "operator-token-for-the-browser-test";
const APPROVER_TOKEN: &str = "approver-token-for-the-browser-test";
const VIEWER_TOKEN: &str = "viewer-token-for-the-browser-test";

/// Where screenshots go: `$CARGO_TARGET_DIR/test-artifacts/console` (or the workspace's target/).
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("test-artifacts").join("console");
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    dir
}

/// A port that was free a moment ago on 127.0.0.1 (for chromedriver, which takes a port only).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A health endpoint that is always up (the control service's one probe watches it).
async fn endpoint() -> String {
    let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/health")
}

/// The sandbox's config plus a [health] section (one probe, from the control service) and
/// [access] with a token per role.
fn console_config(world: &World, health_url: &str, two_person_rule: bool) -> PathBuf {
    let base = std::fs::read_to_string(&world.config_path).unwrap();
    // `sandbox up` may write its own [access]; this test brings its own tokens.
    let base = strip_section(&base, "access");
    let sha = pilotlight_server::auth::token_sha256;
    let text = format!(
        r#"{base}
[health]
preset = "fast"
readiness_interval = "5s"

[health.trigger]
mode = "off"

[[health.probes]]
id = "api-http"
kind = "http"
url = "{health_url}"
expect_status = 200
interval = "500ms"
timeout = "400ms"

[[health.vantage_points]]
id = "control"
runs_in = "control"

[access]
two_person_rule = {two_person_rule}

[[access.tokens]]
name = "olivia"
role = "operator"
token_sha256 = "{op}"

[[access.tokens]]
name = "arjun"
role = "approver"
token_sha256 = "{ap}"

[[access.tokens]]
name = "vera"
role = "viewer"
token_sha256 = "{vi}"
"#,
        op = sha(OPERATOR_TOKEN),
        ap = sha(APPROVER_TOKEN),
        vi = sha(VIEWER_TOKEN),
    );
    let path = world.dir.path().join("console.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `text` without the TOML tables `[name]` and `[[name.*]]`/`[name.*]` (up to the next table).
fn strip_section(text: &str, name: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            let header = t.trim_matches(|c| c == '[' || c == ']');
            skipping = header == name || header.starts_with(&format!("{name}."));
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pilotlight"));
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .env("PILOTLIGHT_LOG", "info")
        .kill_on_drop(true);
    c
}

/// Start `serve` and return it with its base URL (read from its line "... on http://ADDR").
async fn serve(world: &World, config: &Path, runbooks: &str) -> (Child, String) {
    let journal = world.journal();
    let mut child = bin()
        .args([
            "--journal",
            &journal,
            "--runbooks",
            runbooks,
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
    let mut seen = Vec::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("serve starts")
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "serve exited before printing its address:\n{}",
                    seen.join("\n")
                )
            });
        if let Some(i) = line.find(" on http://") {
            break line[i + 4..].trim().to_string();
        }
        seen.push(line);
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

/// chromedriver on a free loopback port, answering.
struct Driver {
    _child: Child,
    url: String,
}

async fn chromedriver() -> Result<Driver> {
    let exe = std::env::var("PILOTLIGHT_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    for _ in 0..5 {
        let port = free_port();
        let child = Command::new(&exe)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!("cannot run `{exe}`: install Debian's chromium-driver (bash .ci/setup)")
            })?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = reqwest::get(format!("{url}/status")).await {
                if r.status().is_success() {
                    return Ok(Driver { _child: child, url });
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    bail!("chromedriver did not start")
}

/// One browser session (its own profile: its own cookies).
async fn browser(driver: &Driver) -> Result<Client> {
    let chromium =
        std::env::var("PILOTLIGHT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--window-size=1280,900",
            ],
        },
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .context("start a Chromium session through chromedriver")?;
    Ok(client)
}

/// A console page in one browser, with helpers that wait for real content.
struct Page {
    c: Client,
    base: String,
    shots: PathBuf,
}

const WAIT: Duration = Duration::from_secs(30);

impl Page {
    async fn open(&self, hash: &str) -> Result<()> {
        self.c.goto(&format!("{}/{hash}", self.base)).await?;
        Ok(())
    }

    /// Wait until the element matching `css` exists and its text satisfies `ok`; its text.
    async fn wait_text(
        &self,
        css: &str,
        ok: impl Fn(&str) -> bool,
        within: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + within;
        let mut last = String::from("(absent)");
        loop {
            if let Ok(el) = self.c.find(Locator::Css(css)).await {
                if let Ok(t) = el.text().await {
                    if ok(&t) {
                        return Ok(t);
                    }
                    last = t;
                }
            }
            if Instant::now() > deadline {
                let _ = self.shot("timeout").await;
                bail!("`{css}` never satisfied the condition; last text: {last:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_for(&self, css: &str) -> Result<fantoccini::elements::Element> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(el) = self.c.find(Locator::Css(css)).await {
                return Ok(el);
            }
            if Instant::now() > deadline {
                let _ = self.shot("timeout").await;
                bail!("`{css}` never appeared");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn js(&self, script: &str) -> Result<Value> {
        Ok(self.c.execute(script, vec![]).await?)
    }

    async fn shot(&self, name: &str) -> Result<()> {
        let png = self.c.screenshot().await?;
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png)?;
        Ok(())
    }

    /// Screenshot at phone width (390 px) too, and check nothing forces sideways scrolling.
    async fn shot_phone(&self, name: &str) -> Result<()> {
        self.c.set_window_size(390, 844).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let w = self
            .js("return [window.innerWidth, document.documentElement.scrollWidth]")
            .await?;
        let (inner, scroll) = (w[0].as_i64().unwrap(), w[1].as_i64().unwrap());
        assert!(inner <= 400, "phone viewport is {inner}px wide");
        assert!(
            scroll <= inner + 1,
            "{name}: the page scrolls sideways at {inner}px ({scroll}px wide)"
        );
        self.shot(&format!("{name}-phone")).await?;
        self.c.set_window_size(1280, 900).await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(())
    }

    async fn sign_in(&self, token: &str) -> Result<()> {
        let input = self.wait_for("#token").await?;
        input.clear().await?;
        input.send_keys(token).await?;
        self.c.find(Locator::Css("#signin")).await?.click().await?;
        Ok(())
    }

    /// Whether the element is enabled, read in one script call (pages re-render live, so an
    /// element handle can go stale between two WebDriver calls).
    async fn enabled(&self, css: &str) -> Result<bool> {
        let v = self
            .c
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? !e.disabled : null",
                vec![json!(css)],
            )
            .await?;
        v.as_bool()
            .with_context(|| format!("`{css}` is not on the page"))
    }

    /// Click the element matching `css` (found and clicked in one script call).
    async fn click(&self, css: &str) -> Result<()> {
        let v = self
            .c
            .execute(
                "const e = document.querySelector(arguments[0]); if (!e) return false; e.click(); return true",
                vec![json!(css)],
            )
            .await?;
        if v != json!(true) {
            bail!("`{css}` is not on the page");
        }
        Ok(())
    }

    /// Start `runbook` from the overview through the confirmation dialog; the new run's id.
    async fn start_run(&self, runbook: &str, environment: &str, reason: &str) -> Result<String> {
        self.open("#/").await?;
        let start = format!("#start-{runbook}");
        self.wait_for(&start).await?;
        assert!(
            self.enabled(&start).await?,
            "an operator may start a {runbook}"
        );
        self.click(&start).await?;
        self.wait_for("#start-dialog[open]").await?;
        assert!(
            !self.enabled("#start-submit").await?,
            "disabled before anything is typed"
        );
        self.c
            .find(Locator::Css("#start-reason"))
            .await?
            .send_keys(reason)
            .await?;
        assert!(
            !self.enabled("#start-submit").await?,
            "a reason alone is not enough"
        );
        let confirm = self.c.find(Locator::Css("#start-confirm")).await?;
        let almost = &environment[..environment.len() - 1];
        confirm.send_keys(almost).await?;
        assert!(
            !self.enabled("#start-submit").await?,
            "a partial name does not confirm"
        );
        confirm
            .send_keys(&environment[environment.len() - 1..])
            .await?;
        assert!(
            self.enabled("#start-submit").await?,
            "the exact name confirms"
        );
        self.wait_text("#start-summary", |t| t.contains("steps"), WAIT)
            .await?;
        self.shot(&format!("confirm-{runbook}")).await?;
        // A double click: two clicks in the same task, before any answer can arrive.
        self.js("const b = document.getElementById('start-submit'); b.click(); b.click();")
            .await?;
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.c.current_url().await?;
            if let Some(id) = url.fragment().and_then(|f| f.strip_prefix("/runs/")) {
                return Ok(id.to_string());
            }
            if Instant::now() > deadline {
                let err = self.js("const e = document.getElementById('start-error'); return e ? e.textContent : ''").await?;
                self.shot("start-failed").await?;
                bail!("the {runbook} did not start: {err}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// On a run page: wait until the run finishes; check it succeeded, every step did, and the
    /// page was updated by the event stream while the run went on.
    async fn watch_run(&self, id: &str, name: &str) -> Result<()> {
        self.wait_text("#run-id", |t| t == id, WAIT).await?;
        let mut seen_running = false;
        let deadline = Instant::now() + Duration::from_secs(240);
        let status = loop {
            let s = self.js("const e = document.getElementById('run-status'); return e ? e.dataset.status : null").await?;
            let s = s.as_str().unwrap_or("").to_string();
            if s == "running" && !seen_running {
                seen_running = true;
                self.shot(&format!("run-{name}-running")).await?;
            }
            if ["succeeded", "degraded", "failed", "aborted"].contains(&s.as_str()) {
                break s;
            }
            if Instant::now() > deadline {
                self.shot(&format!("run-{name}-timeout")).await?;
                bail!("the run never finished on the page (last status {s:?})");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        };
        assert_eq!(status, "succeeded", "the {name} run");
        let events = self
            .js("return Number(document.getElementById('live').dataset.events || 0)")
            .await?;
        assert!(
            events.as_u64().unwrap_or(0) > 0,
            "the run page received server-sent events while the run went on ({events})"
        );
        let steps = self.js(
            "return Array.from(document.querySelectorAll('#steps tbody tr')).map(r => [r.dataset.step, r.dataset.status])",
        )
        .await?;
        let steps = steps.as_array().unwrap();
        assert!(steps.len() >= 10, "{steps:?}");
        for s in steps {
            assert!(
                s[1] == "succeeded" || s[1] == "skipped",
                "every step of the {name} finished well: {s:?}"
            );
        }
        self.wait_text(
            "#run-progress",
            |t| t.contains(&format!("{} of {} steps done", steps.len(), steps.len())),
            WAIT,
        )
        .await?;
        self.shot(&format!("run-{name}")).await?;
        Ok(())
    }

    /// The overview's serving region, once the overview shows one.
    async fn serving(&self, expect: &str) -> Result<()> {
        self.open("#/").await?;
        self.wait_text("#serving-region", |t| t == expect, Duration::from_secs(60))
            .await
            .with_context(|| format!("the overview says {expect} serves"))?;
        Ok(())
    }
}

async fn page(driver: &Driver, base: &str) -> Result<Page> {
    Ok(Page {
        c: browser(driver).await?,
        base: base.to_string(),
        shots: artifacts(),
    })
}

/// The environment's runs, read through the API with a session of its own.
async fn runs(base: &str) -> Vec<Value> {
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{base}/api/v1/session"))
        .json(&json!({ "token": VIEWER_TOKEN }))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let cookie = res.headers()[reqwest::header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let v: Value = http
        .get(format!("{base}/api/v1/runs"))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["runs"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_fails_over_and_back_from_the_browser() -> Result<()> {
    let world = World::up().await;
    let (primary, dr) = (
        world.config.regions.primary.clone(),
        world.config.regions.dr.clone(),
    );
    let env_name = world.config.environment.name.clone();
    let runbooks = world.quick_runbooks();
    let config = console_config(&world, &endpoint().await, false);
    let (_serve, base) = serve(&world, &config, &runbooks).await;
    let driver = chromedriver().await?;
    let p = page(&driver, &base).await?;

    // Sign-in page; a wrong token is refused with a message, and nothing else is shown.
    p.open("#/").await?;
    p.wait_for("#signin-form").await?;
    p.shot("signin").await?;
    p.shot_phone("signin").await?;
    p.sign_in("not-a-token").await?;
    p.wait_text("#signin-error", |t| t.contains("refused"), WAIT)
        .await?;
    assert!(p.c.find(Locator::Css("#overview")).await.is_err());

    // The operator signs in: the overview tells the truth (the primary serves).
    p.sign_in(OPERATOR_TOKEN).await?;
    p.wait_text("#serving-region", |t| t == primary, WAIT)
        .await?;
    p.wait_text("#serving-role", |t| t.contains("primary"), WAIT)
        .await?;
    p.wait_text("#environment", |t| t == env_name, WAIT).await?;
    p.wait_text(
        "#who",
        |t| t.contains("olivia") && t.to_lowercase().contains("operator"),
        WAIT,
    )
    .await?;
    // Readiness per resource and health per vantage point, with real rows.
    p.wait_for("#readiness tbody tr").await?;
    p.wait_for("#vantages tr[data-vantage='control']").await?;
    p.shot("overview").await?;
    p.shot_phone("overview").await?;

    // The session cookie: HttpOnly, Secure, SameSite, and it works over http on 127.0.0.1.
    let cookies = p.c.get_all_cookies().await?;
    let session = cookies
        .iter()
        .find(|c| c.name() == "pilotlight_session")
        .context("the session cookie is set")?;
    assert_eq!(session.http_only(), Some(true), "{session:?}");
    assert_eq!(session.secure(), Some(true), "{session:?}");
    assert!(session.same_site().is_some(), "{session:?}");
    let visible = p.js("return document.cookie").await?;
    assert!(
        !visible.as_str().unwrap().contains("pilotlight_session"),
        "HttpOnly hides it from scripts"
    );
    p.c.refresh().await?;
    p.wait_text("#serving-region", |t| t == primary, WAIT)
        .await
        .context("after a reload the Secure cookie still signs the operator in")?;

    // The failover plan: its DAG, the critical path, the diff per step.
    p.open("#/plan/failover").await?;
    p.wait_for("#dag").await?;
    let critical = p
        .wait_text("#critical-path", |t| !t.is_empty(), WAIT)
        .await?;
    assert!(critical.contains("promote-db/db"), "{critical}");
    let cards = p
        .js("return document.querySelectorAll('li.step').length")
        .await?;
    assert_eq!(cards.as_u64(), Some(12), "one card per step");
    let crit_nodes = p
        .js("return document.querySelectorAll('#dag .node.critical').length")
        .await?;
    assert_eq!(
        crit_nodes.as_u64(),
        Some(critical.split(" → ").count() as u64)
    );
    let diff = p
        .wait_text(
            "li.step[data-step='scale-services/api'] .diff",
            |t| t.contains("now") && t.contains("target"),
            WAIT,
        )
        .await?;
    assert!(
        diff.contains("desired 1") && diff.contains("desired 4"),
        "live 1 against target 4: {diff}"
    );
    p.shot("plan-failover").await?;
    p.shot_phone("plan-failover").await?;

    // Fail over: typed confirmation, a reason, a double click; one run, watched live.
    let id = p
        .start_run("failover", &env_name, "browser test: primary region outage")
        .await?;
    p.watch_run(&id, "failover").await?;
    p.shot_phone("run-failover").await?;
    p.serving(&dr).await?;
    p.wait_text("#serving-role", |t| t.contains("DR"), WAIT)
        .await?;
    p.shot("overview-after-failover").await?;

    // History shows it, with its requester and reason.
    p.open("#/history").await?;
    let row = p
        .wait_text(
            &format!("#history tr[data-run='{id}']"),
            |t| t.contains("succeeded"),
            WAIT,
        )
        .await?;
    assert!(
        row.contains("failover") && row.contains("olivia") && row.contains("primary region outage"),
        "{row}"
    );
    p.shot("history").await?;

    // Fail back the same way.
    let back = p
        .start_run("failback", &env_name, "browser test: primary recovered")
        .await?;
    assert_ne!(back, id);
    p.watch_run(&back, "failback").await?;
    p.serving(&primary).await?;
    p.shot("overview-after-failback").await?;
    p.open("#/history").await?;
    p.wait_text(
        &format!("#history tr[data-run='{back}']"),
        |t| t.contains("succeeded"),
        WAIT,
    )
    .await?;
    p.shot_phone("history").await?;

    // The double clicks made one run each.
    let all = runs(&base).await;
    assert_eq!(all.len(), 2, "{all:#?}");
    for r in &all {
        assert_eq!(r["status"], "succeeded");
        assert_eq!(r["requested_by"], "olivia");
    }

    // An isolated drill from the Drills page: typed confirmation, then its progress until it
    // ends, and its report in the list.
    p.open("#/drills").await?;
    p.wait_for("#start-drill").await?;
    p.click("#start-drill").await?;
    p.wait_for("#drill-dialog[open]").await?;
    assert!(
        !p.enabled("#drill-submit").await?,
        "disabled before anything is typed"
    );
    p.c.find(Locator::Css("#drill-reason"))
        .await?
        .send_keys("browser test: quarterly drill")
        .await?;
    p.c.find(Locator::Css("#drill-confirm"))
        .await?
        .send_keys(&env_name)
        .await?;
    assert!(p.enabled("#drill-submit").await?, "the exact name confirms");
    p.shot("drill-confirm").await?;
    p.click("#drill-submit").await?;
    let done = p
        .wait_text(
            "#current-drill",
            |t| t.contains("passed") || t.contains("FAILED") || t.contains("could not run"),
            Duration::from_secs(120),
        )
        .await?;
    assert!(
        done.contains("passed") && done.contains("isolated"),
        "{done}"
    );
    let drill_id = p
        .js("return document.getElementById('current-drill').dataset.drill")
        .await?;
    let drill_id = drill_id.as_str().context("the drill's id")?.to_string();
    p.wait_text(
        &format!("#drills tr[data-drill='{drill_id}']"),
        |t| t.contains("passed"),
        WAIT,
    )
    .await?;
    p.shot("drill-finished").await?;
    // The drill touched nothing that serves: still two runs, the primary still serves.
    assert_eq!(runs(&base).await.len(), 2);

    // Sign out: the console is back to the sign-in page.
    p.click("#sign-out").await?;
    p.wait_for("#signin-form").await?;
    p.c.close().await?;
    Ok(())
}

/// The two-person rule in the browser: an operator's failover waits, the page says "awaiting
/// approval" and offers the operator no way to approve; a different person with the approver
/// role approves from their own browser session, and both pages watch the run finish.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_person_approves_a_failover_from_the_browser() -> Result<()> {
    let world = World::up().await;
    let env_name = world.config.environment.name.clone();
    let runbooks = world.quick_runbooks();
    let config = console_config(&world, &endpoint().await, true);
    let (_serve, base) = serve(&world, &config, &runbooks).await;
    let driver = chromedriver().await?;

    let op = page(&driver, &base).await?;
    op.open("#/").await?;
    op.sign_in(OPERATOR_TOKEN).await?;
    op.wait_text("#two-person", |t| t.contains("Two-person rule"), WAIT)
        .await?;
    let id = op
        .start_run("failover", &env_name, "browser test: two-person rule")
        .await?;
    let banner = op
        .wait_text(
            "#awaiting-approval",
            |t| t.contains("Awaiting approval"),
            WAIT,
        )
        .await?;
    assert!(banner.contains("approve-failover"), "{banner}");
    assert!(
        !op.enabled("#awaiting-approval button.approve").await?,
        "the requester (an operator) cannot approve"
    );
    let status = op
        .js("return document.getElementById('run-status').dataset.status")
        .await?;
    assert_ne!(status, "succeeded");
    op.shot("run-awaiting-approval").await?;
    op.shot_phone("run-awaiting-approval").await?;

    // The approver, in another browser session, approves.
    let ap = page(&driver, &base).await?;
    ap.open(&format!("#/runs/{id}")).await?;
    ap.sign_in(APPROVER_TOKEN).await?;
    ap.wait_text("#who", |t| t.contains("arjun"), WAIT).await?;
    // The overview says what the run waits for (the status's progress of the active run).
    ap.open("#/").await?;
    let progress = ap
        .wait_text(
            "#active-progress",
            |t| t.contains("awaiting approval: approve-failover"),
            WAIT,
        )
        .await?;
    assert!(progress.contains("steps done"), "{progress}");
    ap.open(&format!("#/runs/{id}")).await?;
    ap.wait_text(
        "#awaiting-approval",
        |t| t.contains("approve-failover"),
        WAIT,
    )
    .await?;
    ap.wait_for("#awaiting-approval button.approve").await?;
    assert!(
        ap.enabled("#awaiting-approval button.approve").await?,
        "a different approver may approve"
    );
    ap.shot("run-approver").await?;
    ap.click("#awaiting-approval button.approve").await?;
    ap.watch_run(&id, "approved-failover").await?;
    let approved = ap
        .wait_text(
            "#steps tr[data-step='approve-failover']",
            |t| t.contains("arjun"),
            WAIT,
        )
        .await?;
    assert!(approved.contains("approved by arjun"), "{approved}");

    // The operator's page followed it live.
    op.wait_text(
        "#run-status",
        |t| t.contains("succeeded"),
        Duration::from_secs(60),
    )
    .await?;
    let all = runs(&base).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(all[0]["requested_by"], "olivia");

    // Drills: a report stored in the service's journal (as `pilotlight drill` does) is listed
    // with its three downloads, which the signed-in session fetches.
    let mut report: pilotlight_drill::DrillReport =
        serde_json::from_str(include_str!("../crates/drill/tests/snapshots/report.json"))?;
    report.id = "drill-browser-test".into();
    report.environment = env_name.clone();
    {
        use pilotlight_drill::store::DrillReports;
        pilotlight_store::SqliteJournal::open(Path::new(&world.journal()))?
            .save_drill(&report)
            .await?;
    }
    ap.open("#/drills").await?;
    let row = ap
        .wait_text(
            "#drills tr[data-drill='drill-browser-test']",
            |t| t.contains("isolated"),
            WAIT,
        )
        .await?;
    let verdict = if report.verdict.passed {
        "passed"
    } else {
        "failed"
    };
    assert!(
        row.contains(verdict)
            && row.contains("JSON")
            && row.contains("Markdown")
            && row.contains("HTML"),
        "{row}"
    );
    ap.shot("drills").await?;
    ap.shot_phone("drills").await?;
    let html = ap
        .js("const a = document.querySelector(\"#drills tr[data-drill='drill-browser-test'] a[data-format='html']\"); \
             return fetch(a.href).then(async (r) => [r.status, r.headers.get('content-type'), (await r.text()).includes('drill-browser-test')]);")
        .await?;
    assert_eq!(
        html,
        json!([200, "text/html; charset=utf-8", true]),
        "{html}"
    );

    op.c.close().await?;
    ap.c.close().await?;
    Ok(())
}
