//! Campaign content compiled for rendering, and rendering itself.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use herald_template::{
    MissingValues, OutputMode, RenderError, RenderOptions, Template, TemplateError,
};

use crate::campaign::{CampaignDefinition, Content, EmailContent, PushContent, SmsContent};
use crate::channel::Channel;
use crate::fragment::{self, FragmentError, Fragments};
use crate::message::RenderedEmail;

/// One template-bearing field of a campaign's content.
#[derive(Debug, Clone)]
pub struct TemplateField<'a> {
    /// The field's name as users know it, e.g. `content.email.subject` or
    /// `content.locales.fr-FR.email.subject`.
    pub name: String,
    pub pointer: String,
    pub source: &'a str,
}

/// The fields of `content` that the channel sends: the plain content, then
/// every locale's.
pub fn template_fields(content: &Content, channel: Channel) -> Vec<TemplateField<'_>> {
    let mut out = channel_fields(
        "content",
        "/content",
        content.email.as_ref(),
        content.sms.as_ref(),
        content.push.as_ref(),
        channel,
    );
    for (locale, c) in &content.locales {
        out.extend(channel_fields(
            &format!("content.locales.{locale}"),
            &format!("/content/locales/{}", crate::error::pointer_token(locale)),
            c.email.as_ref(),
            c.sms.as_ref(),
            c.push.as_ref(),
            channel,
        ));
    }
    out
}

fn channel_fields<'a>(
    name: &str,
    pointer: &str,
    email: Option<&'a EmailContent>,
    sms: Option<&'a SmsContent>,
    push: Option<&'a PushContent>,
    channel: Channel,
) -> Vec<TemplateField<'a>> {
    let mut out = Vec::new();
    let mut add = |field: &str, source: Option<&'a str>| {
        if let Some(source) = source {
            out.push(TemplateField {
                name: format!("{name}.{}", field.replace('/', ".")),
                pointer: format!("{pointer}/{field}"),
                source,
            });
        }
    };
    match channel {
        Channel::Email => {
            if let Some(e) = email {
                add("email/subject", Some(e.subject.as_str()));
                add("email/preheader", e.preheader.as_deref());
                add("email/html", e.html.as_deref());
                add("email/text", e.text.as_deref());
            }
        }
        Channel::Sms => {
            if let Some(s) = sms {
                add("sms/text", Some(s.text.as_str()));
            }
        }
        Channel::Push => {
            if let Some(p) = push {
                add("push/title", Some(p.title.as_str()));
                add("push/body", Some(p.body.as_str()));
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
    /// The campaign's `missingValues` policy, applied on every render.
    pub missing_values: MissingValues,
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("the campaign has no {0} content")]
    Missing(String),
    #[error("{field}: {errors:?}")]
    Template {
        /// The field's name, e.g. `content.locales.fr-FR.email.subject`.
        field: String,
        errors: Vec<TemplateError>,
    },
    #[error("{field}: {}", errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "))]
    Fragment {
        field: String,
        errors: Vec<FragmentError>,
    },
}

impl CompileError {
    /// The JSON pointer of the field (or content) at fault.
    pub fn pointer(&self) -> String {
        match self {
            CompileError::Missing(what) => format!("/content/{what}"),
            // Field names are dotted paths; locale tags hold no dots.
            CompileError::Template { field, .. } | CompileError::Fragment { field, .. } => {
                format!("/{}", field.replace('.', "/"))
            }
        }
    }
}

impl CompiledEmail {
    pub fn compile(email: &EmailContent) -> Result<CompiledEmail, CompileError> {
        Self::compile_named(email, "content", MissingValues::Empty, &Fragments::new())
    }

    /// Compiles with field names under `prefix` (`content` or
    /// `content.locales.<tag>`) and the campaign's missing-value policy,
    /// with the `fragments` each field includes.
    pub fn compile_named(
        email: &EmailContent,
        prefix: &str,
        missing_values: MissingValues,
        fragments: &Fragments,
    ) -> Result<CompiledEmail, CompileError> {
        let compile = |field: &str, src: &str| {
            let field = format!("{prefix}.email.{field}");
            fragment::compile(src, fragments)
                .map_err(|errors| CompileError::Fragment {
                    field: field.clone(),
                    errors,
                })?
                .map_err(|errors| CompileError::Template { field, errors })
        };
        let opt = |field: &str, src: &Option<String>| {
            src.as_deref().map(|s| compile(field, s)).transpose()
        };
        Ok(CompiledEmail {
            subject: compile("subject", &email.subject)?,
            preheader: opt("preheader", &email.preheader)?,
            html: opt("html", &email.html)?,
            text: opt("text", &email.text)?,
            missing_values,
        })
    }

    /// Renders every field. The text part is left empty when the campaign has
    /// none; the mail layer derives it from the HTML.
    pub fn render(&self, data: &Value) -> Result<RenderedEmail, RenderError> {
        let options = RenderOptions {
            missing_values: self.missing_values,
            ..RenderOptions::default()
        };
        let r = |t: &Template, mode| t.render_with_options(data, mode, &options);
        Ok(RenderedEmail {
            subject: r(&self.subject, OutputMode::Header)?,
            preheader: self
                .preheader
                .as_ref()
                .map(|t| r(t, OutputMode::Header))
                .transpose()?,
            html: self
                .html
                .as_ref()
                .map(|t| r(t, OutputMode::Html))
                .transpose()?,
            text: match &self.text {
                Some(t) => r(t, OutputMode::Text)?,
                None => String::new(),
            },
            segments: None,
            encoding: None,
            links: Vec::new(),
        })
    }

    /// Every `profile.` and `context.` path the content reads.
    pub fn variables(&self) -> BTreeSet<String> {
        self.collect(Template::variables)
    }

    /// Plain text with no expression at all: every render is the same.
    pub fn is_static(&self) -> bool {
        [
            Some(&self.subject),
            self.preheader.as_ref(),
            self.html.as_ref(),
            self.text.as_ref(),
        ]
        .into_iter()
        .flatten()
        .all(|t| !t.source().contains("{{") && !t.source().contains("{%"))
    }

    /// The paths among [`CompiledEmail::variables`] that are iterated lists.
    pub fn list_variables(&self) -> BTreeSet<String> {
        self.collect(Template::list_variables)
    }

    fn collect(&self, of: fn(&Template) -> BTreeSet<String>) -> BTreeSet<String> {
        let mut all = of(&self.subject);
        for t in [&self.preheader, &self.html, &self.text]
            .into_iter()
            .flatten()
        {
            all.extend(of(t));
        }
        all
    }
}

/// A campaign's email content compiled: the plain content and every
/// locale's. Built once per version; rendering never re-parses.
#[derive(Debug, Clone, Default)]
pub struct CompiledContent {
    pub email: Option<CompiledEmail>,
    pub locales: BTreeMap<String, CompiledEmail>,
}

impl CompiledContent {
    pub fn compile(
        def: &CampaignDefinition,
        fragments: &Fragments,
    ) -> Result<CompiledContent, CompileError> {
        let mv = match def.missing_values {
            crate::campaign::MissingValues::Empty => MissingValues::Empty,
            crate::campaign::MissingValues::Fail => MissingValues::Fail,
        };
        // SMS and push reuse the email's shape: the title is the subject,
        // the text (or body) is the text part.
        let pick = |email: &Option<EmailContent>,
                    sms: &Option<crate::campaign::SmsContent>,
                    push: &Option<crate::campaign::PushContent>|
         -> Option<EmailContent> {
            match def.action.channel {
                Channel::Email => email.clone(),
                Channel::Sms => sms.as_ref().map(|s| EmailContent {
                    text: Some(s.text.clone()),
                    ..EmailContent::default()
                }),
                Channel::Push => push.as_ref().map(|p| EmailContent {
                    subject: p.title.clone(),
                    text: Some(p.body.clone()),
                    ..EmailContent::default()
                }),
            }
        };
        let c = &def.content;
        let email = pick(&c.email, &c.sms, &c.push)
            .map(|e| CompiledEmail::compile_named(&e, "content", mv, fragments))
            .transpose()?;
        let mut locales = BTreeMap::new();
        for (tag, c) in &def.content.locales {
            if let Some(e) = pick(&c.email, &c.sms, &c.push) {
                locales.insert(
                    tag.clone(),
                    CompiledEmail::compile_named(
                        &e,
                        &format!("content.locales.{tag}"),
                        mv,
                        fragments,
                    )?,
                );
            }
        }
        Ok(CompiledContent { email, locales })
    }

    /// The email of `locale` (a multilingual message), or the plain one.
    pub fn email_for(&self, locale: Option<&str>) -> Option<&CompiledEmail> {
        match locale {
            Some(l) => self.locales.get(l),
            None => self.email.as_ref(),
        }
    }

    /// Every locale's content is plain text: render once, send to all.
    pub fn is_static(&self) -> bool {
        self.email
            .iter()
            .chain(self.locales.values())
            .all(CompiledEmail::is_static)
    }

    /// Every variable read by any locale's content.
    pub fn variables(&self) -> BTreeSet<String> {
        self.collect(CompiledEmail::variables)
    }

    /// Every iterated list of any locale's content.
    pub fn list_variables(&self) -> BTreeSet<String> {
        self.collect(CompiledEmail::list_variables)
    }

    fn collect(&self, of: fn(&CompiledEmail) -> BTreeSet<String>) -> BTreeSet<String> {
        let mut all = BTreeSet::new();
        for e in self.email.iter().chain(self.locales.values()) {
            all.extend(of(e));
        }
        all
    }
}

/// Every fragment id the content's fields include directly.
pub fn fragment_ids(content: &Content) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for f in template_fields(content, Channel::Email)
        .into_iter()
        .chain(template_fields(content, Channel::Sms))
        .chain(template_fields(content, Channel::Push))
    {
        ids.extend(fragment::referenced_ids(f.source));
    }
    ids
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
