//! The install secret that signs tracking and unsubscribe tokens:
//! 32 random bytes in `data_dir/token-secret`, created (mode 0600) on first
//! start and never rewritten — a new secret would break every link already
//! sent.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use herald_domain::token::TokenKey;
use rand::TryRngCore;
use rand::rngs::OsRng;

pub const TOKEN_SECRET_FILE: &str = "token-secret";

/// Loads the token key, creating the secret file when there is none.
pub fn load_or_create_token_key(data_dir: &Path) -> anyhow::Result<TokenKey> {
    let path = data_dir.join(TOKEN_SECRET_FILE);
    if !path.exists() {
        create(data_dir)?;
    }
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let secret: [u8; 32] = match bytes.try_into() {
        Ok(secret) => secret,
        Err(bytes) => bail!(
            "{} holds {} bytes, not 32; restore it from a backup (a new secret breaks every \
             tracking and unsubscribe link already sent)",
            path.display(),
            bytes.len()
        ),
    };
    warn_if_readable_by_others(&path);
    Ok(TokenKey::new(secret))
}

/// Writes the secret to a temporary file and links it into place, so the
/// file is either absent or complete, and two starting processes agree on
/// one secret (the second link fails and that process reads the first's).
fn create(data_dir: &Path) -> anyhow::Result<()> {
    let mut secret = [0u8; 32];
    OsRng
        .try_fill_bytes(&mut secret)
        .context("the operating system's random source failed")?;
    let path = data_dir.join(TOKEN_SECRET_FILE);
    let tmp = data_dir.join(format!(".{TOKEN_SECRET_FILE}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = || -> std::io::Result<()> {
        let mut file = options.open(&tmp)?;
        file.write_all(&secret)?;
        file.sync_all()
    };
    let result = write().and_then(|()| match std::fs::hard_link(&tmp, &path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    });
    let _ = std::fs::remove_file(&tmp);
    result.with_context(|| format!("cannot create {}", path.display()))?;
    // The new directory entry survives a crash.
    if let Ok(dir) = std::fs::File::open(data_dir) {
        let _ = dir.sync_all();
    }
    tracing::info!(path = %path.display(), "created the token secret");
    Ok(())
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "the token secret is readable by other users; chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_domain::token::{TokenClaims, TokenPurpose};

    fn claims() -> TokenClaims {
        TokenClaims {
            purpose: TokenPurpose::Unsubscribe,
            message_id: "m1".into(),
            link: None,
        }
    }

    #[test]
    fn created_once_private_and_stable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = load_or_create_token_key(dir.path()).expect("create");
        let path = dir.path().join(TOKEN_SECRET_FILE);
        assert_eq!(std::fs::read(&path).expect("file").len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let token = first.sign(&claims()).expect("sign");
        // A restart reads the same secret: old links keep working.
        let second = load_or_create_token_key(dir.path()).expect("load");
        assert_eq!(second.verify(&token), Ok(claims()));
        // Another install's secret does not verify them.
        let other = tempfile::tempdir().expect("tempdir");
        let stranger = load_or_create_token_key(other.path()).expect("create");
        assert!(stranger.verify(&token).is_err());
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, [TOKEN_SECRET_FILE]);
    }

    #[test]
    fn a_damaged_secret_is_an_error_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(TOKEN_SECRET_FILE);
        std::fs::write(&path, b"short").expect("write");
        let err = load_or_create_token_key(dir.path()).expect_err("5 bytes");
        assert!(err.to_string().contains("not 32"), "{err}");
        assert_eq!(std::fs::read(&path).expect("file"), b"short");
    }
}
