//! Suppressions: one row per suppressed address (by its key) or email
//! domain, unique per sandbox and channel.

use std::collections::HashMap;

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use herald_domain::channel::Channel;
use herald_domain::suppression::{
    Suppression, SuppressionFilter, SuppressionHit, address_key, email_domain, reason_code,
};

use super::codec::*;
use crate::{Result, StoreError};

/// Addresses per lookup query.
const LOOKUP_CHUNK: usize = 500;

const COLUMNS: &str =
    "sandbox, id, channel, address, address_key, domain, reason, source, created_at";

fn from_row(r: &SqliteRow) -> Result<Suppression> {
    let channel: String = r.try_get("channel")?;
    Ok(Suppression {
        id: r.try_get("id")?,
        sandbox: r.try_get("sandbox")?,
        channel: Channel::parse(&channel)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown channel '{channel}'")))?,
        address: r.try_get("address")?,
        domain: r.try_get("domain")?,
        reason: r.try_get("reason")?,
        source: r.try_get("source")?,
        created_at: time(r.try_get("created_at")?)?,
    })
}

/// Adds `s`; when the sandbox already suppresses the same address (or
/// domain) on the channel, that entry is returned instead, unchanged.
pub async fn add(conn: &mut SqliteConnection, s: &Suppression) -> Result<(Suppression, bool)> {
    let key = s.address_key();
    let done = sqlx::query(&format!(
        "INSERT INTO suppressions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT DO NOTHING"
    ))
    .bind(&s.sandbox)
    .bind(&s.id)
    .bind(s.channel.as_str())
    .bind(&s.address)
    .bind(&key)
    .bind(&s.domain)
    .bind(&s.reason)
    .bind(&s.source)
    .bind(ms(s.created_at))
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        return Ok((s.clone(), true));
    }
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM suppressions WHERE sandbox = ?1 AND channel = ?2
           AND (address_key = ?3 OR domain = ?4)
         LIMIT 1"
    ))
    .bind(&s.sandbox)
    .bind(s.channel.as_str())
    .bind(&key)
    .bind(&s.domain)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(r) => Ok((from_row(&r)?, false)),
        // The insert conflicted on nothing we can find: the id itself.
        None => Err(StoreError::Conflict),
    }
}

pub async fn get(pool: &SqlitePool, sandbox: &str, id: &str) -> Result<Option<Suppression>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM suppressions WHERE sandbox = ?1 AND id = ?2"
    ))
    .bind(sandbox)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn delete(conn: &mut SqliteConnection, sandbox: &str, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM suppressions WHERE sandbox = ?1 AND id = ?2")
        .bind(sandbox)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn list(
    pool: &SqlitePool,
    sandbox: &str,
    f: &SuppressionFilter,
) -> Result<Vec<Suppression>> {
    // Without a channel, the address may be meant for any of them: its key
    // on each.
    let keys = f.address.as_deref().map(|a| {
        let channels = match f.channel {
            Some(c) => vec![c],
            None => vec![Channel::Email, Channel::Sms, Channel::Push],
        };
        let mut keys: Vec<String> = channels.into_iter().map(|c| address_key(c, a)).collect();
        keys.dedup();
        keys
    });
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM suppressions WHERE sandbox = ?1
           AND (?2 IS NULL OR channel = ?2)
           AND (?3 IS NULL OR address_key IN (SELECT value FROM json_each(?3)))
           AND (?4 IS NULL OR domain = ?4)
           AND (?5 IS NULL OR id > ?5)
         ORDER BY id LIMIT ?6"
    ))
    .bind(sandbox)
    .bind(f.channel.map(Channel::as_str))
    .bind(keys.as_ref().map(to_json).transpose()?)
    .bind(f.domain.as_deref().map(|d| d.trim().to_ascii_lowercase()))
    .bind(&f.after)
    .bind(i64::try_from(f.limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Which of `addresses` are suppressed on `channel`, by their own entry or
/// (email) their domain's; an address entry wins over a domain entry. One
/// query per [`LOOKUP_CHUNK`] addresses.
pub async fn suppressed(
    pool: &SqlitePool,
    sandbox: &str,
    channel: Channel,
    addresses: &[String],
) -> Result<HashMap<String, SuppressionHit>> {
    let mut out = HashMap::new();
    for chunk in addresses.chunks(LOOKUP_CHUNK) {
        let keys: Vec<String> = chunk.iter().map(|a| address_key(channel, a)).collect();
        let domains: Vec<String> = if channel == Channel::Email {
            let mut d: Vec<String> = chunk.iter().filter_map(|a| email_domain(a)).collect();
            d.sort();
            d.dedup();
            d
        } else {
            Vec::new()
        };
        let rows = sqlx::query(
            "SELECT id, reason, address_key AS k, 0 AS by_domain FROM suppressions
              WHERE sandbox = ?1 AND channel = ?2 AND address_key IN (SELECT value FROM json_each(?3))
             UNION ALL
             SELECT id, reason, domain AS k, 1 AS by_domain FROM suppressions
              WHERE sandbox = ?1 AND channel = ?2 AND domain IN (SELECT value FROM json_each(?4))",
        )
        .bind(sandbox)
        .bind(channel.as_str())
        .bind(to_json(&keys)?)
        .bind(to_json(&domains)?)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            continue;
        }
        let mut by_key: HashMap<String, (String, String)> = HashMap::new();
        let mut by_domain: HashMap<String, (String, String)> = HashMap::new();
        for r in rows {
            let id: (String, String) = (r.try_get("id")?, r.try_get("reason")?);
            let k: String = r.try_get("k")?;
            if r.try_get::<i64, _>("by_domain")? == 1 {
                by_domain.insert(k, id);
            } else {
                by_key.insert(k, id);
            }
        }
        for (address, key) in chunk.iter().zip(&keys) {
            let hit = if let Some(id) = by_key.get(key) {
                Some((id, false))
            } else {
                email_domain(address)
                    .and_then(|d| by_domain.get(&d))
                    .map(|id| (id, true))
            };
            if let Some((id, domain)) = hit {
                out.insert(
                    address.clone(),
                    SuppressionHit {
                        reason_code: reason_code(channel, domain),
                        suppression_id: id.0.clone(),
                        reason: id.1.clone(),
                    },
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use herald_domain::suppression::NewSuppression;

    use super::super::SqliteStore;
    use crate::Store;

    use super::*;

    fn entry(
        sandbox: &str,
        channel: Channel,
        address: Option<&str>,
        domain: Option<&str>,
    ) -> Suppression {
        NewSuppression {
            channel,
            address: address.map(str::to_string),
            domain: domain.map(str::to_string),
            reason: "hardBounce".into(),
            source: Some("bounce".into()),
        }
        .into_suppression(herald_domain::ids::new_id(), sandbox.into(), Utc::now())
    }

    #[tokio::test]
    async fn suppressed_finds_addresses_and_domains_in_one_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let jane = entry("prod", Channel::Email, Some("Jane@Example.com"), None);
        let blocked = entry("prod", Channel::Email, None, Some("Blocked.example"));
        let both = entry("prod", Channel::Email, Some("x@blocked.example"), None);
        let phone = entry("prod", Channel::Sms, Some("+49 151 12345678"), None);
        let other = entry("dev", Channel::Email, Some("dev@example.com"), None);
        for s in [&jane, &blocked, &both, &phone, &other] {
            let (_, created) = store.add_suppression(s).await.unwrap();
            assert!(created);
        }
        let asked: Vec<String> = [
            "jane@EXAMPLE.com",
            "someone@blocked.example",
            "x@blocked.example",
            "free@example.com",
            "dev@example.com",
            "not an address",
        ]
        .map(String::from)
        .to_vec();
        let hits = store
            .suppressed("prod", Channel::Email, &asked)
            .await
            .unwrap();
        assert_eq!(hits.len(), 3, "{hits:?}");
        assert_eq!(hits["jane@EXAMPLE.com"].reason_code, "emailSuppressed");
        assert_eq!(hits["jane@EXAMPLE.com"].suppression_id, jane.id);
        assert_eq!(
            hits["someone@blocked.example"].reason_code,
            "domainSuppressed"
        );
        assert_eq!(hits["someone@blocked.example"].suppression_id, blocked.id);
        assert_eq!(
            hits["x@blocked.example"].suppression_id, both.id,
            "the address entry wins over its domain's"
        );
        assert!(!hits.contains_key("dev@example.com"), "other sandbox");

        let sms = store
            .suppressed(
                "prod",
                Channel::Sms,
                &["+4915112345678".into(), "+4915100000000".into()],
            )
            .await
            .unwrap();
        assert_eq!(sms.len(), 1);
        assert_eq!(sms["+4915112345678"].reason_code, "smsSuppressed");
        assert!(
            store
                .suppressed("prod", Channel::Push, &["+4915112345678".into()])
                .await
                .unwrap()
                .is_empty(),
            "channels are separate"
        );
        assert!(
            store
                .suppressed("prod", Channel::Email, &[])
                .await
                .unwrap()
                .is_empty()
        );

        // More than one chunk.
        let many: Vec<String> = (0..1200)
            .map(|i| format!("user{i}@blocked.example"))
            .collect();
        let hits = store
            .suppressed("prod", Channel::Email, &many)
            .await
            .unwrap();
        assert_eq!(hits.len(), 1200);
    }

    #[tokio::test]
    async fn adding_twice_returns_the_first_entry() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let first = entry("prod", Channel::Email, Some("a@example.com"), None);
        let again = entry("prod", Channel::Email, Some("A@EXAMPLE.COM"), None);
        assert!(store.add_suppression(&first).await.unwrap().1);
        let (found, created) = store.add_suppression(&again).await.unwrap();
        assert!(!created);
        assert_eq!(found.id, first.id);
        let d1 = entry("prod", Channel::Email, None, Some("example.com"));
        let d2 = entry("prod", Channel::Email, None, Some("EXAMPLE.com"));
        assert!(store.add_suppression(&d1).await.unwrap().1);
        assert_eq!(store.add_suppression(&d2).await.unwrap().0.id, d1.id);
        // The same address in another sandbox is its own entry.
        let elsewhere = entry("dev", Channel::Email, Some("a@example.com"), None);
        assert!(store.add_suppression(&elsewhere).await.unwrap().1);

        let all = store
            .list_suppressions(
                "prod",
                &SuppressionFilter {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 2);
        let by_address = store
            .list_suppressions(
                "prod",
                &SuppressionFilter {
                    address: Some("A@example.COM".into()),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(by_address.len(), 1);
        assert_eq!(by_address[0].id, first.id);
        assert!(!store.delete_suppression("dev", &first.id).await.unwrap());
        assert!(store.delete_suppression("prod", &first.id).await.unwrap());
        assert!(
            store
                .get_suppression("prod", &first.id)
                .await
                .unwrap()
                .is_none()
        );
    }
}
