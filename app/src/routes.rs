//! The HTML shell and the route table.
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode, StaticSegment};

use crate::components::{AlertsChanged, Nav};
use crate::pages::{
    AccountPage, AlertsPage, AnomaliesListPage, AnomalyPage, ApiKeysPage, AuditLogPage, BillingImportsPage,
    BudgetPage, BudgetsListPage, CoveragePage, ForecastAccuracyPage, GatewayPage, GuardrailsPage,
    InitiativePage, InitiativesListPage, KpisPage, LedgerPage, MaturityChecklistPage, NotFoundPage,
    OverviewPage, PeoplePage, PriceBookPage, ReviewDetailPage, ReviewsListPage, ScopePage, SettingsPage,
    SetupPage, SignInPage, SpendPage, TeamsPage, TracePage, TracesListPage, WebhooksPage,
};

/// Redraws every chart at its container's new width, a tenth of a second after resizing stops.
const RESIZE_CHARTS: &str = "addEventListener('resize',function(){clearTimeout(window.__crz);\
window.__crz=setTimeout(function(){document.querySelectorAll('.echart').forEach(function(el){\
var c=window.echarts&&echarts.getInstanceByDom(el);if(c)c.resize();});},100);});";

/// Draws a chart from the option JSON the server built (`charts::ChartSpec`); false while its
/// container is not in the document. The money tooltip is named in the JSON and written here:
/// dollars with cents, as the axis and the tables show them (ECharts would print `12.5`).
const DRAW_CHART: &str = "window.costroomChart=function(id,json,h){var el=document.getElementById(id);\
if(!el||!window.echarts)return false;var o=JSON.parse(json);\
if(o.tooltip&&o.tooltip.valueFormatter==='money')o.tooltip.valueFormatter=function(v){\
return v==null?'—':(v<0?'−$':'$')+Math.abs(Number(v)).toLocaleString('en-US',\
{minimumFractionDigits:2,maximumFractionDigits:2});};\
var c=echarts.getInstanceByDom(el)||echarts.init(el,null,{height:h});c.setOption(o,true);return true;};";

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // ECharts must be loaded before hydration runs chart effects; self-hosted
                // (from the npm registry by setup.sh), never a CDN.
                <script src="/vendor/echarts.min.js"></script>
                // charts are drawn at their container's width: redraw them to size when the
                // window changes (a rotated phone, a resized window)
                <script inner_html=RESIZE_CHARTS></script>
                <script inner_html=DRAW_CHART></script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_context(AlertsChanged(RwSignal::new(0)));
    view! {
        <Stylesheet id="leptos" href="/pkg/costroom.css"/>
        <Title text="Costroom"/>
        <Router>
            <a class="skip-link" href="#main">"Skip to the content"</a>
            <Nav/>
            <main id="main" tabindex="-1">
                <Routes fallback=NotFoundPage>
                    // Async: the whole page, figures included, arrives as plain HTML, which
                    // is what a browser without JavaScript needs.
                    <Route path=StaticSegment("") view=OverviewPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("signin") view=SignInPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("setup") view=SetupPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("spend") view=SpendPage ssr=SsrMode::Async/>
                    <Route path=path!("/spend/:dim/:value") view=ScopePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("traces") view=TracesListPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("kpis") view=KpisPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("coverage") view=CoveragePage ssr=SsrMode::Async/>
                    <Route path=path!("/traces/:id") view=TracePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("ledger") view=LedgerPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("budgets") view=BudgetsListPage ssr=SsrMode::Async/>
                    <Route path=path!("/alerts") view=AlertsPage ssr=SsrMode::Async/>
                    <Route path=path!("/budgets/accuracy") view=ForecastAccuracyPage ssr=SsrMode::Async/>
                    <Route path=path!("/budgets/:id") view=BudgetPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("initiatives") view=InitiativesListPage ssr=SsrMode::Async/>
                    <Route path=path!("/initiatives/:id") view=InitiativePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("anomalies") view=AnomaliesListPage ssr=SsrMode::Async/>
                    <Route path=path!("/anomalies/:id") view=AnomalyPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("guardrails") view=GuardrailsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("reviews") view=ReviewsListPage ssr=SsrMode::Async/>
                    <Route path=path!("/reviews/:id") view=ReviewDetailPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("maturity") view=MaturityChecklistPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("settings") view=SettingsPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/people") view=PeoplePage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/teams") view=TeamsPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/keys") view=ApiKeysPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/audit") view=AuditLogPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/prices") view=PriceBookPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/imports") view=BillingImportsPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/webhooks") view=WebhooksPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/gateway") view=GatewayPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("account") view=AccountPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
