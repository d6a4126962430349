//! The explorer's query and its round trip through a URL query string.
use super::*;

/// Date range presets, resolved against today when the query runs.
pub const PRESETS: [(&str, &str); 6] = [
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("mtd", "Month to date"),
    ("last_month", "Last month"),
    ("ytd", "Year to date"),
];

fn preset_range(p: &str, today: NaiveDate) -> Option<DateRange> {
    Some(match p {
        "7d" => DateRange::last_days(today, 7),
        "30d" => DateRange::last_days(today, 30),
        "90d" => DateRange::last_days(today, 90),
        "mtd" => DateRange::month_to_date(today),
        "last_month" => {
            let first = today.with_day(1)?;
            let to = first.pred_opt()?;
            DateRange { from: to.with_day(1)?, to }
        }
        "ytd" => DateRange { from: NaiveDate::from_ymd_opt(today.year(), 1, 1)?, to: today },
        _ => return None,
    })
}

/// One filter: spend whose `dim` is one of `values` ([`NOT_SET`] matches a missing value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub dim: Dim,
    pub values: Vec<String>,
}

/// Table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    Group,
    Metric(Metric),
}

/// Everything that defines an explorer view; [`SpendQuery::to_query_string`] and
/// [`SpendQuery::parse`] round-trip, so a URL reproduces the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendQuery {
    /// `None`: one series, the total.
    pub group: Option<Dim>,
    /// One per dimension, in the order given.
    pub filters: Vec<Filter>,
    pub range: DateRange,
    /// The preset the range came from, kept so a shared link stays relative ("last 30 days").
    pub preset: Option<String>,
    pub granularity: Granularity,
    pub metric: Metric,
    pub sort: SortKey,
    pub descending: bool,
    /// Spend matching any of these is left out. Not part of the URL: attribution rules use it
    /// to keep the slices of initiatives apart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<Filter>,
}

impl SpendQuery {
    /// The default view: cost by team, daily, last 30 days.
    pub fn default_for(today: NaiveDate) -> SpendQuery {
        SpendQuery {
            group: Some(Dim::Team),
            filters: Vec::new(),
            range: DateRange::last_days(today, 30),
            preset: Some("30d".into()),
            granularity: Granularity::Day,
            metric: Metric::Cost,
            sort: SortKey::Metric(Metric::Cost),
            descending: true,
            excluded: Vec::new(),
        }
    }

    /// Everything of one source (or all) over `range`, as one total per day.
    pub fn total(range: DateRange, source: Option<SpendSource>) -> SpendQuery {
        let mut q = SpendQuery::default_for(range.to);
        q.group = None;
        q.range = range;
        q.preset = None;
        if let Some(s) = source {
            q.filters.push(Filter { dim: Dim::Source, values: vec![s.as_str().to_string()] });
        }
        q
    }

    /// Parses URL parameters (repeated keys are multi-select values; blank values are
    /// ignored, as a GET form sends them). Errors name the parameter.
    pub fn parse(pairs: &[(String, String)], today: NaiveDate) -> Result<SpendQuery, AppError> {
        let mut q = SpendQuery::default_for(today);
        let (mut from, mut to, mut preset, mut group_tag) = (None, None, None, None);
        let mut sort = None;
        let mut filters: Vec<Filter> = Vec::new();
        let mut add_filter = |dim: Dim, v: &str| {
            match filters.iter_mut().find(|f| f.dim == dim) {
                Some(f) if !f.values.iter().any(|x| x == v) => f.values.push(v.to_string()),
                Some(_) => {}
                None => filters.push(Filter { dim, values: vec![v.to_string()] }),
            };
        };
        for (k, v) in pairs {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match k.as_str() {
                "group" if v == "none" => q.group = None,
                // the form's "Tag…" choice comes with the key in its own box
                "group" if v == "tag" => q.group = None,
                "group" => q.group = Some(Dim::parse("group", v)?),
                "group_tag" => group_tag = Some(tag_key("group_tag", v)?),
                "from" => from = Some(v.to_string()),
                "to" => to = Some(v.to_string()),
                "range" if v == "custom" => {}
                "range" => preset = Some(v.to_string()),
                "gran" => {
                    q.granularity =
                        Granularity::ALL.into_iter().find(|g| g.as_str() == v).ok_or_else(|| {
                            AppError::invalid(format!(
                                "gran: unknown granularity '{v}'; use hour, day, week or month"
                            ))
                        })?
                }
                "metric" => q.metric = Metric::parse(v)?,
                "sort" => sort = Some(v.to_string()),
                "dir" => {
                    q.descending = match v {
                        "desc" => true,
                        "asc" => false,
                        _ => return Err(AppError::invalid(format!("dir: '{v}' is neither asc nor desc"))),
                    }
                }
                // "key=value" from the form's free-text tag filter
                "tag_filter" => {
                    let (key, value) = v
                        .split_once('=')
                        .ok_or_else(|| AppError::invalid(format!("tag_filter: '{v}' is not KEY=VALUE")))?;
                    add_filter(Dim::Tag(tag_key("tag_filter", key)?), value.trim());
                }
                k if k.starts_with("tag.") => add_filter(Dim::Tag(tag_key(k, &k[4..])?), v),
                k => match Dim::FIXED.into_iter().find(|d| d.fixed_key() == k) {
                    Some(Dim::Source) => {
                        SpendSource::parse(v).map_err(|e| AppError::invalid(format!("source: {e}")))?;
                        add_filter(Dim::Source, v)
                    }
                    Some(d) => add_filter(d, v),
                    None => return Err(AppError::invalid(format!("{k}: unknown parameter"))),
                },
            }
        }
        if let Some(k) = group_tag {
            if pairs.iter().any(|(k, v)| k == "group" && v.trim() == "tag") {
                q.group = Some(Dim::Tag(k));
            }
        } else if pairs.iter().any(|(k, v)| k == "group" && v.trim() == "tag") {
            return Err(AppError::invalid("group_tag: name the tag key to group by"));
        }
        q.filters = filters;
        // the form sends the preset select and the date boxes together: a preset wins, and
        // "custom" (or no preset) takes the dates
        match preset {
            Some(p) => {
                q.range = preset_range(&p, today).ok_or_else(|| {
                    let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
                    AppError::invalid(format!(
                        "range: unknown preset '{p}'; use {} or custom",
                        names.join(", ")
                    ))
                })?;
                q.preset = Some(p);
            }
            _ => {
                q.range = DateRange::parse(from.as_deref(), to.as_deref(), today)?;
                q.preset = None;
                if from.is_none() && to.is_none() {
                    q.range = DateRange::last_days(today, 30);
                    q.preset = Some("30d".into());
                }
            }
        }
        if q.granularity == Granularity::Hour && q.range.days() > MAX_HOURLY_DAYS {
            return Err(AppError::invalid(format!(
                "gran: hourly buckets cover at most {MAX_HOURLY_DAYS} days; this range has {} (pick day or a shorter range)",
                q.range.days()
            )));
        }
        q.sort = match sort.as_deref() {
            None => SortKey::Metric(q.metric),
            Some("group") => SortKey::Group,
            Some(s) => SortKey::Metric(
                Metric::parse(s).map_err(|_| AppError::invalid(format!("sort: cannot sort by '{s}'")))?,
            ),
        };
        Ok(q)
    }

    /// The canonical URL parameters of this view.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut out =
            vec![("group".to_string(), self.group.as_ref().map(Dim::key).unwrap_or_else(|| "none".into()))];
        for f in &self.filters {
            for v in &f.values {
                out.push((f.dim.filter_param(), v.clone()));
            }
        }
        match &self.preset {
            Some(p) => out.push(("range".into(), p.clone())),
            None => {
                out.push(("from".into(), self.range.from.to_string()));
                out.push(("to".into(), self.range.to.to_string()));
            }
        }
        out.push(("gran".into(), self.granularity.as_str().into()));
        out.push(("metric".into(), self.metric.as_str().into()));
        let sort = match self.sort {
            SortKey::Group => "group",
            SortKey::Metric(m) => m.as_str(),
        };
        out.push(("sort".into(), sort.into()));
        out.push(("dir".into(), if self.descending { "desc" } else { "asc" }.into()));
        out
    }

    pub fn to_query_string(&self) -> String {
        encode_pairs(&self.to_pairs())
    }

    /// The values a filter keeps for `dim`, if it is filtered.
    pub fn filter_values(&self, dim: &Dim) -> Option<&[String]> {
        self.filters.iter().find(|f| &f.dim == dim).map(|f| f.values.as_slice())
    }

    /// This view with `dim` grouped (and one of its filters turned into a value), for drilling.
    pub fn drilled(&self, group_value: &str, next: Dim) -> SpendQuery {
        let mut q = self.clone();
        if let Some(g) = &self.group {
            q.filters.retain(|f| &f.dim != g);
            q.filters.push(Filter { dim: g.clone(), values: vec![group_value.to_string()] });
        }
        q.group = Some(next);
        q
    }

    /// Where each row comes from. Rollups hold one dimension at a time (plus the source), so
    /// they serve a view whose grouping and filters touch at most one rollup dimension.
    pub fn rollup_plan(&self) -> Option<RollupPlan> {
        if !self.excluded.is_empty() {
            return None;
        }
        let mut dim: Option<&Dim> = None;
        let touched = self.group.iter().chain(self.filters.iter().map(|f| &f.dim));
        for d in touched {
            if *d == Dim::Source {
                continue;
            }
            d.rollup_dim()?;
            match dim {
                Some(x) if x != d => return None,
                _ => dim = Some(d),
            }
        }
        Some(RollupPlan {
            dim: dim.and_then(Dim::rollup_dim).unwrap_or("total"),
            values: dim.and_then(|d| self.filter_values(d)).map(|v| v.iter().map(|s| stored(s)).collect()),
            sources: self.filter_values(&Dim::Source).map(|v| v.to_vec()),
        })
    }
}

impl SpendQuery {
    /// The cube answering a view that combines dimensions (which `rollup_plan` cannot): a
    /// daily or coarser view whose dimensions, filters and exclusions are all in one cube (no
    /// tags, which events carry as free-form JSON). Hourly views read the raw events.
    pub fn cube(&self) -> Option<crate::domain::rollup::Cube> {
        if self.granularity == Granularity::Hour {
            return None;
        }
        let touched = self
            .group
            .iter()
            .chain(self.filters.iter().map(|f| &f.dim))
            .chain(self.excluded.iter().map(|f| &f.dim));
        let mut dims = Vec::new();
        for d in touched {
            match d {
                Dim::Source => {}
                Dim::ServiceTier => dims.push("service_tier"),
                d => dims.push(d.rollup_dim()?),
            }
        }
        crate::domain::rollup::Cube::covering(dims)
    }
}

/// How a view reads `usage_rollups`: one dimension, optionally some of its values and sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupPlan {
    pub dim: &'static str,
    pub values: Option<Vec<String>>,
    pub sources: Option<Vec<String>>,
}

/// The stored form of a shown value: [`NOT_SET`] is the empty string.
pub fn stored(v: &str) -> String {
    if v == NOT_SET {
        String::new()
    } else {
        v.to_string()
    }
}

/// The shown form of a stored value.
pub fn shown(v: &str) -> String {
    if v.is_empty() {
        NOT_SET.to_string()
    } else {
        v.to_string()
    }
}

/// `application/x-www-form-urlencoded`, the encoding browsers use for GET forms.
pub fn encode_pairs(pairs: &[(String, String)]) -> String {
    let mut s = String::new();
    for (k, v) in pairs {
        if !s.is_empty() {
            s.push('&');
        }
        s.push_str(&encode_query_value(k));
        s.push('=');
        s.push_str(&encode_query_value(v));
    }
    s
}

/// Decodes a query string (without the `?`); malformed escapes are kept literally.
pub fn decode_pairs(qs: &str) -> Vec<(String, String)> {
    qs.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(x) => {
                        out.push(x);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
