//! Reading FOCUS cost and usage files (FinOps Open Cost and Usage Specification, CSV, versions
//! 1.0 to 1.2), row by row, with errors that name the line and the column.
//!
//! Real files and the specification's own examples carry traps this reader handles: the
//! literal `null`/`NULL` for an empty value, blank lines between rows, CRLF, JSON in the Tags
//! column, more decimals than money is stored with (rounded half away from zero, once per
//! value, to the nano-dollar), negative credits, and spreadsheet-formatted amounts
//! (`"$10,000.00 "`: a `$`, thousands separators in groups of three, spaces). Dates are
//! RFC 3339 / ISO 8601, or `M/D/YY(YY)` as US spreadsheets write them.
use std::collections::HashMap;
use std::io::Read;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::domain::limits;
use crate::domain::pricing::parse_scaled_rounded;
use crate::domain::Nanos;

/// FOCUS `ChargeCategory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChargeCategory {
    Usage,
    Purchase,
    Tax,
    Credit,
    Adjustment,
}

impl ChargeCategory {
    fn parse(s: &str) -> Option<ChargeCategory> {
        Some(match s.to_ascii_lowercase().as_str() {
            "usage" => ChargeCategory::Usage,
            "purchase" => ChargeCategory::Purchase,
            "tax" => ChargeCategory::Tax,
            "credit" => ChargeCategory::Credit,
            "adjustment" => ChargeCategory::Adjustment,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChargeCategory::Usage => "Usage",
            ChargeCategory::Purchase => "Purchase",
            ChargeCategory::Tax => "Tax",
            ChargeCategory::Credit => "Credit",
            ChargeCategory::Adjustment => "Adjustment",
        }
    }
}

/// One FOCUS row as Costroom keeps it. Quantities stay the decimal text the file gave
/// (checked to be a number); money is exact nano-dollars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FocusRow {
    /// 1-based line in the file.
    pub line: u64,
    pub billed_cost: Nanos,
    pub effective_cost: Nanos,
    pub list_cost: Option<Nanos>,
    pub contracted_cost: Option<Nanos>,
    pub billing_currency: Option<String>,
    pub charge_category: ChargeCategory,
    /// `Correction` for a row that corrects an earlier period.
    pub charge_class: Option<String>,
    pub charge_description: Option<String>,
    pub charge_frequency: Option<String>,
    pub charge_period_start: DateTime<Utc>,
    pub charge_period_end: DateTime<Utc>,
    pub billing_period_start: Option<DateTime<Utc>>,
    pub billing_period_end: Option<DateTime<Utc>>,
    pub billing_account_id: Option<String>,
    pub sub_account_id: Option<String>,
    pub provider: Option<String>,
    pub publisher: Option<String>,
    pub service_name: Option<String>,
    pub service_category: Option<String>,
    pub service_subcategory: Option<String>,
    pub region_id: Option<String>,
    pub resource_id: Option<String>,
    pub resource_name: Option<String>,
    pub sku_id: Option<String>,
    pub sku_price_id: Option<String>,
    pub pricing_category: Option<String>,
    pub consumed_quantity: Option<String>,
    pub consumed_unit: Option<String>,
    pub pricing_quantity: Option<String>,
    pub pricing_unit: Option<String>,
    pub commitment_discount_id: Option<String>,
    pub commitment_discount_category: Option<String>,
    pub commitment_discount_status: Option<String>,
    pub commitment_discount_type: Option<String>,
    pub commitment_discount_quantity: Option<String>,
    pub commitment_discount_unit: Option<String>,
    /// Sorted by key.
    pub tags: Vec<(String, String)>,
}

impl FocusRow {
    /// A row with only the required columns set; Costroom derives its own ledger lines (GPU
    /// usage, training runs, commitments) from it.
    pub fn new(
        line: u64,
        category: ChargeCategory,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        cost: Nanos,
    ) -> FocusRow {
        FocusRow {
            line,
            billed_cost: cost,
            effective_cost: cost,
            list_cost: None,
            contracted_cost: None,
            billing_currency: Some("USD".into()),
            charge_category: category,
            charge_class: None,
            charge_description: None,
            charge_frequency: None,
            charge_period_start: start,
            charge_period_end: end,
            billing_period_start: None,
            billing_period_end: None,
            billing_account_id: None,
            sub_account_id: None,
            provider: None,
            publisher: None,
            service_name: None,
            service_category: None,
            service_subcategory: None,
            region_id: None,
            resource_id: None,
            resource_name: None,
            sku_id: None,
            sku_price_id: None,
            pricing_category: None,
            consumed_quantity: None,
            consumed_unit: None,
            pricing_quantity: None,
            pricing_unit: None,
            commitment_discount_id: None,
            commitment_discount_category: None,
            commitment_discount_status: None,
            commitment_discount_type: None,
            commitment_discount_quantity: None,
            commitment_discount_unit: None,
            tags: Vec::new(),
        }
    }
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    /// The column's name and its 1-based position (0 when the check is not about one cell's
    /// text, e.g. a currency the ledger does not take).
    pub column: String,
    pub column_number: usize,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.column_number == 0 {
            write!(f, "line {}, column {}: {}", self.line, self.column, self.reason)
        } else {
            write!(f, "line {}, column {} ({}): {}", self.line, self.column_number, self.column, self.reason)
        }
    }
}

/// Columns without which a row means nothing.
const REQUIRED: [&str; 5] =
    ["BilledCost", "EffectiveCost", "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd"];

/// Remembers where the newlines of the stream are, so that each row's line number is exact
/// (the csv crate's own record positions skip blank lines inconsistently). Only offsets not yet
/// passed are kept: memory stays bounded however long the file.
struct LineCounter<R> {
    inner: R,
    offset: u64,
    newlines: std::cell::RefCell<std::collections::VecDeque<u64>>,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut nl = self.newlines.borrow_mut();
        nl.extend(
            buf[..n].iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| self.offset + i as u64),
        );
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> LineCounter<R> {
    /// Counts (and forgets) the newlines before byte `pos`; answers whether the last of them
    /// is the byte just before `pos` (the record ended with a newline).
    fn pass(&self, pos: u64, lines: &mut u64) -> bool {
        let mut nl = self.newlines.borrow_mut();
        let mut last = None;
        while nl.front().is_some_and(|o| *o < pos) {
            last = nl.pop_front();
            *lines += 1;
        }
        last.is_some_and(|o| o + 1 == pos)
    }
}

/// Reads every row, handing each (or its error) to `each`; answers the number of data rows.
/// Line numbers are those of the line where a row ends (a quoted field may span lines). A
/// file without the required columns, or that is not CSV, is one error for the whole file.
pub fn read(input: impl Read, mut each: impl FnMut(Result<FocusRow, RowError>)) -> Result<u64, String> {
    let counter = LineCounter { inner: input, offset: 0, newlines: Default::default() };
    let mut rdr = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::None).from_reader(counter);
    let headers = rdr.headers().map_err(|e| format!("line 1: not a CSV header ({e})"))?.clone();
    let index: HashMap<&str, usize> =
        headers.iter().enumerate().map(|(i, h)| (h.trim().trim_start_matches('\u{feff}'), i)).collect();
    let missing: Vec<&str> = REQUIRED.iter().copied().filter(|c| !index.contains_key(c)).collect();
    if !missing.is_empty() {
        return Err(format!("line 1: missing FOCUS column(s): {}", missing.join(", ")));
    }
    let mut rows = 0;
    let mut lines = 0;
    rdr.get_ref().pass(rdr.position().byte(), &mut lines);
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let ended_with_newline = rdr.get_ref().pass(rdr.position().byte(), &mut lines);
                let line = if ended_with_newline { lines } else { lines + 1 };
                if record.iter().all(|f| f.trim().is_empty()) {
                    continue; // a blank line written as ",,,," or "\r"
                }
                rows += 1;
                each(row(line, &record, &index));
            }
            Err(e) => return Err(format!("line {}: not CSV ({e})", lines + 1)),
        }
    }
    Ok(rows)
}

struct Cells<'a> {
    line: u64,
    record: &'a csv::StringRecord,
    index: &'a HashMap<&'a str, usize>,
}

impl Cells<'_> {
    fn err(&self, column: &str, reason: String) -> RowError {
        let column_number = self.index.get(column).map_or(0, |i| i + 1);
        RowError { line: self.line, column: column.into(), column_number, reason }
    }

    /// The cell's text; `None` for an absent column, an empty cell or a literal null.
    fn text(&self, column: &str) -> Option<String> {
        let v = self.record.get(*self.index.get(column)?)?.trim();
        (!v.is_empty() && !v.eq_ignore_ascii_case("null")).then(|| v.to_string())
    }

    /// Every cell within [`MAX_CELL_LEN`] bytes (a line of megabytes would be stored as is).
    fn check_lengths(&self) -> Result<(), RowError> {
        for (name, i) in self.index {
            if self.record.get(*i).is_some_and(|v| v.len() > MAX_CELL_LEN) {
                return Err(self.err(name, format!("longer than {MAX_CELL_LEN} bytes")));
            }
        }
        Ok(())
    }

    /// A decimal amount within ± [`limits::MAX_LINE_COST`].
    fn money(&self, column: &str) -> Result<Option<Nanos>, RowError> {
        let Some(v) = self.text(column) else { return Ok(None) };
        let shown: String = v.chars().take(40).collect();
        let n =
            parse_amount(&v).ok_or_else(|| self.err(column, format!("'{shown}' is not a decimal amount")))?;
        if n.0.unsigned_abs() > limits::MAX_LINE_COST.0.unsigned_abs() {
            return Err(self.err(
                column,
                format!("'{shown}' is beyond the per-line maximum of ±{}", limits::MAX_LINE_COST.usd()),
            ));
        }
        Ok(Some(n))
    }

    fn required_money(&self, column: &str) -> Result<Nanos, RowError> {
        self.money(column)?.ok_or_else(|| self.err(column, "required".into()))
    }

    fn quantity(&self, column: &str) -> Result<Option<String>, RowError> {
        let Some(v) = self.text(column) else { return Ok(None) };
        match parse_scaled_rounded(&v, 0) {
            Some(_) => Ok(Some(v)),
            None => Err(self.err(column, format!("'{v}' is not a number"))),
        }
    }

    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, RowError> {
        let Some(v) = self.text(column) else { return Ok(None) };
        parse_time(&v).map(Some).ok_or_else(|| {
            self.err(column, format!("'{v}' is not a date-time (expected e.g. 2025-04-01T00:00:00Z)"))
        })
    }
}

/// The longest cell read (descriptions and resource ids included).
pub const MAX_CELL_LEN: usize = 2_048;
/// Tags on one row.
pub const MAX_ROW_TAGS: usize = 100;

fn row(line: u64, record: &csv::StringRecord, index: &HashMap<&str, usize>) -> Result<FocusRow, RowError> {
    let c = Cells { line, record, index };
    c.check_lengths()?;
    let category = c.text("ChargeCategory").ok_or_else(|| c.err("ChargeCategory", "required".into()))?;
    let charge_category = ChargeCategory::parse(&category).ok_or_else(|| {
        c.err(
            "ChargeCategory",
            format!("'{category}' is not one of Usage, Purchase, Tax, Credit, Adjustment"),
        )
    })?;
    let start = c.time("ChargePeriodStart")?.ok_or_else(|| c.err("ChargePeriodStart", "required".into()))?;
    let end = c.time("ChargePeriodEnd")?.ok_or_else(|| c.err("ChargePeriodEnd", "required".into()))?;
    if end < start {
        return Err(c.err("ChargePeriodEnd", format!("{end} is before ChargePeriodStart {start}")));
    }
    for (column, t) in [("ChargePeriodStart", start), ("ChargePeriodEnd", end)] {
        use chrono::Datelike;
        if !(limits::MIN_YEAR..=limits::MAX_YEAR + 1).contains(&t.year()) {
            return Err(c.err(
                column,
                format!(
                    "{} is outside the years {} to {}",
                    t.date_naive(),
                    limits::MIN_YEAR,
                    limits::MAX_YEAR
                ),
            ));
        }
    }
    let tags = match c.text("Tags") {
        None => vec![],
        Some(json) => {
            let v: serde_json::Value =
                serde_json::from_str(&json).map_err(|e| c.err("Tags", format!("not a JSON object ({e})")))?;
            let Some(obj) = v.as_object() else { return Err(c.err("Tags", "not a JSON object".into())) };
            let mut tags: Vec<(String, String)> = obj
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect();
            if tags.len() > MAX_ROW_TAGS {
                return Err(c.err("Tags", format!("more than {MAX_ROW_TAGS} tags")));
            }
            tags.sort();
            tags
        }
    };
    Ok(FocusRow {
        line,
        billed_cost: c.required_money("BilledCost")?,
        effective_cost: c.required_money("EffectiveCost")?,
        list_cost: c.money("ListCost")?,
        contracted_cost: c.money("ContractedCost")?,
        billing_currency: c.text("BillingCurrency"),
        charge_category,
        charge_class: c.text("ChargeClass"),
        charge_description: c.text("ChargeDescription"),
        charge_frequency: c.text("ChargeFrequency"),
        charge_period_start: start,
        charge_period_end: end,
        billing_period_start: c.time("BillingPeriodStart")?,
        billing_period_end: c.time("BillingPeriodEnd")?,
        billing_account_id: c.text("BillingAccountId"),
        sub_account_id: c.text("SubAccountId"),
        provider: c.text("ProviderName").or_else(|| c.text("ServiceProviderName")),
        publisher: c.text("PublisherName"),
        service_name: c.text("ServiceName"),
        service_category: c.text("ServiceCategory"),
        service_subcategory: c.text("ServiceSubcategory"),
        region_id: c.text("RegionId"),
        resource_id: c.text("ResourceId"),
        resource_name: c.text("ResourceName"),
        sku_id: c.text("SkuId"),
        sku_price_id: c.text("SkuPriceId").or_else(|| c.text("SkuPriceid")),
        pricing_category: c.text("PricingCategory"),
        consumed_quantity: c.quantity("ConsumedQuantity")?,
        consumed_unit: c.text("ConsumedUnit"),
        pricing_quantity: c.quantity("PricingQuantity")?,
        pricing_unit: c.text("PricingUnit"),
        commitment_discount_id: c.text("CommitmentDiscountId"),
        commitment_discount_category: c.text("CommitmentDiscountCategory"),
        commitment_discount_status: c.text("CommitmentDiscountStatus"),
        commitment_discount_type: c.text("CommitmentDiscountType"),
        commitment_discount_quantity: c.quantity("CommitmentDiscountQuantity")?,
        commitment_discount_unit: c.text("CommitmentDiscountUnit"),
        tags,
    })
}

/// A decimal amount of the billing currency → nanos ([`Nanos::parse_usd`]: `-1.5`, `1e-3`,
/// the spreadsheet form `$10,000.00`; `1,5` is refused rather than read as fifteen).
pub fn parse_amount(s: &str) -> Option<Nanos> {
    Nanos::parse_usd(s).ok()
}

/// RFC 3339, `YYYY-MM-DDTHH:MM:SS` (UTC), `YYYY-MM-DD`, or US `M/D/YY` / `M/D/YYYY`. An hour
/// from 24 to 47 rolls into the next day: the specification's own example
/// (`commitment_discount_purchase_scenario_2.csv`) writes the third hourly period's end as
/// `2023-02-01T30:00:00Z`, and the scenario's stated total needs that row.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    strict_time(s).or_else(|| rolled_over_hour(s))
}

fn rolled_over_hour(s: &str) -> Option<DateTime<Utc>> {
    let (date, rest) = s.split_once('T')?;
    let rest = rest.strip_suffix('Z').unwrap_or(rest);
    let mut parts = rest.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let sec: u32 = parts.next().unwrap_or("0").parse().ok()?;
    if !(24..48).contains(&h) || parts.next().is_some() {
        return None;
    }
    let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    let t = day.and_hms_opt(0, m, sec)?.and_utc();
    Some(t + chrono::Duration::hours(h))
}

fn strict_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%SZ"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    for f in ["%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            // a two-digit year that chrono read as year 0025 with %Y
            if d.format("%Y").to_string().starts_with("00") {
                continue;
            }
            return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/focus")
    }

    /// (rows, Σ BilledCost, Σ EffectiveCost, Σ ListCost, Σ ContractedCost)
    fn totals(rel: &str) -> (u64, i64, i64, i64, i64) {
        let file = std::fs::File::open(fixtures().join(rel)).unwrap();
        let mut t = (0, 0, 0, 0, 0);
        let n = read(file, |r| {
            let r = r.unwrap_or_else(|e| panic!("{rel}: {e}"));
            t.1 += r.billed_cost.0;
            t.2 += r.effective_cost.0;
            t.3 += r.list_cost.map_or(0, |c| c.0);
            t.4 += r.contracted_cost.map_or(0, |c| c.0);
        })
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
        t.0 = n;
        t
    }

    const USD: i64 = 1_000_000_000;
    fn usd(cents: i64) -> i64 {
        cents * USD / 100
    }

    /// The outcomes the specification's appendix scenarios state for its own example files.
    #[test]
    fn the_spec_examples_import_with_their_stated_totals() {
        let flex = "commitment_discount_flexibility";
        let billed_effective = [
            // 100% utilization with flexibility, 1 resource: $0.50 purchase + $2.25 on demand
            (format!("{flex}/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_1_resource.csv"), 275, 275),
            (format!("{flex}/one_hundred_percent_utilization_with_commitment_discount_flexibility_with_2_resources.csv"), 200, 200),
            (format!("{flex}/one_hundred_percent_utilization_without_commitment_discount_flexibility.csv"), 150, 150),
            // $1.50 unused commitment + $2.00 on demand
            (format!("{flex}/zero_percent_utilization_without_commitment_discount_flexibility.csv"), 350, 350),
            // all upfront: 24 h × 365 d × $1.00, amortized to zero effective cost on the purchase
            ("commitment_discount_scenarios/commitment_discount_purchase_scenario_1.csv".into(), 876_000, 0),
            ("commitment_discount_scenarios/commitment_discount_purchase_scenario_2.csv".into(), 300, 0),
            ("commitment_discount_scenarios/commitment_discount_purchase_scenario_3.csv".into(), 438_150, 0),
            ("commitment_discount_scenarios/commitment_discount_usage_scenario_1.csv".into(), 0, 100),
            ("commitment_discount_scenarios/commitment_discount_usage_scenario_2.csv".into(), 0, 100),
            ("commitment_discount_scenarios/commitment_discount_usage_scenario_3.csv".into(), 0, 100),
            // overage of $0.50 billed on demand
            ("commitment_discount_scenarios/commitment_discount_usage_scenario_4.csv".into(), 50, 150),
        ];
        for (file, billed, effective) in billed_effective {
            let t = totals(&file);
            assert_eq!((t.1, t.2), (usd(billed), usd(effective)), "{file}");
        }
        // $1,200 commitment at a 20 % discount; ListCost and ContractedCost as the scenario explains
        for (file, list, contracted) in
            [("a1", 1257, 1200), ("a2", 1257, 1200), ("b1", 2457, 2400), ("b2", 2457, 2400)]
        {
            let t = totals(&format!("saas_examples/spend_agreements/saas_spend_agreements_{file}.csv"));
            assert_eq!(
                (t.1, t.3, t.4),
                (1200 * USD, list * USD, contracted * USD),
                "spend agreements {file}"
            );
        }
        // virtual currency: 100,000 tokens bought at $2 (a1) or at $1 against a $2 list price (b1)
        assert_eq!(totals("saas_examples/virtual_currency_pricing_model_a1.csv").1, 200_000 * USD);
        let b1 = totals("saas_examples/virtual_currency_pricing_model_b1.csv");
        assert_eq!((b1.1, b1.3), (100_000 * USD, 200_000 * USD));
        // simple agreement a1: the $10,000 up-front payment, written "$10,000.00 "
        assert_eq!(totals("saas_examples/simple_agreements/simple_saas_agreements_a1.csv").1, 10_000 * USD);
    }

    #[test]
    fn every_example_file_reads_without_errors() {
        let mut files = vec![];
        let mut dirs = vec![fixtures()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "csv") {
                    files.push(p);
                }
            }
        }
        assert_eq!(files.len(), 26);
        for f in files {
            let mut errors = vec![];
            let n = read(std::fs::File::open(&f).unwrap(), |r| {
                if let Err(e) = r {
                    errors.push(e)
                }
            })
            .unwrap();
            assert!(n > 0 && errors.is_empty(), "{}: {errors:?}", f.display());
        }
    }

    #[test]
    fn traps_of_real_files_are_handled_and_bad_rows_named_by_line_and_column() {
        let csv = "BilledCost,EffectiveCost,ChargeCategory,ChargePeriodStart,ChargePeriodEnd,Tags,BillingAccountId\r\n\
            0.123456789012,0.1,Usage,2026-11-01T00:00:00Z,2026-11-01T01:00:00Z,\"{\"\"team\"\":\"\"search\"\",\"\"env\"\":null,\"\"n\"\":2}\",NULL\r\n\
            \r\n\
            -5.00,-5.00,Credit,2026-11-01,2026-12-01,null,acct-1\r\n\
            abc,1,Usage,2026-11-01,2026-11-02,,\r\n\
            1,1,Refund,2026-11-01,2026-11-02,,\r\n\
            1,1,Usage,2026-11-02,2026-11-01,,\r\n\
            1,1,Usage,2026-11-01,2026-11-02,{not json},\r\n";
        let mut ok = vec![];
        let mut bad = vec![];
        let n = read(csv.as_bytes(), |r| match r {
            Ok(r) => ok.push(r),
            Err(e) => bad.push(e.to_string()),
        })
        .unwrap();
        assert_eq!(n, 6);
        assert_eq!(ok[0].billed_cost, Nanos(123_456_789), "12 decimals rounded once to the nano");
        assert_eq!(ok[0].tags, vec![("n".to_string(), "2".to_string()), ("team".into(), "search".into())]);
        assert_eq!(ok[0].billing_account_id, None, "NULL is no value");
        assert_eq!(
            (ok[1].line, ok[1].billed_cost, ok[1].charge_category),
            (4, Nanos(-5 * USD), ChargeCategory::Credit)
        );
        assert_eq!(
            bad,
            vec![
                "line 5, column 1 (BilledCost): 'abc' is not a decimal amount",
                "line 6, column 3 (ChargeCategory): 'Refund' is not one of Usage, Purchase, Tax, Credit, Adjustment",
                "line 7, column 5 (ChargePeriodEnd): 2026-11-01 00:00:00 UTC is before ChargePeriodStart 2026-11-02 00:00:00 UTC",
                "line 8, column 6 (Tags): not a JSON object (key must be a string at line 1 column 2)",
            ]
        );
        assert_eq!(
            read("BilledCost,ChargeCategory\n1,Usage\n".as_bytes(), |_| ()).unwrap_err(),
            "line 1: missing FOCUS column(s): EffectiveCost, ChargePeriodStart, ChargePeriodEnd"
        );
    }

    #[test]
    fn amounts_and_dates_in_the_forms_files_use() {
        assert_eq!(parse_amount("$10,000.00 "), Some(Nanos(10_000 * USD)));
        assert_eq!(parse_amount("1,234,567.5"), Some(Nanos(1_234_567_500_000_000)));
        assert_eq!(parse_amount("1,5"), None, "a decimal comma is refused, not read as 15");
        assert_eq!(parse_amount("-0.0000000005"), Some(Nanos(-1)));
        assert_eq!(parse_amount("1e-3"), Some(Nanos(1_000_000)));
        let d = |s| parse_time(s).map(|t| t.to_rfc3339());
        assert_eq!(d("5/1/25").as_deref(), Some("2025-05-01T00:00:00+00:00"));
        assert_eq!(d("12/31/2025").as_deref(), Some("2025-12-31T00:00:00+00:00"));
        assert_eq!(d("2023-01-01T01:00:00Z").as_deref(), Some("2023-01-01T01:00:00+00:00"));
        assert_eq!(d("2023-01-01 01:00:00").as_deref(), Some("2023-01-01T01:00:00+00:00"));
        assert_eq!(d("31/12/2025"), None);
        assert_eq!(
            d("2023-02-01T30:00:00Z").as_deref(),
            Some("2023-02-02T06:00:00+00:00"),
            "the spec's own typo"
        );
        assert_eq!(d("2023-02-01T48:00:00Z"), None);
    }
}
