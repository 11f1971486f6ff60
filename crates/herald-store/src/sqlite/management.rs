//! Management records: API keys, channel configurations, campaigns (profiles
//! are in `profiles.rs`).

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use herald_domain::campaign::{Campaign, CampaignDefinition, CampaignStatus, CampaignVersion};
use herald_domain::channel::ChannelConfiguration;
use herald_domain::language::LanguageSettings;

use super::codec::*;
use crate::types::ApiKeyRecord;
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
