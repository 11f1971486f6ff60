//! Setting up the campaign under test and reading its report, through the
//! public API (reqwest; not on the measured path).

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use super::server::API_KEY;

pub struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(base: String) -> Api {
        Api {
            client: reqwest::Client::new(),
            base,
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{}", self.base, path))
            .bearer_auth(API_KEY);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            anyhow::bail!("{method} {path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Imports an NDJSON file of profiles through `POST /v1/profiles:import`
    /// (every row must be accepted); returns the seconds it took.
    pub async fn import_ndjson(&self, file: &std::path::Path) -> anyhow::Result<f64> {
        let started = Instant::now();
        let summary = crate::import::upload(
            &self.base,
            API_KEY,
            "prod",
            file,
            crate::import::Format::Ndjson,
            |_| {},
        )
        .await?;
        anyhow::ensure!(summary.rejected == 0, "{} rows rejected", summary.rejected);
        Ok(started.elapsed().as_secs_f64())
    }

    /// A rule audience; returns its id.
    pub async fn rule_audience(&self, name: &str, rule: &str) -> anyhow::Result<String> {
        let a = self
            .call(
                reqwest::Method::POST,
                "/v1/audiences",
                Some(json!({"name": name, "rule": rule})),
            )
            .await?;
        Ok(a["id"].as_str().context("audience id")?.to_owned())
    }

    /// `POST /ajo/im/executions/audience` with `body`; returns the
    /// execution id.
    pub async fn fire_audience(&self, body: Value) -> anyhow::Result<String> {
        let e = self
            .call(
                reqwest::Method::POST,
                "/ajo/im/executions/audience",
                Some(body),
            )
            .await?;
        Ok(e["executionId"].as_str().context("executionId")?.to_owned())
    }

    /// A channel configuration and a live campaign on it: `campaign` is given
    /// the configuration's id. Returns the campaign id.
    pub async fn live_campaign(
        &self,
        configuration: Value,
        campaign: impl FnOnce(&str) -> Value,
    ) -> anyhow::Result<String> {
        let cfg = self
            .call(
                reqwest::Method::POST,
                "/v1/channel-configurations",
                Some(configuration),
            )
            .await?;
        let cfg = cfg["id"].as_str().context("configuration id")?.to_owned();
        let c = self
            .call(reqwest::Method::POST, "/v1/campaigns", Some(campaign(&cfg)))
            .await?;
        let id = c["id"].as_str().context("campaign id")?.to_owned();
        self.call(
            reqwest::Method::POST,
            &format!("/v1/campaigns/{id}/activate"),
            None,
        )
        .await?;
        Ok(id)
    }

    /// An email channel configuration and a live transactional campaign
    /// whose subject and body use a profile field and two context variables.
    /// Returns the campaign id.
    pub async fn setup_campaign(&self) -> anyhow::Result<String> {
        let cfg = self
            .call(
                reqwest::Method::POST,
                "/v1/channel-configurations",
                Some(json!({
                    "name": "Bench email",
                    "channel": "email",
                    "category": "transactional",
                    "email": {"fromAddress": "orders@shop.example.com", "fromName": "North Store"}
                })),
            )
            .await?;
        let cfg_id = cfg["id"].as_str().context("channel configuration id")?;
        let campaign = self
            .call(
                reqwest::Method::POST,
                "/v1/campaigns",
                Some(json!({
                    "name": "Bench order confirmation",
                    "category": "transactional",
                    "action": {"channel": "email", "channelConfigurationId": cfg_id},
                    "content": {"email": {
                        "subject": "Order {{context.order.id}} confirmed, {{profile.person.name.firstName}}",
                        "html": "<p>Hi {{profile.person.name.firstName}},</p><p>Thanks for your order {{context.order.id}} at {{context.shop}}: total {{context.order.total}}.</p>"
                    }},
                    "audience": {"identityNamespace": "email"}
                })),
            )
            .await?;
        let id = campaign["id"].as_str().context("campaign id")?.to_string();
        self.call(
            reqwest::Method::POST,
            &format!("/v1/campaigns/{id}/activate"),
            None,
        )
        .await?;
        Ok(id)
    }

    pub async fn by_status(&self, campaign_id: &str) -> anyhow::Result<Value> {
        let r = self
            .call(
                reqwest::Method::GET,
                &format!("/v1/campaigns/{campaign_id}/report"),
                None,
            )
            .await?;
        Ok(r["byStatus"].clone())
    }

    /// Waits until no message of the campaign is `queued` or `sending`, so
    /// that one phase's delivery backlog does not run into the next phase.
    pub async fn wait_drained(
        &self,
        campaign_id: &str,
        timeout: Duration,
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            let s = self.by_status(campaign_id).await?;
            let pending = s["queued"].as_u64().unwrap_or(0) + s["sending"].as_u64().unwrap_or(0);
            if pending == 0 {
                return Ok(started.elapsed());
            }
            if started.elapsed() > timeout {
                anyhow::bail!(
                    "delivery backlog of {pending} messages not drained within {timeout:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The body of one unitary call: `n` external recipients, each with a
/// profile and a per-recipient context, plus a top-level context. Written
/// with `format!` rather than `serde_json` to keep the load generator (which
/// shares the CPU with the server) cheap; every value is plain ASCII.
pub fn unitary_body(campaign_id: &str, request_id: &str, seq: u64, n: usize) -> Vec<u8> {
    let mut recipients = String::with_capacity(256 * n);
    for k in 0..n {
        if k > 0 {
            recipients.push(',');
        }
        recipients.push_str(&format!(
            concat!(
                r#"{{"type":"external","namespace":"email","userId":"user{seq}x{k}@example.com","#,
                r#""channelData":{{"emailAddress":"user{seq}x{k}@example.com"}},"#,
                r#""profile":{{"person":{{"name":{{"firstName":"Jane"}}}}}},"#,
                r#""context":{{"order":{{"id":"{seq}-{k}","total":"59.90"}}}}}}"#
            ),
            seq = seq,
            k = k
        ));
    }
    format!(
        r#"{{"requestId":"{request_id}","campaignId":"{campaign_id}","recipients":[{recipients}],"context":{{"shop":"North Store"}}}}"#
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_unitary_body_is_valid_json() {
        let b = super::unitary_body("c1", "r1", 7, 3);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["recipients"].as_array().unwrap().len(), 3);
        assert_eq!(
            v["recipients"][2]["channelData"]["emailAddress"],
            "user7x2@example.com"
        );
        assert_eq!(v["context"]["shop"], "North Store");
    }
}
