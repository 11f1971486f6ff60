//! Management records: API keys, channel configurations, campaigns, profiles.

use std::collections::BTreeMap;

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use herald_domain::campaign::{Campaign, CampaignDefinition, CampaignStatus, CampaignVersion};
use herald_domain::channel::ChannelConfiguration;
use herald_domain::json::merge_patch;
use herald_domain::language::LanguageSettings;
use herald_domain::profile::{Identity, Profile, ProfileOrigin};

use super::codec::*;
use crate::types::{ApiKeyRecord, ProfileUpsert};
use crate::{Result, StoreError};

pub async fn api_key_count(pool: &SqlitePool) -> Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM api_keys")
        .fetch_one(pool)
        .await?;
    Ok(n as u64)
}

pub async fn put_api_key(conn: &mut SqliteConnection, k: &ApiKeyRecord) -> Result<()> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    sqlx::query("DELETE FROM api_keys WHERE name = ?1 OR key_hash = ?2")
        .bind(&k.name)
        .bind(&k.key_hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO api_keys (id, name, key_hash, sandboxes, scopes, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(&k.id)
        .bind(&k.name)
        .bind(&k.key_hash)
        .bind(to_json(&k.sandboxes)?)
        .bind(to_json(&k.scopes)?)
        .bind(ms(k.created_at))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn find_api_key(pool: &SqlitePool, key_hash: &str) -> Result<Option<ApiKeyRecord>> {
    let row = sqlx::query("SELECT id, name, key_hash, sandboxes, scopes, created_at FROM api_keys WHERE key_hash = ?1")
        .bind(key_hash)
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        Ok(ApiKeyRecord {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            key_hash: r.try_get("key_hash")?,
            sandboxes: from_json(&r.try_get::<String, _>("sandboxes")?)?,
            scopes: from_json(&r.try_get::<String, _>("scopes")?)?,
            created_at: time(r.try_get("created_at")?)?,
        })
    })
    .transpose()
}

pub async fn insert_channel_configuration(
    conn: &mut SqliteConnection,
    c: &ChannelConfiguration,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO channel_configurations (sandbox, id, name, channel, doc, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(&c.sandbox)
    .bind(&c.id)
    .bind(&c.name)
    .bind(c.channel.as_str())
    .bind(to_json(c)?)
    .bind(ms(c.created_at))
    .bind(ms(c.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_channel_configuration(
    pool: &SqlitePool,
    sandbox: &str,
    id: &str,
) -> Result<Option<ChannelConfiguration>> {
    let doc: Option<String> =
        sqlx::query_scalar("SELECT doc FROM channel_configurations WHERE sandbox = ?1 AND id = ?2")
            .bind(sandbox)
            .bind(id)
            .fetch_optional(pool)
            .await?;
    doc.map(|d| from_json(&d)).transpose()
}

pub async fn list_channel_configurations(
    pool: &SqlitePool,
    sandbox: &str,
) -> Result<Vec<ChannelConfiguration>> {
    let docs: Vec<String> =
        sqlx::query_scalar("SELECT doc FROM channel_configurations WHERE sandbox = ?1 ORDER BY id")
            .bind(sandbox)
            .fetch_all(pool)
            .await?;
    docs.iter().map(|d| from_json(d)).collect()
}

const CAMPAIGN_COLUMNS: &str = "sandbox, id, status, definition, live_version, draft_version, revision, created_by, created_at, updated_at";

fn campaign_from_row(r: &SqliteRow) -> Result<Campaign> {
    let definition: CampaignDefinition = from_json(&r.try_get::<String, _>("definition")?)?;
    Ok(Campaign {
        id: r.try_get("id")?,
        sandbox: r.try_get("sandbox")?,
        status: CampaignStatus::parse(&r.try_get::<String, _>("status")?)
            .ok_or_else(|| StoreError::Corrupt("unknown campaign status".into()))?,
        definition,
        live_version: r.try_get("live_version")?,
        draft_version: r.try_get("draft_version")?,
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
        created_by: r.try_get("created_by")?,
        revision: r.try_get("revision")?,
    })
}

pub async fn insert_campaign(conn: &mut SqliteConnection, c: &Campaign) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO campaigns ({CAMPAIGN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))
    .bind(&c.sandbox)
    .bind(&c.id)
    .bind(c.status.as_str())
    .bind(to_json(&c.definition)?)
    .bind(c.live_version)
    .bind(c.draft_version)
    .bind(c.revision)
    .bind(&c.created_by)
    .bind(ms(c.created_at))
    .bind(ms(c.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_campaign(pool: &SqlitePool, sandbox: &str, id: &str) -> Result<Option<Campaign>> {
    let row = sqlx::query(&format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE sandbox = ?1 AND id = ?2"
    ))
    .bind(sandbox)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(campaign_from_row).transpose()
}

pub async fn list_campaigns(pool: &SqlitePool, sandbox: &str) -> Result<Vec<Campaign>> {
    let rows = sqlx::query(&format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE sandbox = ?1 ORDER BY id"
    ))
    .bind(sandbox)
    .fetch_all(pool)
    .await?;
    rows.iter().map(campaign_from_row).collect()
}

pub async fn update_campaign(
    conn: &mut SqliteConnection,
    c: &Campaign,
    version: Option<&CampaignVersion>,
) -> Result<()> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let done = sqlx::query(
        "UPDATE campaigns SET status = ?3, definition = ?4, live_version = ?5, draft_version = ?6,
                revision = ?7, updated_at = ?8
         WHERE sandbox = ?1 AND id = ?2 AND revision = ?7 - 1",
    )
    .bind(&c.sandbox)
    .bind(&c.id)
    .bind(c.status.as_str())
    .bind(to_json(&c.definition)?)
    .bind(c.live_version)
    .bind(c.draft_version)
    .bind(c.revision)
    .bind(ms(c.updated_at))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::Conflict);
    }
    if let Some(v) = version {
        sqlx::query(
            "INSERT INTO campaign_versions (sandbox, campaign_id, version, definition, activated_at, language_settings, fragments)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(&v.sandbox)
        .bind(&v.campaign_id)
        .bind(v.version)
        .bind(to_json(&v.definition)?)
        .bind(ms(v.activated_at))
        .bind(v.language_settings.as_ref().map(to_json).transpose()?)
        .bind(if v.fragments.is_empty() {
            None
        } else {
            Some(to_json(&v.fragments)?)
        })
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn delete_draft_campaign(
    conn: &mut SqliteConnection,
    sandbox: &str,
    id: &str,
) -> Result<bool> {
    let done =
        sqlx::query("DELETE FROM campaigns WHERE sandbox = ?1 AND id = ?2 AND status = 'draft'")
            .bind(sandbox)
            .bind(id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_campaign_version(
    pool: &SqlitePool,
    sandbox: &str,
    campaign_id: &str,
    version: i64,
) -> Result<Option<CampaignVersion>> {
    let row = sqlx::query(
        "SELECT definition, activated_at, language_settings, fragments FROM campaign_versions WHERE sandbox = ?1 AND campaign_id = ?2 AND version = ?3",
    )
    .bind(sandbox)
    .bind(campaign_id)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(CampaignVersion {
            campaign_id: campaign_id.to_string(),
            sandbox: sandbox.to_string(),
            version,
            definition: from_json(&r.try_get::<String, _>("definition")?)?,
            activated_at: time(r.try_get("activated_at")?)?,
            language_settings: r
                .try_get::<Option<String>, _>("language_settings")?
                .map(|s| from_json::<LanguageSettings>(&s))
                .transpose()?
                .map(|mut l| {
                    l.sandbox = sandbox.to_string();
                    l
                }),
            fragments: r
                .try_get::<Option<String>, _>("fragments")?
                .map(|s| from_json(&s))
                .transpose()?
                .unwrap_or_default(),
        })
    })
    .transpose()
}

async fn load_profile(
    conn: &mut SqliteConnection,
    sandbox: &str,
    id: &str,
) -> Result<Option<Profile>> {
    let row = sqlx::query("SELECT attributes, created_by, created_at, updated_at FROM profiles WHERE sandbox = ?1 AND id = ?2")
        .bind(sandbox)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(r) = row else { return Ok(None) };
    let identities = sqlx::query("SELECT namespace, value FROM identities WHERE sandbox = ?1 AND profile_id = ?2 ORDER BY namespace, value")
        .bind(sandbox)
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|i| Ok(Identity { namespace: i.try_get("namespace")?, id: i.try_get("value")? }))
        .collect::<Result<Vec<_>>>()?;
    let created_by: Option<String> = r.try_get("created_by")?;
    Ok(Some(Profile {
        id: id.to_string(),
        sandbox: sandbox.to_string(),
        identities,
        attributes: from_json(&r.try_get::<String, _>("attributes")?)?,
        created_by: created_by
            .map(|c| from_json::<ProfileOrigin>(&c))
            .transpose()?,
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
    }))
}

pub async fn find_profiles(
    pool: &SqlitePool,
    sandbox: &str,
    namespace: &str,
    ids: &[String],
) -> Result<BTreeMap<String, Profile>> {
    let mut out = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    // A unitary call has at most 20 recipients: one IN query, then the
    // profiles themselves.
    let placeholders = (0..ids.len())
        .map(|i| format!("?{}", i + 3))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "SELECT value, profile_id FROM identities WHERE sandbox = ?1 AND namespace = ?2 AND value IN ({placeholders})"
    );
    let mut q = sqlx::query(&sql).bind(sandbox).bind(namespace);
    for id in ids {
        q = q.bind(id);
    }
    let mut conn = pool.acquire().await?;
    let rows = q.fetch_all(&mut *conn).await?;
    for r in rows {
        let value: String = r.try_get("value")?;
        let profile_id: String = r.try_get("profile_id")?;
        if let Some(p) = load_profile(&mut conn, sandbox, &profile_id).await? {
            out.insert(value, p);
        }
    }
    Ok(out)
}

pub async fn upsert_profile(
    conn: &mut SqliteConnection,
    sandbox: &str,
    u: ProfileUpsert,
) -> Result<(Profile, bool)> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let existing: Option<String> = sqlx::query_scalar(
        "SELECT profile_id FROM identities WHERE sandbox = ?1 AND namespace = ?2 AND value = ?3",
    )
    .bind(sandbox)
    .bind(&u.identity.namespace)
    .bind(&u.identity.id)
    .fetch_optional(&mut *tx)
    .await?;
    let created = existing.is_none();
    let profile_id = existing.unwrap_or_else(|| u.new_id.clone());
    let mut attributes = if created {
        serde_json::Value::Object(Default::default())
    } else {
        let a: String =
            sqlx::query_scalar("SELECT attributes FROM profiles WHERE sandbox = ?1 AND id = ?2")
                .bind(sandbox)
                .bind(&profile_id)
                .fetch_one(&mut *tx)
                .await?;
        from_json(&a)?
    };
    merge_patch(&mut attributes, &u.attributes_patch);
    if !attributes.is_object() {
        attributes = serde_json::Value::Object(Default::default());
    }
    sqlx::query(
        "INSERT INTO profiles (sandbox, id, attributes, created_by, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (sandbox, id) DO UPDATE SET attributes = excluded.attributes, updated_at = excluded.updated_at",
    )
    .bind(sandbox)
    .bind(&profile_id)
    .bind(to_json(&attributes)?)
    .bind(u.origin.as_ref().map(to_json).transpose()?)
    .bind(ms(u.now))
    .execute(&mut *tx)
    .await?;
    for identity in std::iter::once(&u.identity).chain(u.extra_identities.iter()) {
        // An identity already held by another profile stays there: merging
        // two profiles is an explicit operation, never a side effect.
        sqlx::query(
            "INSERT INTO identities (sandbox, namespace, value, profile_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
        )
        .bind(sandbox)
        .bind(&identity.namespace)
        .bind(&identity.id)
        .bind(&profile_id)
        .execute(&mut *tx)
        .await?;
    }
    let profile = load_profile(&mut tx, sandbox, &profile_id).await?;
    tx.commit().await?;
    let profile =
        profile.ok_or_else(|| StoreError::Corrupt("profile vanished after upsert".into()))?;
    Ok((profile, created))
}

pub async fn insert_language_settings(
    conn: &mut SqliteConnection,
    l: &LanguageSettings,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO language_settings (sandbox, id, name, doc, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(&l.sandbox)
    .bind(&l.id)
    .bind(&l.name)
    .bind(to_json(l)?)
    .bind(ms(l.created_at))
    .bind(ms(l.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_language_settings(
    pool: &SqlitePool,
    sandbox: &str,
    id: &str,
) -> Result<Option<LanguageSettings>> {
    let doc: Option<String> =
        sqlx::query_scalar("SELECT doc FROM language_settings WHERE sandbox = ?1 AND id = ?2")
            .bind(sandbox)
            .bind(id)
            .fetch_optional(pool)
            .await?;
    doc.map(|d| {
        let mut l: LanguageSettings = from_json(&d)?;
        l.sandbox = sandbox.to_string();
        Ok(l)
    })
    .transpose()
}

pub async fn list_language_settings(
    pool: &SqlitePool,
    sandbox: &str,
) -> Result<Vec<LanguageSettings>> {
    let docs: Vec<String> =
        sqlx::query_scalar("SELECT doc FROM language_settings WHERE sandbox = ?1 ORDER BY id")
            .bind(sandbox)
            .fetch_all(pool)
            .await?;
    docs.iter()
        .map(|d| {
            let mut l: LanguageSettings = from_json(d)?;
            l.sandbox = sandbox.to_string();
            Ok(l)
        })
        .collect()
}
