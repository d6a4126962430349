//! Webhooks: people configure where alerts go; a worker sends each queued delivery, retries
//! failures with backoff, and records every attempt in the delivery log.
//!
//! Delivery is at least once on the wire and exactly once in effect: a delivery is queued once
//! per webhook and event (unique key), the worker stops at the first 2xx answer, and every
//! attempt carries the same `X-Costroom-Delivery` id (and `delivery_id` in JSON bodies) so a
//! receiver that answered too late can recognise the retry.
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::domain::egress::{host_and_port, AllowList};
use crate::domain::webhook::{
    backoff_ms, parse_url, render, Delivery, Notice, Webhook, WebhookFormat, MAX_ATTEMPTS,
};
use crate::error::{internal, AppError};
use crate::server::db::webhooks::now_ms;
use crate::server::db::{Actor, Db, NewAudit, OrgId};

/// Where webhooks may point: public addresses, plus what the operator allows
/// (`--webhook-allow`). Checked when a webhook is saved and again at every delivery, on the
/// addresses actually connected to (a name that later resolves inward is still refused).
#[derive(Clone, Debug, Default)]
pub struct Egress {
    allow: Arc<AllowList>,
}

impl Egress {
    pub fn new(allow: AllowList) -> Egress {
        Egress { allow: Arc::new(allow) }
    }

    /// Refuses an address whose host is, or resolves to, an internal address not allowed.
    pub async fn check(&self, url: &str) -> Result<(), AppError> {
        let (host, port) = host_and_port(url)
            .ok_or_else(|| AppError::invalid(format!("url: '{url}' is not a web address")))?;
        let refuse = |ip: IpAddr, why: &str| {
            AppError::Invalid(format!(
                "url: {host} is {why} ({ip}); webhooks may not reach internal addresses unless the \
                operator allows them (--webhook-allow)"
            ))
        };
        if self.allow.allows_host(&host) {
            return Ok(());
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return match self.allow.refusal(&host, ip) {
                Some(why) => Err(refuse(ip, why)),
                None => Ok(()),
            };
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| AppError::Invalid(format!("url: the host {host} could not be resolved")))?
            .collect();
        for a in &addrs {
            if let Some(why) = self.allow.refusal(&host, a.ip()) {
                return Err(refuse(a.ip(), why));
            }
        }
        Ok(())
    }

    /// A DNS resolver for an HTTP client that may only reach what this policy allows (the
    /// gateway's upstreams, as webhooks).
    pub fn resolver(&self) -> Arc<Guarded> {
        Arc::new(Guarded(self.allow.clone()))
    }

    /// Whether a delivery may connect to an IP-literal address (names go through [`Guarded`]).
    fn literal_refused(&self, url: &str) -> bool {
        host_and_port(url)
            .and_then(|(host, _)| {
                host.parse::<IpAddr>().ok().map(|ip| self.allow.refusal(&host, ip).is_some())
            })
            .unwrap_or(false)
    }
}

/// The client's resolver: only allowed addresses come back, so the connection goes to an
/// address that was checked (no window between check and connect for DNS rebinding).
pub struct Guarded(Arc<AllowList>);

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| allow.refusal(&host, a.ip()).is_none()).collect();
            if allowed.is_empty() {
                return Err(format!("{host}: no address allowed by the egress policy").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// How the worker sends: the HTTP client and its retry timing.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    egress: Egress,
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
        egress: Egress,
    ) -> Result<Sender, AppError> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(Guarded(egress.allow.clone())))
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            // a redirect could carry the body somewhere the admin did not configure
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Costroom/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(internal)?;
        Ok(Sender { client, egress, base_url, retry_base, retry_cap, lease: Duration::from_secs(60) })
    }

    /// Production timing: 30 s doubling to 30 min, eight attempts (about 1 h 34 min).
    pub fn standard(base_url: Option<String>, egress: Egress) -> Result<Sender, AppError> {
        Sender::new(base_url, Duration::from_secs(30), Duration::from_secs(1800), egress)
    }
}

/// What the delivery log (readable by every role) says of an attempt that got no answer:
/// one phrase whatever went wrong, so the log cannot tell a closed port from a silent one.
/// The cause goes to the server's own log (never the address: it holds the secret).
const CONNECTION_FAILED: &str = "connection failed";

fn cause(e: &reqwest::Error) -> String {
    let mut out = String::new();
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
            let sent = if sender.egress.literal_refused(&d.url) {
                Err(None)
            } else {
                sender
                    .client
                    .post(&d.url)
                    .header("content-type", "application/json")
                    .header("x-costroom-delivery", d.id.to_string())
                    .header("x-costroom-event", d.notice.event.as_str())
                    .body(body.to_string())
                    .send()
                    .await
                    .map_err(Some)
            };
            let (ok, status, error) = match sent {
                Ok(r) if r.status().is_success() => (true, Some(r.status().as_u16() as i64), None),
                Ok(r) => (false, Some(r.status().as_u16() as i64), Some(format!("HTTP {}", r.status()))),
                Err(e) => {
                    let why =
                        e.as_ref().map(cause).unwrap_or_else(|| ": refused by the egress policy".into());
                    tracing::warn!(delivery = d.id, cause = %why, "webhook connection failed");
                    (false, None, Some(CONNECTION_FAILED.to_string()))
                }
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
    egress: &Egress,
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
    egress.check(&url).await?;
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
    super::jobs::signal::wake(super::jobs::signal::Job::Webhooks);
    Ok(())
}

pub async fn retry(db: &Db, org: OrgId, id: i64) -> Result<(), AppError> {
    if !db.retry_delivery(org, id).await? {
        return Err(AppError::NotFound(format!("failed delivery {id}")));
    }
    super::jobs::signal::wake(super::jobs::signal::Job::Webhooks);
    Ok(())
}
