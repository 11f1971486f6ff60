//! Route table. Paths are the contract of API.md.

pub mod audience_executions;
pub mod audiences;
pub mod campaigns;
pub mod channel_configurations;
pub mod executions;
pub mod fragments;
pub mod health;
pub mod language_settings;
pub mod messages;
pub mod profiles;
pub mod proofs;
pub mod reports;
pub mod tracking;
// --- suppressions and business rules
pub mod business_rules;
pub mod suppressions;
// --- profiles and identity namespaces
pub mod identity_namespaces;
pub mod profile_import;
// --- feedback webhooks
pub mod webhooks;
// --- bounces and complaints received later
pub mod feedback;

use axum::Router;
use axum::routing::{get, post, put};

use crate::AppState;

/// Everything that needs an API key.
pub fn authenticated() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/channel-configurations",
            post(channel_configurations::create).get(channel_configurations::list),
        )
        .route(
            "/v1/channel-configurations/{id}",
            get(channel_configurations::get_one),
        )
        .route(
            "/v1/language-settings",
            post(language_settings::create).get(language_settings::list),
        )
        .route(
            "/v1/language-settings/{id}",
            get(language_settings::get_one),
        )
        .route(
            "/v1/fragments",
            post(fragments::create).get(fragments::list),
        )
        .route(
            "/v1/fragments/{id}",
            get(fragments::get_one)
                .put(fragments::put)
                .delete(fragments::delete),
        )
        .route(
            "/v1/fragments/{id}/versions/{version}",
            get(fragments::get_version),
        )
        .route(
            "/v1/campaigns",
            post(campaigns::create).get(campaigns::list),
        )
        .route(
            "/v1/campaigns/{id}",
            get(campaigns::get_one)
                .patch(campaigns::patch)
                .delete(campaigns::delete),
        )
        .route("/v1/campaigns/{id}/review", post(campaigns::review))
        .route("/v1/campaigns/{id}/activate", post(campaigns::activate))
        .route("/v1/campaigns/{id}/stop", post(campaigns::stop))
        .route("/v1/campaigns/{id}/simulate", post(campaigns::simulate))
        .route("/v1/campaigns/{id}/curl", get(campaigns::curl))
        .route("/v1/campaigns/{id}/proofs", post(proofs::create))
        .route("/v1/campaigns/{id}/report", get(reports::campaign))
        .route("/v1/campaigns/{id}/report.csv", get(reports::campaign_csv))
        .route("/v1/campaigns/{id}/report.svg", get(reports::campaign_svg))
        .route(
            "/v1/profiles/{namespace}/{id}",
            put(profiles::put)
                .get(profiles::get_one)
                .delete(profiles::delete),
        )
        .route(
            "/v1/audiences",
            post(audiences::create).get(audiences::list),
        )
        .route(
            "/v1/audiences/{id}",
            get(audiences::get_one).delete(audiences::delete),
        )
        .route("/v1/audiences/{id}/members", post(audiences::add_members))
        .route("/v1/audiences/{id}/estimate", get(audiences::estimate))
        .route(
            "/ajo/im/executions/audience",
            post(audience_executions::create),
        )
        .route("/v1/executions/audience", post(audience_executions::create))
        .route(
            "/ajo/im/executions/audience/{id}",
            get(audience_executions::status),
        )
        .route(
            "/v1/executions/audience/{id}",
            get(audience_executions::status),
        )
        .route(
            "/ajo/im/executions/schedules/{id}",
            get(audience_executions::get_schedule).delete(audience_executions::delete_schedule),
        )
        .route(
            "/v1/executions/schedules/{id}",
            get(audience_executions::get_schedule).delete(audience_executions::delete_schedule),
        )
        .route(
            "/ajo/im/executions/highthroughput",
            post(executions::high_throughput),
        )
        .route(
            "/v1/executions/highthroughput",
            post(executions::high_throughput),
        )
        .route("/ajo/im/executions/unitary", post(executions::unitary))
        .route("/v1/executions/unitary", post(executions::unitary))
        .route("/v1/executions/{id}", get(executions::get_one))
        .route("/v1/executions/{id}/report", get(reports::execution))
        .route("/v1/messages", get(messages::list))
        .route("/v1/messages:resend", post(messages::resend))
        .route("/v1/messages/{id}", get(messages::get_one))
        .route("/v1/messages/{id}/events", get(messages::events))
        // --- suppressions and business rules
        .route(
            "/v1/suppressions",
            post(suppressions::create).get(suppressions::list),
        )
        .route("/v1/suppressions:check", get(suppressions::check))
        .route(
            "/v1/suppressions/{id}",
            get(suppressions::get_one).delete(suppressions::delete),
        )
        .route(
            "/v1/business-rules",
            post(business_rules::create).get(business_rules::list),
        )
        .route(
            "/v1/business-rules/{id}",
            get(business_rules::get_one)
                .put(business_rules::put)
                .delete(business_rules::delete),
        )
        // --- profiles and identity namespaces
        .route(
            "/v1/identity-namespaces",
            post(identity_namespaces::create).get(identity_namespaces::list),
        )
        .route(
            "/v1/identity-namespaces/{code}",
            get(identity_namespaces::get_one),
        )
        .route("/v1/profiles", get(profiles::list))
        .route("/v1/profiles:import", post(profile_import::import))
        // --- feedback webhooks
        .route("/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route(
            "/v1/webhooks/{id}",
            get(webhooks::get_one)
                .patch(webhooks::patch)
                .delete(webhooks::delete),
        )
        .route("/v1/webhooks/{id}/deliveries", get(webhooks::deliveries))
        // --- bounces and complaints received later
        .route("/v1/feedback/bounces", post(feedback::bounces))
}

/// Health and the like: no key.
pub fn public() -> Router<AppState> {
    Router::new()
        .route("/ajo/im/health", get(health::health))
        .route("/healthz", get(health::health))
        .route("/t/o/{token}", get(tracking::open))
        .route("/t/c/{token}", get(tracking::click))
        .route(
            "/u/{token}",
            get(tracking::unsubscribe_page).post(tracking::unsubscribe),
        )
}
