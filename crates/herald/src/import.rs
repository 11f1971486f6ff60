//! `herald import profiles FILE`: streams a CSV or NDJSON file to
//! `POST /v1/profiles:import` (a chunked body: the file is never held in
//! memory), shows the bytes sent, prints the counts and writes the rejected
//! rows, with their line and reason, to a `.rejected` file.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use futures::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncReadExt;

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub command: ImportCommand,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Profiles from a CSV (header row; namespace columns are identities,
    /// other columns attribute paths) or NDJSON file.
    Profiles(ProfilesArgs),
    /// A static audience from a file of identities (one per line: `id`, or
    /// `namespace,id`).
    Audience(crate::import_audience::AudienceArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Ndjson,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    fn from_path(path: &Path) -> Option<Format> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Some(Format::Csv),
            Some("ndjson" | "jsonl" | "json") => Some(Format::Ndjson),
            _ => None,
        }
    }
}

#[derive(Args, Debug)]
pub struct ProfilesArgs {
    /// The file to import.
    pub file: PathBuf,
    /// Herald's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key with the manage scope.
    #[arg(long, env = "HERALD_API_KEY", hide_env_values = true)]
    pub api_key: String,
    /// The sandbox to import into.
    #[arg(long, default_value = "prod")]
    pub sandbox: String,
    /// csv or ndjson (default: from the file's extension).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Where the rejected rows go (default: FILE.rejected).
    #[arg(long)]
    pub rejected: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Deserialize)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

#[derive(Debug, Deserialize)]
pub struct Summary {
    pub created: u64,
    pub updated: u64,
    pub rejected: u64,
    pub errors: Vec<RowError>,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    match args.command {
        ImportCommand::Profiles(a) => profiles(a).await,
        ImportCommand::Audience(a) => crate::import_audience::run(a).await,
    }
}

async fn profiles(a: ProfilesArgs) -> anyhow::Result<()> {
    let format = match a.format.or_else(|| Format::from_path(&a.file)) {
        Some(f) => f,
        None => anyhow::bail!(
            "cannot tell the format of {} from its extension; pass --format csv or --format ndjson",
            a.file.display()
        ),
    };
    let size = std::fs::metadata(&a.file)
        .with_context(|| format!("cannot read {}", a.file.display()))?
        .len();
    let bar = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    };
    let progress = bar.clone();
    let summary = upload(&a.url, &a.api_key, &a.sandbox, &a.file, format, move |n| {
        progress.inc(n)
    })
    .await;
    bar.finish_and_clear();
    let summary = summary?;
    println!(
        "created {}, updated {}, rejected {}",
        summary.created, summary.updated, summary.rejected
    );
    if summary.rejected > 0 {
        let path = a.rejected.clone().unwrap_or_else(|| {
            let mut p = a.file.clone().into_os_string();
            p.push(".rejected");
            PathBuf::from(p)
        });
        write_rejected(&a.file, &path, &summary.errors)?;
        println!(
            "rejected rows: {}{}",
            path.display(),
            if summary.rejected > summary.errors.len() as u64 {
                format!(
                    " (the first {} of {}; the server reports 1,000 at most)",
                    summary.errors.len(),
                    summary.rejected
                )
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// Sends `file` as a chunked body; `sent` is told each chunk's size.
pub async fn upload(
    url: &str,
    api_key: &str,
    sandbox: &str,
    file: &Path,
    format: Format,
    sent: impl Fn(u64) + Send + Sync + 'static,
) -> anyhow::Result<Summary> {
    let f = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("cannot open {}", file.display()))?;
    let chunks = futures::stream::unfold(Some(f), |f| async move {
        let mut f = f?;
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
    .map(move |c| {
        if let Ok(b) = &c {
            sent(b.len() as u64);
        }
        c
    });
    let endpoint = format!("{}/v1/profiles:import", url.trim_end_matches('/'));
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .post(&endpoint)
        .bearer_auth(api_key)
        .header("x-sandbox-name", sandbox)
        .header("content-type", format.content_type())
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .with_context(|| format!("POST {endpoint}"))?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        let detail = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_string))
            .unwrap_or(text);
        anyhow::bail!("the import failed ({status}): {detail}");
    }
    serde_json::from_str(&text).with_context(|| format!("unexpected answer: {text}"))
}

/// `line<TAB>reason<TAB>original line`, for each rejected row: a second
/// streaming pass over the file picks the lines back up.
pub fn write_rejected(file: &Path, out: &Path, errors: &[RowError]) -> anyhow::Result<()> {
    let mut wanted: Vec<&RowError> = errors.iter().collect();
    wanted.sort_by_key(|e| e.line);
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?,
    );
    let mut r = std::io::BufReader::new(std::fs::File::open(file)?);
    let mut next = wanted.iter().peekable();
    let mut line_no = 0u64;
    let mut buf = Vec::new();
    while next.peek().is_some() {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        while let Some(e) = next.peek().filter(|e| e.line == line_no) {
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim_end_matches(['\n', '\r']);
            writeln!(
                w,
                "{}\t{}\t{}",
                e.line,
                e.message.replace(['\t', '\n', '\r'], " "),
                text
            )?;
            next.next();
        }
    }
    // Lines past the end (cannot happen with a file that did not change).
    for e in next {
        writeln!(
            w,
            "{}\t{}\t",
            e.line,
            e.message.replace(['\t', '\n', '\r'], " ")
        )?;
    }
    w.flush()?;
    Ok(())
}
