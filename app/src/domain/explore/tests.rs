use super::*;
fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn pairs(qs: &str) -> Vec<(String, String)> {
    decode_pairs(qs)
}

fn sums(cost: i64, requests: i64, input: i64, output: i64) -> Sums {
    Sums {
        cost_nanos: cost,
        requests,
        input_tokens: input,
        output_tokens: output,
        events: 1,
        ..Sums::default()
    }
}

#[test]
fn query_round_trips_through_the_url() {
    let today = day("2026-11-28");
    let qs = "group=model&team=search&team=support&tag.cost-center=cc+1&from=2026-09-01&to=2026-11-28&gran=week&metric=cost_per_request&sort=group&dir=asc";
    let q = SpendQuery::parse(&pairs(qs), today).unwrap();
    assert_eq!(q.group, Some(Dim::Model));
    assert_eq!(q.filter_values(&Dim::Team).unwrap(), ["search", "support"]);
    assert_eq!(q.filter_values(&Dim::Tag("cost-center".into())).unwrap(), ["cc 1"]);
    assert_eq!(q.range, DateRange { from: day("2026-09-01"), to: today });
    assert_eq!(q.granularity, Granularity::Week);
    assert_eq!(q.sort, SortKey::Group);
    assert!(!q.descending);
    let again = SpendQuery::parse(&decode_pairs(&q.to_query_string()), today).unwrap();
    assert_eq!(again, q);
}

#[test]
fn presets_stay_relative_and_blank_form_values_are_ignored() {
    let q = SpendQuery::parse(&pairs("range=mtd&team=&group=team"), day("2026-11-28")).unwrap();
    assert_eq!(q.range, DateRange { from: day("2026-11-01"), to: day("2026-11-28") });
    assert!(q.filters.is_empty());
    assert!(q.to_query_string().contains("range=mtd"));
    let lm = SpendQuery::parse(&pairs("range=last_month"), day("2026-03-15")).unwrap();
    assert_eq!(lm.range, DateRange { from: day("2026-02-01"), to: day("2026-02-28") });
    let custom = SpendQuery::parse(&pairs("range=custom&from=2026-11-01&to=2026-11-02"), day("2026-11-28"));
    assert_eq!(custom.unwrap().preset, None);
}

#[test]
fn form_tag_inputs_become_canonical_parameters() {
    let q = SpendQuery::parse(&pairs("group=tag&group_tag=project&tag_filter=env%3Dprod"), day("2026-11-28"))
        .unwrap();
    assert_eq!(q.group, Some(Dim::Tag("project".into())));
    assert_eq!(q.filter_values(&Dim::Tag("env".into())).unwrap(), ["prod"]);
    let qs = q.to_query_string();
    assert!(qs.contains("group=tag%3Aproject") && qs.contains("tag.env=prod"), "{qs}");
}

#[test]
fn bad_parameters_are_named() {
    let today = day("2026-11-28");
    let err = |qs: &str| SpendQuery::parse(&pairs(qs), today).unwrap_err().to_string();
    assert!(err("group=colour").starts_with("group: unknown dimension 'colour'"));
    assert!(err("metric=vibes").starts_with("metric: unknown metric"));
    assert!(err("gran=minute").starts_with("gran: unknown granularity"));
    assert!(err("colour=red").starts_with("colour: unknown parameter"));
    assert!(err("source=cash").starts_with("source:"));
    assert!(err("range=fortnight").starts_with("range: unknown preset"));
    assert!(err("from=2026-13-01").starts_with("from:"));
    assert!(err("gran=hour&range=30d").starts_with("gran: hourly buckets cover at most 14 days"));
    assert!(err("group=tag%3Aa%22b").starts_with("group: a tag key"));
    assert!(err("group=tag").starts_with("group_tag:"));
    assert!(err("tag_filter=novalue").starts_with("tag_filter:"));
    assert!(err("sort=colour").starts_with("sort: cannot sort by 'colour'"));
}

#[test]
fn rollups_serve_views_that_touch_one_dimension() {
    let today = day("2026-11-28");
    let plan = |qs: &str| SpendQuery::parse(&pairs(qs), today).unwrap().rollup_plan();
    let p = plan("group=team&team=a&team=(not set)&source=tokens").unwrap();
    assert_eq!(p.dim, "team");
    assert_eq!(p.values, Some(vec!["a".to_string(), String::new()]));
    assert_eq!(p.sources, Some(vec!["tokens".to_string()]));
    assert_eq!(plan("group=source").unwrap().dim, "total");
    assert_eq!(plan("group=none&model=gpt-4o").unwrap().dim, "model");
    assert_eq!(plan("group=model&team=a"), None);
    assert_eq!(plan("group=service_tier"), None);
    assert_eq!(plan("group=tag:x"), None);
}

#[test]
fn buckets_follow_the_granularity() {
    let r = DateRange { from: day("2026-11-01"), to: day("2026-11-30") };
    assert_eq!(Granularity::Day.buckets(r).len(), 30);
    // 1 Nov 2026 is a Sunday: its week starts on Monday 26 Oct
    let weeks = Granularity::Week.buckets(r);
    assert_eq!(Granularity::Week.label_of(weeks[0]), "2026-10-26");
    assert_eq!(weeks.len(), 6);
    let months = Granularity::Month.buckets(DateRange { from: day("2026-10-15"), to: day("2026-11-02") });
    assert_eq!(
        months.iter().map(|b| Granularity::Month.label_of(*b)).collect::<Vec<_>>(),
        ["2026-10", "2026-11"]
    );
    let hours = Granularity::Hour.buckets(DateRange { from: day("2026-11-01"), to: day("2026-11-01") });
    assert_eq!(hours.len(), 24);
    assert_eq!(Granularity::Hour.label_of(hours[23]), "2026-11-01 23:00");
}

#[test]
fn view_sums_rows_into_buckets_groups_and_total_exactly() {
    let today = day("2026-11-28");
    let q = SpendQuery::parse(&pairs("group=team&from=2026-11-02&to=2026-11-15&gran=week"), today).unwrap();
    let d = |s| day_seconds(day(s));
    let rows = vec![
        SpendRow { bucket: d("2026-11-02"), group: "a".into(), sums: sums(1_000_000_001, 2, 10, 5) },
        SpendRow { bucket: d("2026-11-08"), group: "a".into(), sums: sums(2, 1, 1, 1) },
        SpendRow { bucket: d("2026-11-09"), group: "".into(), sums: sums(7, 0, 0, 0) },
        // outside the range: ignored
        SpendRow { bucket: d("2026-11-20"), group: "a".into(), sums: sums(99, 1, 1, 1) },
    ];
    let v = SpendView::build(q, &rows, true);
    assert_eq!(v.buckets.len(), 2);
    assert_eq!(v.table[0].group, "a");
    assert_eq!(v.table[0].sums.cost_nanos, 1_000_000_003);
    assert_eq!(v.table[1].group, NOT_SET);
    assert_eq!(v.total.cost_nanos, 1_000_000_010);
    assert_eq!(v.series[0].values[0].cost_nanos, 1_000_000_003);
    assert_eq!(v.series[1].values[1].cost_nanos, 7);
    let csv = v.table_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "team,cost_nanos,share_pct,cost_usd,requests,input_tokens,output_tokens,cached_tokens,cost_per_request_usd,cost_per_1k_tokens_usd"
    );
    assert_eq!(lines[1], "a,1000000003,100.0,1.00,3,11,6,0,0.333333,58.823530");
    assert_eq!(lines[2], "(not set),7,0.0,0.00,0,0,0,0,,");
    assert_eq!(lines[3], "Total,1000000010,100.0,1.00,3,11,6,0,0.333333,58.823530");
}

#[test]
fn chart_keeps_the_top_groups_and_sums_the_rest_into_other() {
    let q = SpendQuery::parse(&pairs("group=customer&range=7d"), day("2026-11-28")).unwrap();
    let rows: Vec<SpendRow> = (0..12)
        .map(|i| SpendRow {
            bucket: day_seconds(day("2026-11-27")),
            group: format!("c{i:02}"),
            sums: sums(i + 1, 1, 0, 0),
        })
        .collect();
    let v = SpendView::build(q, &rows, false);
    assert_eq!(v.table.len(), 12);
    assert_eq!(v.series.len(), CHART_SERIES + 1);
    assert_eq!(v.series[0].name, "c11");
    let other: i64 = v.series[CHART_SERIES].values.iter().map(|s| s.cost_nanos).sum();
    assert_eq!(other, 1 + 2 + 3 + 4);
    assert_eq!(v.series[CHART_SERIES].name, "Other (4 groups)");
}

#[test]
fn ratios_round_half_away_from_zero_and_have_no_value_without_a_denominator() {
    assert_eq!(Metric::CostPerRequest.of(&sums(5, 2, 0, 0)), Figure::Money(Nanos(3)));
    assert_eq!(Metric::CostPerRequest.of(&sums(5, 0, 0, 0)), Figure::None);
    assert_eq!(Metric::CostPer1kTokens.of(&sums(1, 0, 1500, 500)), Figure::Money(Nanos(1)));
    assert_eq!(Figure::Money(Nanos(1_234_567)).display(Metric::CostPerRequest), "$0.001235");
    assert_eq!(Figure::Money(Nanos(1_234_567_890)).display(Metric::Cost), "$1.23");
}

#[test]
fn encoding_round_trips() {
    let p = vec![("tag.a b".to_string(), "x&y=z%ü".to_string())];
    assert_eq!(decode_pairs(&encode_pairs(&p)), p);
}
