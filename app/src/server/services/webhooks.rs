//! Webhooks: people configure where alerts go; a worker sends each queued delivery, retries
//! failures with backoff, and records every attempt in the delivery log.
//!
//! Delivery is at least once on the wire and exactly once in effect: a delivery is queued once
//! per webhook and event (unique key), the worker stops at the first 2xx answer, and every
//! attempt carries the same `X-Costroom-Delivery` id (and `delivery_id` in JSON bodies) so a
//! receiver that answered too late can recognise the retry.
use std::time::Duration;

use crate::domain::webhook::{
    backoff_ms, parse_url, render, Delivery, Notice, Webhook, WebhookFormat, MAX_ATTEMPTS,
};
use crate::error::{internal, AppError};
use crate::server::db::webhooks::now_ms;
use crate::server::db::{Actor, Db, NewAudit, OrgId};

/// How the worker sends: the HTTP client and its retry timing.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    /// Public address of this Costroom (`--public-url`), to make links in bodies absolute.
    pub base_url: Option<String>,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// How long a claimed delivery is left alone by other workers while it is being sent.
    pub lease: Duration,
}

impl Sender {
    pub fn new(
        base_url: Option<String>,
        retry_base: Duration,
        retry_cap: Duration,
    ) -> Result<Sender, AppError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            // a redirect could carry the body somewhere the admin did not configure
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Costroom/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(internal)?;
        Ok(Sender { client, base_url, retry_base, retry_cap, lease: Duration::from_secs(60) })
    }

    /// Production timing: 30 s doubling to 30 min, eight attempts (about 1 h 34 min).
    pub fn standard(base_url: Option<String>) -> Result<Sender, AppError> {
        Sender::new(base_url, Duration::from_secs(30), Duration::from_secs(1800))
    }
}

/// What one attempt produced, for the log (never the address: it holds the secret).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut out = what.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out.chars().take(500).collect()
}

/// Sends every delivery that is due now; returns how many attempts were made.
pub async fn deliver_due(db: &Db, sender: &Sender) -> Result<usize, AppError> {
    let mut attempts = 0;
    loop {
        let now = now_ms();
        let due = db.due_deliveries(now, 50).await?;
        if due.is_empty() {
            return Ok(attempts);
        }
        for d in due {
            let lease_until = now + sender.lease.as_millis() as i64;
            if !db.claim_delivery(d.id, d.attempts, now, lease_until).await? {
                continue;
            }
            attempts += 1;
            let attempt = d.attempts + 1;
            let body = render(d.format, &d.notice, sender.base_url.as_deref(), d.id);
            let sent = sender
                .client
                .post(&d.url)
                .header("content-type", "application/json")
                .header("x-costroom-delivery", d.id.to_string())
                .header("x-costroom-event", d.notice.event.as_str())
                .body(body.to_string())
                .send()
                .await;
            let (ok, status, error) = match sent {
                Ok(r) if r.status().is_success() => (true, Some(r.status().as_u16() as i64), None),
                Ok(r) => (false, Some(r.status().as_u16() as i64), Some(format!("HTTP {}", r.status()))),
                Err(e) => (false, None, Some(describe(&e))),
            };
            let retry_at = (!ok && attempt < MAX_ATTEMPTS).then(|| {
                now_ms()
                    + backoff_ms(
                        attempt,
                        sender.retry_base.as_millis() as i64,
                        sender.retry_cap.as_millis() as i64,
                    )
            });
            if !ok {
                tracing::warn!(
                    delivery = d.id,
                    attempt,
                    status,
                    error = error.as_deref(),
                    "webhook delivery failed"
                );
            }
            db.record_delivery(d.id, ok, status, error.as_deref(), retry_at).await?;
        }
    }
}

/// Everything the webhooks page shows.
pub async fn overview(db: &Db, org: OrgId) -> Result<(Vec<Webhook>, Vec<Delivery>), AppError> {
    Ok((db.webhooks(org).await?, db.webhook_deliveries(org, 200).await?))
}

/// Adds a webhook (audited; the address is recorded only in its shown form).
pub async fn create(
    db: &Db,
    org: OrgId,
    actor: &Actor,
    name: &str,
    url: &str,
    format: &str,
) -> Result<i64, AppError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 120 {
        return Err(AppError::invalid("name: give the webhook a name of at most 120 characters"));
    }
    let url = parse_url(url)?;
    let format = WebhookFormat::parse(format)?;
    let shown = crate::domain::webhook::redact_url(&url);
    let entry = NewAudit {
        actor: actor.clone(),
        action: "webhook.create",
        entity: "webhook",
        entity_id: name.to_string(),
        summary: format!("webhook {name} ({}) to {shown}", format.as_str()),
        before: None,
        after: Some(serde_json::json!({ "name": name, "url": shown, "format": format.as_str() })),
    };
    Ok(db.insert_webhook(org, name, &url, format, &entry).await?)
}

pub async fn delete(db: &Db, org: OrgId, actor: &Actor, id: i64) -> Result<(), AppError> {
    let hook = db
        .webhooks(org)
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or_else(|| AppError::NotFound(format!("webhook {id}")))?;
    let entry = NewAudit {
        actor: actor.clone(),
        action: "webhook.delete",
        entity: "webhook",
        entity_id: hook.name.clone(),
        summary: format!("webhook {} to {} deleted", hook.name, hook.url_shown),
        before: Some(
            serde_json::json!({ "name": hook.name, "url": hook.url_shown, "format": hook.format.as_str() }),
        ),
        after: None,
    };
    db.delete_webhook(org, id, &entry).await?;
    Ok(())
}

/// Queues a test message for one webhook, so people see it arrive (or fail) in the log.
pub async fn send_test(db: &Db, org: OrgId, actor: &Actor, id: i64) -> Result<(), AppError> {
    if !db.webhooks(org).await?.iter().any(|w| w.id == id) {
        return Err(AppError::NotFound(format!("webhook {id}")));
    }
    let notice = Notice {
        key: format!("test:{}", now_ms()),
        event: "test".into(),
        title: "Costroom test message".into(),
        message: format!("{} sent this to check the webhook works.", actor.label),
        path: "/settings/webhooks".into(),
        data: serde_json::json!({}),
    };
    db.enqueue_notice(org, &notice, Some(id)).await?;
    super::jobs::wake(super::jobs::Job::Webhooks);
    Ok(())
}

pub async fn retry(db: &Db, org: OrgId, id: i64) -> Result<(), AppError> {
    if !db.retry_delivery(org, id).await? {
        return Err(AppError::NotFound(format!("failed delivery {id}")));
    }
    super::jobs::wake(super::jobs::Job::Webhooks);
    Ok(())
}
