//! `herald import audience FILE --name NAME`: a static audience from a file
//! of identities (one per line: `id`, or `namespace,id`), uploaded in
//! batches: the first creates the audience, the others add members. The
//! file is read line by line, never whole.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};

/// Identities per request (the server takes up to 100,000).
const BATCH: usize = 50_000;

#[derive(Args, Debug)]
pub struct AudienceArgs {
    /// One identity per line: `id` (in `--namespace`) or `namespace,id`.
    pub file: PathBuf,
    /// The audience's name.
    #[arg(long)]
    pub name: String,
    /// Namespace of lines that do not name one.
    #[arg(long, default_value = "email")]
    pub namespace: String,
    /// Herald's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key with the manage scope.
    #[arg(long, env = "HERALD_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// The sandbox to create it in.
    #[arg(long, default_value = "prod")]
    pub sandbox: String,
}

/// The identity on one line, or `None` for a blank one.
fn parse_line(line: &str, default_ns: &str) -> Option<Value> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    Some(match line.split_once(',') {
        Some((ns, id)) if !ns.contains('@') => json!({"namespace": ns.trim(), "id": id.trim()}),
        _ => json!({"namespace": default_ns, "id": line}),
    })
}

async fn send(
    client: &reqwest::Client,
    a: &AudienceArgs,
    path: &str,
    body: Value,
    first_line: usize,
) -> anyhow::Result<Value> {
    let r = client
        .post(format!("{}{path}", a.url.trim_end_matches('/')))
        .bearer_auth(&a.api_key)
        .header("x-sandbox-name", &a.sandbox)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("cannot reach {}", a.url))?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        // Pointers are /identities/<i>/…: say which line of the file.
        let mut msg = format!("{status}: {}", v["detail"].as_str().unwrap_or(""));
        for e in v["errors"].as_array().into_iter().flatten().take(20) {
            let p = e["pointer"].as_str().unwrap_or("");
            let line = p
                .split('/')
                .nth(2)
                .and_then(|i| i.parse::<usize>().ok())
                .map(|i| format!("line {}", first_line + i))
                .unwrap_or_else(|| p.to_string());
            msg.push_str(&format!(
                "\n  {line}: {}",
                e["message"].as_str().unwrap_or("")
            ));
        }
        anyhow::bail!(msg);
    }
    Ok(v)
}

pub async fn run(a: AudienceArgs) -> anyhow::Result<()> {
    let file = std::fs::File::open(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?;
    let client = reqwest::Client::builder().build()?;
    let mut id: Option<String> = None;
    let mut batch = Vec::with_capacity(BATCH);
    // Line numbers of the batch's entries (blank lines are skipped).
    let mut lines = Vec::with_capacity(BATCH);
    let mut total = 0u64;
    let mut reader = std::io::BufReader::new(file).lines().enumerate();
    loop {
        let next = reader.next();
        if let Some((n, line)) = &next {
            let line = line
                .as_ref()
                .map_err(|e| anyhow::anyhow!("line {}: {e}", n + 1))?;
            if let Some(ident) = parse_line(line, &a.namespace) {
                batch.push(ident);
                lines.push(n + 1);
            }
        }
        let last = next.is_none();
        if batch.len() == BATCH || (last && (!batch.is_empty() || id.is_none())) {
            let first_line = lines.first().copied().unwrap_or(1);
            let identities = std::mem::take(&mut batch);
            lines.clear();
            total += identities.len() as u64;
            match &id {
                None => {
                    let v = send(
                        &client,
                        &a,
                        "/v1/audiences",
                        json!({"name": a.name, "identities": identities}),
                        first_line,
                    )
                    .await?;
                    id = v["id"].as_str().map(str::to_string);
                }
                Some(aid) => {
                    send(
                        &client,
                        &a,
                        &format!("/v1/audiences/{aid}/members"),
                        json!({"identities": identities}),
                        first_line,
                    )
                    .await?;
                }
            }
            eprintln!("{total} identities sent");
        }
        if last {
            break;
        }
    }
    let aid = id.context("the server answered without an audience id")?;
    let v: Value = client
        .get(format!(
            "{}/v1/audiences/{aid}",
            a.url.trim_end_matches('/')
        ))
        .bearer_auth(&a.api_key)
        .header("x-sandbox-name", &a.sandbox)
        .send()
        .await?
        .json()
        .await?;
    println!(
        "audience {aid} '{}': {} members ({} lines with an identity)",
        a.name,
        v["memberCount"].as_u64().unwrap_or(0),
        total
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(parse_line("  ", "email"), None);
        assert_eq!(
            parse_line("jane@example.com", "email"),
            Some(json!({"namespace": "email", "id": "jane@example.com"}))
        );
        assert_eq!(
            parse_line("crmId, CRM-1", "email"),
            Some(json!({"namespace": "crmId", "id": "CRM-1"}))
        );
    }
}
