//! Settings: command line over environment over `herald.toml` over defaults.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use serde::Deserialize;

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Where Herald keeps its database and outbox.
    #[arg(long, env = "HERALD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "HERALD_LISTEN")]
    pub listen: Option<String>,
    /// The admin API key (otherwise one is generated on first start).
    #[arg(long, env = "HERALD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// SMTP server for email, e.g. smtp://127.0.0.1:2525,
    /// smtps://user:pass@host:465, smtp://host:587?tls=starttls.
    /// Without it, email goes to the Maildir outbox in the data directory.
    #[arg(long, env = "HERALD_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Messages sent at once.
    #[arg(long, env = "HERALD_DELIVERY_CONCURRENCY")]
    pub delivery_concurrency: Option<usize>,
    /// Idle SMTP connections kept open.
    #[arg(long, env = "HERALD_SMTP_POOL")]
    pub smtp_pool: Option<u32>,
    /// First retry delay after a transient failure, in seconds.
    #[arg(long, env = "HERALD_RETRY_BASE_SECONDS")]
    pub retry_base_seconds: Option<f64>,
    /// Attempts before a transiently failing message is failed.
    #[arg(long, env = "HERALD_MAX_ATTEMPTS")]
    pub max_attempts: Option<i64>,
    /// Log format: text or json.
    #[arg(long, env = "HERALD_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Run as an API-only node: accept and store, but leave delivery to
    /// other nodes working on the same store.
    #[arg(long, env = "HERALD_NO_DELIVERY")]
    pub no_delivery: bool,
    /// Names this node's delivery leases. By default a random id kept in
    /// `data_dir/node-id`, so a restarted node takes back its own leases at
    /// once; set it when several nodes share one data directory (each
    /// needs its own).
    #[arg(long, env = "HERALD_WORKER_ID")]
    pub worker_id: Option<String>,
    /// First retry delay of a failing feedback-webhook call, in seconds
    /// (doubles per failure, at most an hour).
    #[arg(long, env = "HERALD_WEBHOOK_RETRY_BASE_SECONDS")]
    pub webhook_retry_base_seconds: Option<f64>,
    /// Listen for bounces (DSN) and complaints (ARF) over SMTP on this
    /// address, e.g. 0.0.0.0:25 behind the bounce domain's MX.
    #[arg(long, env = "HERALD_INBOUND_SMTP")]
    pub inbound_smtp: Option<String>,
    /// Mount POST /_bench/noop (the benchmark's baseline handler).
    #[arg(long, env = "HERALD_BENCH_NOOP", hide = true)]
    pub bench_noop: bool,
}

/// The file form; every key optional.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    api_key: Option<String>,
    smtp_url: Option<String>,
    delivery_concurrency: Option<usize>,
    smtp_pool: Option<u32>,
    retry_base_seconds: Option<f64>,
    max_attempts: Option<i64>,
    log_format: Option<String>,
    worker_id: Option<String>,
    webhook_retry_base_seconds: Option<f64>,
    inbound_smtp: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: String,
    pub api_key: Option<String>,
    pub smtp_url: Option<String>,
    pub delivery_concurrency: usize,
    pub smtp_pool: u32,
    pub retry_base_seconds: f64,
    pub max_attempts: i64,
    pub json_logs: bool,
    pub bench_noop: bool,
    pub no_delivery: bool,
    /// `None`: the id kept in `data_dir/node-id`.
    pub worker_id: Option<String>,
    pub webhook_retry_base_seconds: f64,
    /// Where the inbound SMTP listener for bounces and complaints listens.
    pub inbound_smtp: Option<String>,
}

impl Settings {
    pub fn resolve(config_path: Option<&Path>, args: ServeArgs) -> anyhow::Result<Settings> {
        let file = match config_path {
            Some(p) => load(p)?,
            None if Path::new("herald.toml").exists() => load(Path::new("herald.toml"))?,
            None => FileConfig::default(),
        };
        let log_format = args
            .log_format
            .or(file.log_format)
            .unwrap_or_else(|| "text".into());
        let json_logs = match log_format.as_str() {
            "text" => false,
            "json" => true,
            other => anyhow::bail!("log format must be 'text' or 'json', not '{other}'"),
        };
        let mut settings = Settings {
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./herald-data")),
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            api_key: args.api_key.or(file.api_key).filter(|k| !k.is_empty()),
            smtp_url: args.smtp_url.or(file.smtp_url).filter(|u| !u.is_empty()),
            delivery_concurrency: args
                .delivery_concurrency
                .or(file.delivery_concurrency)
                .unwrap_or(128),
            // No default of its own: as many idle connections as sends at
            // once, so a busy pool never closes and reopens connections.
            smtp_pool: args.smtp_pool.or(file.smtp_pool).unwrap_or(0),
            retry_base_seconds: args
                .retry_base_seconds
                .or(file.retry_base_seconds)
                .unwrap_or(30.0),
            max_attempts: args.max_attempts.or(file.max_attempts).unwrap_or(8),
            json_logs,
            bench_noop: args.bench_noop,
            no_delivery: args.no_delivery,
            worker_id: args
                .worker_id
                .or(file.worker_id)
                .map(|w| w.trim().to_string())
                .filter(|w| !w.is_empty()),
            webhook_retry_base_seconds: args
                .webhook_retry_base_seconds
                .or(file.webhook_retry_base_seconds)
                .unwrap_or(1.0),
            inbound_smtp: args
                .inbound_smtp
                .or(file.inbound_smtp)
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty()),
        };
        if settings.smtp_pool == 0 {
            settings.smtp_pool = settings.delivery_concurrency.min(u32::MAX as usize) as u32;
        }
        if settings.delivery_concurrency == 0 {
            anyhow::bail!("delivery_concurrency must be at least 1");
        }
        if !(settings.webhook_retry_base_seconds.is_finite()
            && settings.webhook_retry_base_seconds > 0.0)
        {
            anyhow::bail!("webhook_retry_base_seconds must be a positive number");
        }
        if !(settings.retry_base_seconds.is_finite() && settings.retry_base_seconds > 0.0) {
            anyhow::bail!("retry_base_seconds must be a positive number");
        }
        if settings.max_attempts < 1 {
            anyhow::bail!("max_attempts must be at least 1");
        }
        if let Some(k) = &settings.api_key
            && k.len() < 16
        {
            anyhow::bail!("the API key must be at least 16 characters");
        }
        Ok(settings)
    }
}

fn load(path: &Path) -> anyhow::Result<FileConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid configuration in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_beats_file_beats_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9999\"\nsmtp_url = \"smtp://127.0.0.1:2525\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            listen: Some("127.0.0.1:7777".into()),
            ..Default::default()
        };
        let s = Settings::resolve(Some(&path), args).unwrap();
        assert_eq!(s.listen, "127.0.0.1:7777");
        assert_eq!(s.smtp_url.as_deref(), Some("smtp://127.0.0.1:2525"));
        assert_eq!(s.data_dir, PathBuf::from("./herald-data"));
    }

    #[test]
    fn worker_id_is_optional_and_blank_means_the_node_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.toml");
        std::fs::write(&path, "worker_id = \"pool-file\"\n").unwrap();
        let s = Settings::resolve(Some(&path), ServeArgs::default()).unwrap();
        assert_eq!(s.worker_id.as_deref(), Some("pool-file"));
        let args = ServeArgs {
            worker_id: Some("pool-a".into()),
            ..Default::default()
        };
        let s = Settings::resolve(Some(&path), args).unwrap();
        assert_eq!(s.worker_id.as_deref(), Some("pool-a"));
        let args = ServeArgs {
            worker_id: Some("  ".into()),
            ..Default::default()
        };
        std::fs::write(&path, "").unwrap();
        let s = Settings::resolve(Some(&path), args).unwrap();
        assert_eq!(s.worker_id, None);
    }

    #[test]
    fn inbound_smtp_from_the_file_or_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.toml");
        std::fs::write(&path, "inbound_smtp = \"0.0.0.0:25\"\n").unwrap();
        let s = Settings::resolve(Some(&path), ServeArgs::default()).unwrap();
        assert_eq!(s.inbound_smtp.as_deref(), Some("0.0.0.0:25"));
        let args = ServeArgs {
            inbound_smtp: Some("127.0.0.1:2526".into()),
            ..Default::default()
        };
        let s = Settings::resolve(Some(&path), args).unwrap();
        assert_eq!(s.inbound_smtp.as_deref(), Some("127.0.0.1:2526"));
        std::fs::write(&path, "").unwrap();
        let s = Settings::resolve(Some(&path), ServeArgs::default()).unwrap();
        assert_eq!(s.inbound_smtp, None);
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("herald.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        assert!(Settings::resolve(Some(&path), ServeArgs::default()).is_err());
    }
}
