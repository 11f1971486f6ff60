//! Business rules (frequency caps): one row each.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection, SqlitePool};

use herald_domain::business_rule::{BusinessRule, Period, PeriodUnit, RuleCategory};
use herald_domain::channel::Channel;

use super::codec::*;
use crate::{Result, StoreError};

const COLUMNS: &str = "sandbox, id, name, channel, category, max_messages, period_count, period_unit, created_at, updated_at";

fn from_row(r: &SqliteRow) -> Result<BusinessRule> {
    let corrupt = |what: &str, v: &str| StoreError::Corrupt(format!("unknown {what} '{v}'"));
    let channel: String = r.try_get("channel")?;
    let category: String = r.try_get("category")?;
    let unit: String = r.try_get("period_unit")?;
    let int = |col: &str| -> Result<u32> {
        let v: i64 = r.try_get(col)?;
        u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{col} {v} out of range")))
    };
    Ok(BusinessRule {
        id: r.try_get("id")?,
        sandbox: r.try_get("sandbox")?,
        name: r.try_get("name")?,
        channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
        category: RuleCategory::parse(&category).ok_or_else(|| corrupt("category", &category))?,
        max_messages: int("max_messages")?,
        period: Period {
            count: int("period_count")?,
            unit: PeriodUnit::parse(&unit).ok_or_else(|| corrupt("period unit", &unit))?,
        },
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
    })
}

pub async fn insert(conn: &mut SqliteConnection, b: &BusinessRule) -> Result<()> {
    sqlx::query(&format!(
        "INSERT INTO business_rules ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))
    .bind(&b.sandbox)
    .bind(&b.id)
    .bind(&b.name)
    .bind(b.channel.as_str())
    .bind(b.category.as_str())
    .bind(i64::from(b.max_messages))
    .bind(i64::from(b.period.count))
    .bind(b.period.unit.as_str())
    .bind(ms(b.created_at))
    .bind(ms(b.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(pool: &SqlitePool, sandbox: &str, id: &str) -> Result<Option<BusinessRule>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM business_rules WHERE sandbox = ?1 AND id = ?2"
    ))
    .bind(sandbox)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(pool: &SqlitePool, sandbox: &str) -> Result<Vec<BusinessRule>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM business_rules WHERE sandbox = ?1 ORDER BY id"
    ))
    .bind(sandbox)
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Replaces the rule's fields (not its creation time); false when there is none.
pub async fn update(conn: &mut SqliteConnection, b: &BusinessRule) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE business_rules SET name = ?3, channel = ?4, category = ?5, max_messages = ?6,
                period_count = ?7, period_unit = ?8, updated_at = ?9
         WHERE sandbox = ?1 AND id = ?2",
    )
    .bind(&b.sandbox)
    .bind(&b.id)
    .bind(&b.name)
    .bind(b.channel.as_str())
    .bind(b.category.as_str())
    .bind(i64::from(b.max_messages))
    .bind(i64::from(b.period.count))
    .bind(b.period.unit.as_str())
    .bind(ms(b.updated_at))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(conn: &mut SqliteConnection, sandbox: &str, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM business_rules WHERE sandbox = ?1 AND id = ?2")
        .bind(sandbox)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use herald_domain::business_rule::NewBusinessRule;

    use super::super::SqliteStore;
    use crate::Store;

    use super::*;

    #[tokio::test]
    async fn business_rules_round_trip_per_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let body = NewBusinessRule {
            name: "3 a week".into(),
            channel: Channel::Email,
            category: RuleCategory::Marketing,
            max_messages: 3,
            period: Period {
                count: 1,
                unit: PeriodUnit::Week,
            },
        };
        let rule = body
            .clone()
            .into_rule("r1".into(), "prod".into(), Utc::now());
        store.insert_business_rule(&rule).await.unwrap();
        let got = store
            .get_business_rule("prod", "r1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.period, rule.period);
        assert_eq!(got.max_messages, 3);
        assert!(
            store
                .get_business_rule("dev", "r1")
                .await
                .unwrap()
                .is_none()
        );

        let mut changed = body;
        changed.max_messages = 5;
        let updated = changed.replace(&got, Utc::now());
        assert!(store.update_business_rule(&updated).await.unwrap());
        let got = store
            .get_business_rule("prod", "r1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.max_messages, 5);
        assert_eq!(store.list_business_rules("prod").await.unwrap().len(), 1);
        assert!(store.list_business_rules("dev").await.unwrap().is_empty());
        assert!(!store.delete_business_rule("dev", "r1").await.unwrap());
        assert!(store.delete_business_rule("prod", "r1").await.unwrap());
        assert!(!store.update_business_rule(&updated).await.unwrap());
    }
}
