//! Webhooks: where alerts go outside the app, what each body looks like, and when a failed
//! delivery is tried again. Pure: the sending lives in `server::services::webhooks`.
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// The body a receiver expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookFormat {
    /// Slack incoming webhooks (and the many tools that accept the same `text` body:
    /// Mattermost, Rocket.Chat, Discord's `/slack` endpoint).
    Slack,
    /// Every field of the notice, with exact figures, for programs.
    Json,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Slack => "slack",
            WebhookFormat::Json => "json",
        }
    }

    pub fn parse(s: &str) -> Result<WebhookFormat, AppError> {
        match s.trim() {
            "slack" => Ok(WebhookFormat::Slack),
            "json" => Ok(WebhookFormat::Json),
            other => Err(AppError::invalid(format!("format: '{other}' is not one of slack, json"))),
        }
    }
}

/// Something worth telling people about, once. `key` is unique per event (a budget alert's
/// id, an anomaly's id): a webhook gets at most one delivery per key, however often the event
/// is raised again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub key: String,
    /// `budget.threshold`, `budget.projected`, `test`, …
    pub event: String,
    pub title: String,
    pub message: String,
    /// Path inside Costroom that explains it (`/budgets/3`).
    pub path: String,
    /// Exact figures for programs (nanos, dates, ids).
    pub data: serde_json::Value,
}

/// The body sent for `notice`. `base_url` makes the link absolute when the server knows its
/// public address; `delivery` is the id receivers de-duplicate retries by.
pub fn render(
    format: WebhookFormat,
    notice: &Notice,
    base_url: Option<&str>,
    delivery: i64,
) -> serde_json::Value {
    let link = base_url.map(|b| format!("{}{}", b.trim_end_matches('/'), notice.path));
    match format {
        WebhookFormat::Slack => {
            // Slack's mrkdwn treats &, < and > as control characters
            let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
            let title = match &link {
                Some(l) => format!("<{l}|{}>", esc(&notice.title)),
                None => format!("*{}*", esc(&notice.title)),
            };
            serde_json::json!({ "text": format!("{title}\n{}", esc(&notice.message)) })
        }
        WebhookFormat::Json => serde_json::json!({
            "delivery_id": delivery,
            "key": notice.key,
            "event": notice.event,
            "title": notice.title,
            "message": notice.message,
            "url": link.unwrap_or_else(|| notice.path.clone()),
            "data": notice.data,
        }),
    }
}

/// Attempts before a delivery is given up as failed (the log keeps it; people can retry).
pub const MAX_ATTEMPTS: i64 = 8;

/// Wait after the `attempt`-th failure (1-based): `base` doubled each time, at most `cap`.
/// With the server's 30 s base the eight attempts span about an hour.
pub fn backoff_ms(attempt: i64, base_ms: i64, cap_ms: i64) -> i64 {
    let doublings = (attempt - 1).clamp(0, 30) as u32;
    base_ms.saturating_mul(1i64 << doublings).min(cap_ms)
}

/// A webhook address people may configure: http(s) with a host, no spaces, no credentials
/// in the authority part (they would end up in logs).
pub fn parse_url(s: &str) -> Result<String, AppError> {
    let s = s.trim();
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| AppError::invalid("url: a webhook address starts with https:// or http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || s.chars().any(char::is_whitespace) || s.len() > 2000 {
        return Err(AppError::invalid(format!("url: '{s}' is not a web address")));
    }
    if authority.contains('@') {
        return Err(AppError::invalid("url: put no user name or password in the address"));
    }
    Ok(s.to_string())
}

/// The address as shown and logged: scheme and host only, since the path of a Slack (or
/// most) webhook URL is its secret.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if rest.len() > host.len() {
        format!("{scheme}://{host}/…")
    } else {
        format!("{scheme}://{host}")
    }
}

/// A configured webhook as listed (never with its full address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: i64,
    pub name: String,
    pub url_shown: String,
    pub format: WebhookFormat,
    pub enabled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One line of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub webhook: String,
    pub key: String,
    pub title: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// Unix milliseconds.
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            key: "budget-alert:7".into(),
            event: "budget.threshold".into(),
            title: "Budget \"R&D <AI>\" reached 80%".into(),
            message: "spend $80.00 of $100.00".into(),
            path: "/budgets/3".into(),
            data: serde_json::json!({ "actual_nanos": 80_000_000_000i64 }),
        }
    }

    #[test]
    fn slack_body_is_text_with_a_link_and_escaped_controls() {
        let body = render(WebhookFormat::Slack, &notice(), Some("https://cost.example/"), 5);
        assert_eq!(
            body["text"],
            "<https://cost.example/budgets/3|Budget \"R&amp;D &lt;AI&gt;\" reached 80%>\nspend $80.00 of $100.00"
        );
        let no_base = render(WebhookFormat::Slack, &notice(), None, 5);
        assert!(no_base["text"].as_str().unwrap().starts_with("*Budget"));
    }

    #[test]
    fn json_body_carries_the_delivery_id_key_and_exact_figures() {
        let body = render(WebhookFormat::Json, &notice(), None, 42);
        assert_eq!(body["delivery_id"], 42);
        assert_eq!(body["key"], "budget-alert:7");
        assert_eq!(body["event"], "budget.threshold");
        assert_eq!(body["url"], "/budgets/3");
        assert_eq!(body["data"]["actual_nanos"], 80_000_000_000i64);
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let waits: Vec<i64> = (1..=9).map(|a| backoff_ms(a, 30_000, 1_800_000)).collect();
        assert_eq!(
            waits,
            [30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_800_000, 1_800_000, 1_800_000]
        );
        assert_eq!(backoff_ms(0, 10, 100), 10);
        assert_eq!(backoff_ms(500, 10, 100), 100);
    }

    #[test]
    fn urls_are_checked_and_shown_without_their_secret_path() {
        assert_eq!(
            parse_url(" https://hooks.slack.com/services/T/B/x ").unwrap(),
            "https://hooks.slack.com/services/T/B/x"
        );
        assert!(parse_url("http://127.0.0.1:9000/hook").is_ok());
        for bad in ["ftp://x", "https://", "https://a b/c", "https://user:pw@host/x", "hooks.slack.com"] {
            let e = parse_url(bad).unwrap_err().to_string();
            assert!(e.starts_with("url: "), "{bad}: {e}");
        }
        assert_eq!(redact_url("https://hooks.slack.com/services/T/B/secret"), "https://hooks.slack.com/…");
        assert_eq!(redact_url("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
    }

    #[test]
    fn formats_and_statuses_round_trip() {
        for f in [WebhookFormat::Slack, WebhookFormat::Json] {
            assert_eq!(WebhookFormat::parse(f.as_str()).unwrap(), f);
        }
        assert!(WebhookFormat::parse("xml").unwrap_err().to_string().starts_with("format: "));
        for s in [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed] {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
        }
    }
}
