//! Roles and what each may change. Rights are not a ladder (finance may change budgets but not
//! guardrails, engineering the reverse), so every check names the right it needs.
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    Viewer,
    Product,
    Engineering,
    Finance,
    Admin,
}

/// Something a person may do beyond reading dashboards (which every signed-in role may).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Right {
    /// Budgets, chargeback settings.
    ManageBudgets,
    /// Initiatives and their outcomes; product members only for initiatives they own.
    ManageInitiatives,
    /// Guardrails, the price book, API keys.
    ManageEngineering,
    /// People, teams, roles; the audit log.
    ManagePeople,
    /// Billing imports into the ledger (FOCUS files): finance and engineering both bring them.
    ImportBilling,
    /// Where alerts go (webhooks) and their delivery log: finance's budget alerts and
    /// engineering's anomalies both leave through them.
    ManageAlerts,
    /// Decisions and action items in cost reviews: everyone who takes part, not viewers.
    TakePartInReviews,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Admin, Role::Finance, Role::Engineering, Role::Product, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Product => "product",
            Role::Engineering => "engineering",
            Role::Finance => "finance",
            Role::Admin => "admin",
        }
    }

    /// Whether this role holds `right`. Ownership (product members and their initiatives) is
    /// checked where the initiative is known, on top of this.
    pub fn can(self, right: Right) -> bool {
        use Right::*;
        match self {
            Role::Admin => true,
            Role::Finance => {
                matches!(right, ManageBudgets | ImportBilling | ManageAlerts | TakePartInReviews)
            }
            Role::Engineering => {
                matches!(right, ManageEngineering | ImportBilling | ManageAlerts | TakePartInReviews)
            }
            Role::Product => matches!(right, ManageInitiatives | TakePartInReviews),
            Role::Viewer => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // pad, so that `{role:<12}` lines up in tables
        f.pad(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("role: '{s}' is not one of admin, finance, engineering, product, viewer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Right::*;

    #[test]
    fn rights_per_role() {
        let table = [
            (Role::Admin, [true, true, true, true, true, true, true]),
            (Role::Finance, [true, false, false, false, true, true, true]),
            (Role::Engineering, [false, false, true, false, true, true, true]),
            (Role::Product, [false, true, false, false, false, false, true]),
            (Role::Viewer, [false, false, false, false, false, false, false]),
        ];
        for (role, expected) in table {
            let got = [
                ManageBudgets,
                ManageInitiatives,
                ManageEngineering,
                ManagePeople,
                ImportBilling,
                ManageAlerts,
                TakePartInReviews,
            ]
            .map(|r| role.can(r));
            assert_eq!(got, expected, "{role}");
        }
    }

    #[test]
    fn parses_names_and_rejects_others() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!(" Finance ".parse::<Role>(), Ok(Role::Finance));
        assert_eq!(
            "owner".parse::<Role>(),
            Err("role: 'owner' is not one of admin, finance, engineering, product, viewer".to_string())
        );
    }
}
