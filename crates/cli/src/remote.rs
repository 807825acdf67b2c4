//! `pilotlight failover|failback|status|runs --server URL`: the same commands against a running
//! control service's API instead of the local journal and AWS. Failover and failback keep their
//! typed confirmation and show progress from the run's event stream (SSE).

use crate::OutputFormat;
use anyhow::{anyhow, Context, Result};
use futures::StreamExt;
use serde_json::{json, Value};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// Where the service is and how to authenticate to it.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Base URL, e.g. `https://pilotlight.internal:8080`.
    pub server: String,
    /// File holding a bearer token (an access token or an OIDC ID token).
    pub token_file: Option<PathBuf>,
}

struct Conn {
    client: reqwest::Client,
    base: String,
    token: String,
}

fn connect(r: &Remote) -> Result<Conn> {
    let file = r.token_file.as_deref().ok_or_else(|| {
        anyhow!("--server needs a token: pass --token-file FILE (or set PILOTLIGHT_TOKEN_FILE)")
    })?;
    let token = read_token(file)?;
    Ok(Conn {
        client: reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()?,
        base: r.server.trim_end_matches('/').to_string(),
        token,
    })
}

fn read_token(file: &Path) -> Result<String> {
    let t = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the token file {}", file.display()))?;
    let t = t.trim().to_string();
    if t.is_empty() {
        return Err(anyhow!("the token file {} is empty", file.display()));
    }
    Ok(t)
}

/// An API answer: status and JSON body.
async fn call(
    c: &Conn,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value)> {
    let mut req = c
        .client
        .request(method, format!("{}/api/v1{path}", c.base))
        .bearer_auth(&c.token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach the control service at {}", c.base))?;
    let status = resp.status().as_u16();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, v))
}

fn refused(status: u16, v: &Value) -> u8 {
    eprintln!(
        "the control service refused ({status}): {}",
        v["error"].as_str().unwrap_or("no reason given")
    );
    2
}

/// `pilotlight status --server URL`.
pub async fn status(r: &Remote, output: OutputFormat) -> Result<u8> {
    let c = connect(r)?;
    let (code, v) = call(&c, reqwest::Method::GET, "/status", None).await?;
    if code != 200 {
        return Ok(refused(code, &v));
    }
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&v)?),
        OutputFormat::Table => {
            let s = |x: &Value| x.as_str().unwrap_or("-").to_string();
            let run = |x: &Value| {
                if x.is_null() {
                    "none".to_string()
                } else {
                    format!("{} {} {}", s(&x["id"]), s(&x["runbook"]), s(&x["status"]))
                }
            };
            println!("Environment  {}", s(&v["environment"]));
            println!(
                "Serving      {}",
                v["serving_region"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| s(&v["serving"]))
            );
            println!("Phase        {}", s(&v["phase_label"]));
            println!("Active run   {}", run(&v["active_run"]));
            println!("Last run     {}", run(&v["last_run"]));
            println!("Health       {}", s(&v["health"]["state"]));
            println!(
                "Replication  {}",
                match v["replication"]["lag_ms"].as_u64() {
                    Some(l) => format!(
                        "lag {:.1}s (RPO {}s)",
                        l as f64 / 1000.0,
                        v["replication"]["rpo_ms"].as_u64().unwrap_or(0) / 1000
                    ),
                    None => "lag unknown".into(),
                }
            );
            println!(
                "Protection   {}",
                if v["protected"] == true {
                    "in place"
                } else {
                    "NOT in place"
                }
            );
        }
    }
    Ok(if v["protected"] == true && v["phase"] != "degraded" {
        0
    } else {
        1
    })
}

/// `pilotlight runs [show ID] --server URL`.
pub async fn runs(r: &Remote, show: Option<&str>, output: OutputFormat) -> Result<u8> {
    let c = connect(r)?;
    let path = match show {
        Some(id) => format!("/runs/{id}"),
        None => "/runs".into(),
    };
    let (code, v) = call(&c, reqwest::Method::GET, &path, None).await?;
    if code != 200 {
        return Ok(refused(code, &v));
    }
    if output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    let s = |x: &Value| x.as_str().unwrap_or("-").to_string();
    if show.is_some() {
        let run = &v["run"];
        println!(
            "Run {} ({}) {}: requested by {}: {}",
            s(&run["id"]),
            s(&run["runbook"]),
            s(&run["status"]),
            s(&run["requested_by"]),
            s(&run["reason"])
        );
        for st in v["steps"].as_array().into_iter().flatten() {
            println!(
                "  {:<10} {:<32} {}",
                s(&st["status"]),
                s(&st["id"]),
                st["message"].as_str().unwrap_or("")
            );
        }
    } else {
        let list = v["runs"].as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            println!("no runs");
        }
        for r in list {
            println!(
                "{}  {:<9} {:<10} by {}: {}",
                s(&r["id"]),
                s(&r["runbook"]),
                s(&r["status"]),
                s(&r["requested_by"]),
                s(&r["reason"])
            );
        }
    }
    Ok(0)
}

/// What `failover`/`failback --server` ask for.
#[derive(Debug, Clone)]
pub struct StartArgs {
    /// `failover` or `failback`.
    pub runbook: &'static str,
    /// Why.
    pub reason: String,
    /// Planned (zero loss).
    pub planned: bool,
    /// Skip the typed confirmation.
    pub yes: bool,
    /// Same key, same run.
    pub idempotency_key: Option<String>,
    /// Allow data loss, with a reason.
    pub allow_data_loss: Option<String>,
    /// Proceed although readiness fails, with a reason.
    pub override_readiness: Option<String>,
}

/// `pilotlight failover|failback --server URL`: typed confirmation, start, follow the events.
pub async fn start(r: &Remote, a: StartArgs) -> Result<u8> {
    let c = connect(r)?;
    let (code, status) = call(&c, reqwest::Method::GET, "/status", None).await?;
    if code != 200 {
        return Ok(refused(code, &status));
    }
    let env = status["environment"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let confirm = if a.yes {
        env.clone()
    } else {
        if !std::io::stdin().is_terminal() {
            eprintln!("refusing to {} without confirmation: stdin is not a terminal; pass --yes to confirm in a script", a.runbook);
            return Ok(2);
        }
        eprint!(
            "This will {} environment {env} through {} ({} → {}).\nType the environment name to confirm: ",
            a.runbook.to_uppercase(),
            c.base,
            status["primary_region"].as_str().unwrap_or("?"),
            status["dr_region"].as_str().unwrap_or("?"),
        );
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim().to_string()
    };
    let key = a.idempotency_key.clone().unwrap_or_else(|| {
        format!(
            "cli-{}",
            pilotlight_executor::new_run_id(crate::runs::now_ms())
        )
    });
    let body = json!({
        "runbook": a.runbook, "reason": a.reason, "confirm": confirm, "planned": a.planned,
        "idempotency_key": key, "allow_data_loss": a.allow_data_loss,
        "override_readiness": a.override_readiness,
    });
    let (code, v) = call(&c, reqwest::Method::POST, "/runs", Some(body)).await?;
    if code != 202 {
        return Ok(refused(code, &v));
    }
    let id = v["run_id"].as_str().unwrap_or_default().to_string();
    eprintln!("run {id} {}", v["status"].as_str().unwrap_or(""));
    if v["status"] == "awaiting_approval" {
        eprintln!(
            "  ? waiting for a second person to approve (two-person rule): `POST /api/v1/runs/{id}/approve` or the console"
        );
    }
    follow(&c, &id).await?;
    let (_, run) = call(&c, reqwest::Method::GET, &format!("/runs/{id}"), None).await?;
    let final_status = run["run"]["status"].as_str().unwrap_or("unknown");
    eprintln!("run {id} {final_status}");
    Ok(if final_status == "succeeded" { 0 } else { 1 })
}

/// Print a run's events as they arrive, until the stream ends.
async fn follow(c: &Conn, id: &str) -> Result<()> {
    let resp = c
        .client
        .get(format!("{}/api/v1/runs/{id}/events", c.base))
        .bearer_auth(&c.token)
        .send()
        .await?;
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    while let Some(chunk) = stream.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk?));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let data = block.lines().find_map(|l| l.strip_prefix("data: "));
            let Some(v) = data.and_then(|d| serde_json::from_str::<Value>(d).ok()) else {
                continue;
            };
            let e = &v["event"];
            let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
            let line = match e["event"].as_str().unwrap_or("") {
                "node_started" => format!("  … {} started", s("node")),
                "action_sent" => format!("  → {}: {}", s("node"), s("detail")),
                "node_succeeded" => format!("  ✔ {} {}", s("node"), s("detail")),
                "node_failed" => format!("  ✘ {} {}", s("node"), s("error")),
                "approval_requested" => format!("  ? {} waits for approval", s("node")),
                "approved" => format!("  ✔ {} approved by {}", s("node"), s("by")),
                "paused" => format!("  ‖ paused by {}", s("by")),
                "resumed" => format!("  ▶ resumed by {}", s("by")),
                "abort_requested" => format!("  ■ abort requested by {}", s("by")),
                "run_finished" => format!("run {}", v["status"].as_str().unwrap_or("")),
                _ => continue,
            };
            eprintln!("{line}");
        }
    }
    Ok(())
}
