//! Campaign content compiled for rendering, and rendering itself.

use std::collections::BTreeSet;

use serde_json::Value;

use herald_template::{OutputMode, RenderError, Template, TemplateError};

use crate::campaign::{Content, EmailContent};
use crate::channel::Channel;
use crate::message::RenderedEmail;

/// One template-bearing field of a campaign's content.
#[derive(Debug, Clone, Copy)]
pub struct TemplateField<'a> {
    /// The field's name as users know it, e.g. `content.email.subject`.
    pub name: &'static str,
    pub pointer: &'static str,
    pub source: &'a str,
}

/// The fields of `content` that the channel sends.
pub fn template_fields(content: &Content, channel: Channel) -> Vec<TemplateField<'_>> {
    let mut out: Vec<TemplateField<'_>> = Vec::new();
    fn push<'a>(
        out: &mut Vec<TemplateField<'a>>,
        name: &'static str,
        pointer: &'static str,
        source: Option<&'a str>,
    ) {
        if let Some(source) = source {
            out.push(TemplateField {
                name,
                pointer,
                source,
            });
        }
    }
    match channel {
        Channel::Email => {
            if let Some(e) = &content.email {
                push(
                    &mut out,
                    "content.email.subject",
                    "/content/email/subject",
                    Some(e.subject.as_str()),
                );
                push(
                    &mut out,
                    "content.email.preheader",
                    "/content/email/preheader",
                    e.preheader.as_deref(),
                );
                push(
                    &mut out,
                    "content.email.html",
                    "/content/email/html",
                    e.html.as_deref(),
                );
                push(
                    &mut out,
                    "content.email.text",
                    "/content/email/text",
                    e.text.as_deref(),
                );
            }
        }
        Channel::Sms => {
            if let Some(s) = &content.sms {
                push(
                    &mut out,
                    "content.sms.text",
                    "/content/sms/text",
                    Some(s.text.as_str()),
                );
            }
        }
        Channel::Push => {
            if let Some(p) = &content.push {
                push(
                    &mut out,
                    "content.push.title",
                    "/content/push/title",
                    Some(p.title.as_str()),
                );
                push(
                    &mut out,
                    "content.push.body",
                    "/content/push/body",
                    Some(p.body.as_str()),
                );
            }
        }
    }
    out
}

/// An email's templates, parsed once and rendered many times.
#[derive(Debug, Clone)]
pub struct CompiledEmail {
    pub subject: Template,
    pub preheader: Option<Template>,
    pub html: Option<Template>,
    pub text: Option<Template>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("the campaign has no {0} content")]
    Missing(&'static str),
    #[error("{field}: {errors:?}")]
    Template {
        field: &'static str,
        errors: Vec<TemplateError>,
    },
}

impl CompiledEmail {
    pub fn compile(email: &EmailContent) -> Result<CompiledEmail, CompileError> {
        let compile = |field: &'static str, src: &str| {
            Template::compile(src).map_err(|errors| CompileError::Template { field, errors })
        };
        let opt = |field: &'static str, src: &Option<String>| {
            src.as_deref().map(|s| compile(field, s)).transpose()
        };
        Ok(CompiledEmail {
            subject: compile("content.email.subject", &email.subject)?,
            preheader: opt("content.email.preheader", &email.preheader)?,
            html: opt("content.email.html", &email.html)?,
            text: opt("content.email.text", &email.text)?,
        })
    }

    /// Renders every field. The text part is left empty when the campaign has
    /// none; the mail layer derives it from the HTML.
    pub fn render(&self, data: &Value) -> Result<RenderedEmail, RenderError> {
        Ok(RenderedEmail {
            subject: self.subject.render(data, OutputMode::Header)?,
            preheader: self
                .preheader
                .as_ref()
                .map(|t| t.render(data, OutputMode::Header))
                .transpose()?,
            html: self
                .html
                .as_ref()
                .map(|t| t.render(data, OutputMode::Html))
                .transpose()?,
            text: match &self.text {
                Some(t) => t.render(data, OutputMode::Text)?,
                None => String::new(),
            },
        })
    }

    /// Every `profile.` and `context.` path the content reads.
    pub fn variables(&self) -> BTreeSet<String> {
        let mut all = self.subject.variables();
        for t in [&self.preheader, &self.html, &self.text]
            .into_iter()
            .flatten()
        {
            all.extend(t.variables());
        }
        all
    }
}

/// The render data of one recipient: `{"profile": …, "context": …}` with the
/// recipient's context merged over the call's.
pub fn render_data(profile: &Value, execution_context: &Value, recipient_context: &Value) -> Value {
    let mut context = execution_context.clone();
    if !context.is_object() {
        context = Value::Object(Default::default());
    }
    crate::json::deep_merge(&mut context, recipient_context);
    serde_json::json!({ "profile": profile, "context": context })
}
