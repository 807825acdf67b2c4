//! Benchmark: the console's overview page (`GET /`) and the status API (`GET /api/v1/status`)
//! under 100 concurrent viewers while a failover runs.
//!
//! It builds the sandbox in the emulator (moto behind the test kit's proxy, with RDS promotions
//! that take `PILOTLIGHT_BENCH_PROMOTION_S` seconds, default 20, so the failover lasts long enough
//! to measure), starts `pilotlight serve` (built with the bench's profile) on 127.0.0.1, signs
//! 100 viewers in (one session and one connection each, like browsers), starts a failover through
//! the API as an operator, and while the run is active every viewer loads `/` and
//! `/api/v1/status` in a loop (pausing `PILOTLIGHT_BENCH_POLL_MS` between rounds, default
//! 250 ms: twelve times the console's own 3 s polling). Prints p50/p95/p99/max per endpoint and whether p99 < 50 ms.
//!
//! Run: `cargo bench -p pilotlight --bench console` (`-- --json` for JSON;
//! `PILOTLIGHT_BENCH_VIEWERS` for another number of viewers; `--profile dev` for the unoptimized
//! build, much faster to build). Not part of `cargo test`.

use anyhow::{bail, Context, Result};
use pilotlight_testkit::{Emulator, EmulatorOptions};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

const VIEWER_TOKEN: &str = "bench-viewer-token";
const OPERATOR_TOKEN: &str = "bench-operator-token";
const TARGET_P99: Duration = Duration::from_millis(50);

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pilotlight"));
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    c
}

/// `text` without the TOML tables `[name]`, `[name.*]` and `[[name.*]]`.
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

/// The sandbox's config with a viewer and an operator token.
fn config(dir: &Path, sandbox: &Path) -> Result<PathBuf> {
    let base = strip_section(&std::fs::read_to_string(sandbox)?, "access");
    let sha = pilotlight_server::auth::token_sha256;
    let text = format!(
        "{base}\n[access]\n\n[[access.tokens]]\nname = \"viewer\"\nrole = \"viewer\"\ntoken_sha256 = \"{}\"\n\n\
         [[access.tokens]]\nname = \"operator\"\nrole = \"operator\"\ntoken_sha256 = \"{}\"\n",
        sha(VIEWER_TOKEN),
        sha(OPERATOR_TOKEN)
    );
    let path = dir.join("bench.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

async fn serve(dir: &Path, config: &Path) -> Result<(Child, String)> {
    let runbooks = concat!(env!("CARGO_MANIFEST_DIR"), "/../../runbooks");
    let mut child = bin()
        .arg("--journal")
        .arg(dir.join("journal.db"))
        .args([
            "--runbooks",
            runbooks,
            "--log",
            "warn,pilotlight_server=info",
            "serve",
            "--config",
        ])
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("serve did not start within 60 s")??
            .context("serve exited before printing its address")?;
        if let Some(i) = line.find(" on http://") {
            break line[i + 4..].trim().to_string();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, url))
}

/// A signed-in client: its own connection pool and session cookie.
struct Session {
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

async fn sign_in(base: &str, token: &str) -> Result<Session> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(2)
        .timeout(Duration::from_secs(30))
        .build()?;
    let res = http
        .post(format!("{base}/api/v1/session"))
        .json(&json!({ "token": token }))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("sign-in refused: {} {}", res.status(), res.text().await?);
    }
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("pilotlight_session="))
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?
        .to_string();
    let body: Value = res.json().await?;
    let csrf = body["csrf_token"].as_str().unwrap_or_default().to_string();
    Ok(Session { http, cookie, csrf })
}

impl Session {
    async fn get(&self, url: &str) -> Result<(Duration, reqwest::StatusCode, usize)> {
        let t = Instant::now();
        let res = self
            .http
            .get(url)
            .header(reqwest::header::COOKIE, &self.cookie)
            .send()
            .await?;
        let status = res.status();
        let body = res.bytes().await?;
        Ok((t.elapsed(), status, body.len()))
    }

    async fn post(&self, url: &str, body: Value) -> Result<Value> {
        let res = self
            .http
            .post(url)
            .header(reqwest::header::COOKIE, &self.cookie)
            .header("X-CSRF-Token", &self.csrf)
            .json(&body)
            .send()
            .await?;
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST {url}: {status} {v}");
        }
        Ok(v)
    }
}

#[derive(Default)]
struct Samples {
    page: Vec<Duration>,
    status: Vec<Duration>,
    errors: u64,
}

async fn viewer(
    base: String,
    s: Session,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) -> Samples {
    let mut out = Samples::default();
    let (page, status) = (format!("{base}/"), format!("{base}/api/v1/status"));
    while !*stop.borrow() {
        for (url, into) in [(&page, 0), (&status, 1)] {
            match s.get(url).await {
                Ok((d, code, len)) if code.is_success() && len > 0 => {
                    if into == 0 {
                        out.page.push(d)
                    } else {
                        out.status.push(d)
                    }
                }
                _ => out.errors += 1,
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => {}
        }
    }
    out
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e4).round() / 10.0
}

fn main() -> Result<()> {
    let json_out = std::env::args().any(|a| a == "--json");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(json_out))
}

async fn run(json_out: bool) -> Result<()> {
    let viewers = env_num("PILOTLIGHT_BENCH_VIEWERS", 100) as usize;
    let poll = Duration::from_millis(env_num("PILOTLIGHT_BENCH_POLL_MS", 250));
    let promotion = Duration::from_secs(env_num("PILOTLIGHT_BENCH_PROMOTION_S", 20));

    let emu = Emulator::start_with(EmulatorOptions {
        promotion_delay: promotion,
        ..Default::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let sandbox = dir.path().join("environment.toml");
    let up = bin()
        .args(["sandbox", "up", "--endpoint", &emu.endpoint(), "--out"])
        .arg(&sandbox)
        .output()
        .await?;
    if !up.status.success() {
        bail!("sandbox up: {}", String::from_utf8_lossy(&up.stderr));
    }
    let cfg = config(dir.path(), &sandbox)?;
    let (_serve, base) = serve(dir.path(), &cfg).await?;

    let mut sessions = Vec::with_capacity(viewers);
    for _ in 0..viewers {
        sessions.push(sign_in(&base, VIEWER_TOKEN).await?);
    }
    // Warm up: every viewer loads the page once (connections open, caches filled).
    for s in &sessions {
        s.get(&format!("{base}/")).await?;
        s.get(&format!("{base}/api/v1/status")).await?;
    }

    let operator = sign_in(&base, OPERATOR_TOKEN).await?;
    let started = operator
        .post(
            &format!("{base}/api/v1/runs"),
            json!({
                "runbook": "failover",
                "reason": "console benchmark",
                "confirm": "confer-sandbox",
                "planned": false,
                "idempotency_key": "bench-failover",
            }),
        )
        .await?;
    let run_id = started["run_id"].as_str().context("no run_id")?.to_string();

    let (stop_tx, stop_rx) = watch::channel(false);
    let t0 = Instant::now();
    let handles: Vec<_> = sessions
        .into_iter()
        .map(|s| tokio::spawn(viewer(base.clone(), s, poll, stop_rx.clone())))
        .collect();
    // Measure while the failover runs.
    let final_status = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let v: Value = operator
            .http
            .get(format!("{base}/api/v1/runs/{run_id}"))
            .header(reqwest::header::COOKIE, &operator.cookie)
            .send()
            .await?
            .json()
            .await?;
        let status = v["run"]["status"]
            .as_str()
            .or(v["status"].as_str())
            .unwrap_or("")
            .to_string();
        if ["succeeded", "failed", "aborted"].contains(&status.as_str()) {
            break status;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("the failover did not finish within 10 min");
        }
    };
    let window = t0.elapsed();
    stop_tx.send(true)?;
    let mut all = Samples::default();
    for h in handles {
        let s = h.await?;
        all.page.extend(s.page);
        all.status.extend(s.status);
        all.errors += s.errors;
    }
    all.page.sort();
    all.status.sort();
    let row = |name: &str, v: &[Duration]| {
        json!({
            "endpoint": name,
            "requests": v.len(),
            "rps": (v.len() as f64 / window.as_secs_f64()).round(),
            "p50_ms": ms(pct(v, 0.50)),
            "p95_ms": ms(pct(v, 0.95)),
            "p99_ms": ms(pct(v, 0.99)),
            "max_ms": ms(v.last().copied().unwrap_or_default()),
            "p99_under_50ms": pct(v, 0.99) < TARGET_P99,
        })
    };
    let report = json!({
        "viewers": viewers,
        "poll_ms": poll.as_millis() as u64,
        "window_s": (window.as_secs_f64() * 10.0).round() / 10.0,
        "failover": final_status,
        "errors": all.errors,
        "results": [row("GET /", &all.page), row("GET /api/v1/status", &all.status)],
    });
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{viewers} viewers, a round every {} ms, for {:.1} s while a failover ran ({final_status}); {} errors",
            poll.as_millis(),
            window.as_secs_f64(),
            all.errors
        );
        println!("| endpoint | requests | req/s | p50 | p95 | p99 | max | p99 < 50 ms |");
        println!("|---|---:|---:|---:|---:|---:|---:|:---:|");
        for r in report["results"].as_array().unwrap() {
            println!(
                "| {} | {} | {} | {} ms | {} ms | {} ms | {} ms | {} |",
                r["endpoint"].as_str().unwrap(),
                r["requests"],
                r["rps"],
                r["p50_ms"],
                r["p95_ms"],
                r["p99_ms"],
                r["max_ms"],
                if r["p99_under_50ms"] == true {
                    "met"
                } else {
                    "NOT met"
                }
            );
        }
    }
    if final_status != "succeeded" {
        bail!("the failover under load ended {final_status}");
    }
    Ok(())
}
