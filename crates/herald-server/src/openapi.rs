//! Herald's own OpenAPI document (`/openapi.json`) and its explorer (`/docs`).

use axum::Router;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;
use crate::routes::{
    audience_executions, audiences, campaigns, channel_configurations, executions, fragments,
    health, language_settings, messages, profiles, proofs, reports,
};
// --- suppressions and business rules
use crate::routes::{business_rules, suppressions};
use crate::routes::{identity_namespaces, profile_import};
// --- feedback webhooks
use crate::routes::webhooks;
// --- bounces and complaints received later
use crate::routes::feedback;

#[derive(OpenApi)]
#[openapi(
    info(title = "Herald", description = "API-triggered campaigns: define once, fire with one call.", version = env!("CARGO_PKG_VERSION")),
    paths(
        channel_configurations::create, channel_configurations::list, channel_configurations::get_one,
        language_settings::create, language_settings::list, language_settings::get_one,
        fragments::create, fragments::list, fragments::get_one, fragments::put, fragments::get_version, fragments::delete,
        campaigns::create, campaigns::list, campaigns::get_one, campaigns::patch, campaigns::delete,
        campaigns::review, campaigns::activate, campaigns::stop, campaigns::simulate, proofs::create, campaigns::curl, reports::campaign, reports::campaign_csv, reports::campaign_svg, reports::execution, messages::events,
        profiles::put, profiles::get_one,
        executions::unitary, executions::get_one,
        audiences::create, audiences::list, audiences::get_one, audiences::delete, audiences::add_members, audiences::estimate,
        audience_executions::create, audience_executions::status, audience_executions::get_schedule, audience_executions::delete_schedule,
        executions::high_throughput,
        messages::list, messages::get_one, messages::resend,
        health::health,
        // --- suppressions and business rules
        suppressions::create, suppressions::list, suppressions::get_one, suppressions::delete, suppressions::check,
        business_rules::create, business_rules::list, business_rules::get_one, business_rules::put, business_rules::delete,
        // --- profiles and identity namespaces
        profiles::list, profiles::delete, profile_import::import,
        identity_namespaces::create, identity_namespaces::list, identity_namespaces::get_one,
        // --- feedback webhooks
        webhooks::create, webhooks::list, webhooks::get_one, webhooks::patch, webhooks::delete, webhooks::deliveries,
        // --- bounces and complaints received later
        feedback::bounces,
    ),
    components(schemas(herald_store::WebhookDelivery)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}
