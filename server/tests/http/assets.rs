//! Weight: the hashed bundle is cached for a year, other files are revalidated, static files
//! go out precompressed and pages compressed on the fly.
use super::*;
use std::io::Write;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
    out
}

#[tokio::test]
pub(crate) async fn static_files_are_cached_by_name_and_sent_compressed() {
    let t = TestDb::sqlite().await;
    let app = app_with_events(&t.db).await;
    let site = std::env::temp_dir().join(format!("costroom-site-{}", std::process::id()));
    let wasm: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
    let name = "pkg/costroom.0123456789abcdef0123.wasm";
    std::fs::write(site.join(name), &wasm).unwrap();
    std::fs::write(site.join(format!("{name}.gz")), gzip(&wasm)).unwrap();

    let req =
        |uri: &str, enc: &str| Request::get(uri).header("accept-encoding", enc).body(Body::empty()).unwrap();
    let res = app.clone().oneshot(req(&format!("/{name}"), "gzip")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(res.headers()["content-encoding"], "gzip", "the .gz beside it");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert!(body.len() < wasm.len() / 4, "{} bytes sent for {}", body.len(), wasm.len());
    assert_eq!(gunzip(&body), wasm, "exactly the file once decoded");
    // a browser that takes no compression gets the file itself
    let res = app.clone().oneshot(req(&format!("/{name}"), "identity")).await.unwrap();
    assert!(res.headers().get("content-encoding").is_none());
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes().len(), wasm.len());
    // an unhashed name is revalidated instead
    let res = app.clone().oneshot(req("/pkg/costroom.css", "gzip")).await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert!(res.headers().contains_key("last-modified"));

    // a page is compressed on its way out
    let cookie = sign_in(&app, VIEWER, PASSWORD, None).await.expect("signed in");
    let page = with_cookie(
        Request::get("/spend")
            .header("accept", "text/html")
            .header("accept-encoding", "gzip")
            .body(Body::empty())
            .unwrap(),
        &cookie,
    );
    let res = app.clone().oneshot(page).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let html = String::from_utf8(gunzip(&body)).unwrap();
    assert!(html.contains("data-testid=\"spend-title\""), "the explorer, decoded");

    // a streamed export is compressed too, and ends cleanly: the compressor polls the body
    // once more after its end, which a bare unfold stream answers with a panic
    let export = with_cookie(
        Request::get("/ledger/focus.csv?from=2026-10-01&to=2026-11-30")
            .header("accept-encoding", "gzip")
            .body(Body::empty())
            .unwrap(),
        &cookie,
    );
    let res = app.clone().oneshot(export).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let csv = String::from_utf8(gunzip(&body)).unwrap();
    assert!(csv.starts_with("BillingAccountId,BillingAccountName"), "{}", &csv[..csv.len().min(200)]);
    assert!(csv.lines().count() > 1, "rows follow the header");
    t.finish().await;
}
