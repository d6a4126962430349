//! The alert inbox behind the bell: budget alerts, announced anomalies, new reviews and
//! guardrail denials and warnings, each
//! read or unread **per person**. The bell counts exactly the unread items the inbox lists, so
//! both come from [`unread`] over one list.
use serde::{Deserialize, Serialize};

/// Where an alert lives (the `kind` stored with each person's read mark).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum InboxKind {
    Budget,
    Anomaly,
    Review,
    /// One guardrail rule's denials (or warnings) of one UTC day.
    Guardrail,
}

impl InboxKind {
    pub const ALL: [InboxKind; 4] =
        [InboxKind::Budget, InboxKind::Anomaly, InboxKind::Review, InboxKind::Guardrail];

    pub fn as_str(self) -> &'static str {
        match self {
            InboxKind::Budget => "budget",
            InboxKind::Anomaly => "anomaly",
            InboxKind::Review => "review",
            InboxKind::Guardrail => "guardrail",
        }
    }

    pub fn parse(s: &str) -> Option<InboxKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            InboxKind::Budget => "Budget",
            InboxKind::Anomaly => "Anomaly",
            InboxKind::Review => "Review",
            InboxKind::Guardrail => "Guardrail",
        }
    }
}

/// Alerts older than this leave the inbox and the bell together (read or not), so an account
/// opened today is not greeted by years of history.
pub const INBOX_DAYS: i64 = 90;

/// One alert as one person sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxItem {
    pub kind: InboxKind,
    pub id: i64,
    /// When it was raised (Unix milliseconds, UTC).
    pub at_ms: i64,
    pub text: String,
    /// Where to look at it.
    pub link: String,
    pub read: bool,
}

/// Newest first; ties in a fixed order so two renders list the same thing.
pub fn sort(items: &mut [InboxItem]) {
    items.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then(a.kind.cmp(&b.kind)).then(b.id.cmp(&a.id)));
}

/// What the bell shows.
pub fn unread(items: &[InboxItem]) -> usize {
    items.iter().filter(|i| !i.read).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: InboxKind, id: i64, at_ms: i64, read: bool) -> InboxItem {
        InboxItem { kind, id, at_ms, text: String::new(), link: String::new(), read }
    }

    #[test]
    fn newest_first_and_the_bell_counts_the_unread_listed() {
        let mut v = vec![
            item(InboxKind::Review, 1, 10, true),
            item(InboxKind::Budget, 7, 30, false),
            item(InboxKind::Anomaly, 2, 30, false),
            item(InboxKind::Budget, 8, 30, true),
        ];
        sort(&mut v);
        let order: Vec<(InboxKind, i64)> = v.iter().map(|i| (i.kind, i.id)).collect();
        assert_eq!(
            order,
            vec![
                (InboxKind::Budget, 8),
                (InboxKind::Budget, 7),
                (InboxKind::Anomaly, 2),
                (InboxKind::Review, 1)
            ]
        );
        assert_eq!(unread(&v), 2);
    }

    #[test]
    fn kinds_round_trip() {
        for k in InboxKind::ALL {
            assert_eq!(InboxKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(InboxKind::parse("budgets"), None);
    }
}
