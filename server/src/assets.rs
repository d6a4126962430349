//! Static site files. The hydration bundle carries its content hash in its name
//! (`/pkg/costroom.<hash>.{js,wasm}`, listed in `pkg/hash.txt` by the build), so it is cached
//! for a year; every other file is revalidated (`no-cache` + `Last-Modified`). A `.br` or
//! `.gz` left beside a file by the build is served to browsers that accept it, so the 1 MB
//! of ECharts and the WASM are compressed once at build time, not on every request.
use std::path::{Path, PathBuf};

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use leptos::prelude::LeptosOptions;
use tower_http::services::ServeDir;

/// The file (under the site's `pkg/`) in which the build lists the bundle's hashes.
pub const HASH_FILE: &str = "hash.txt";

/// Turns on leptos' hashed bundle names when the build wrote `pkg/hash.txt`. Leptos looks for
/// the file beside the executable; an absolute path makes it look in the site instead.
pub fn use_hashed_names(options: &mut LeptosOptions) -> bool {
    let file = PathBuf::from(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref()).join(HASH_FILE);
    let Ok(file) = std::fs::canonicalize(file) else { return false };
    options.hash_files = true;
    options.hash_file = file.to_string_lossy().as_ref().into();
    true
}

/// Routes for the site's static directories (`/pkg`, `/vendor`) with their cache headers.
pub fn routes<S: Clone + Send + Sync + 'static>(site_root: &Path) -> Router<S> {
    let dir = |d: &str| ServeDir::new(site_root.join(d)).precompressed_br().precompressed_gzip();
    Router::new()
        .nest_service("/pkg", dir("pkg"))
        .nest_service("/vendor", dir("vendor"))
        .layer(middleware::from_fn(cache_headers))
}

/// `costroom.<hex>.js` / `.wasm`: a name that changes whenever the content does.
pub fn is_fingerprinted(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    let mut parts = name.split('.');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(_), Some(hash), Some("js" | "wasm"), None)
            if hash.len() >= 8 && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    )
}

async fn cache_headers(req: Request, next: Next) -> Response {
    let immutable = is_fingerprinted(req.uri().path());
    let mut res = next.run(req).await;
    if res.status().is_success() || res.status() == axum::http::StatusCode::NOT_MODIFIED {
        let value = if immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_bundle_names_are_cached_for_good() {
        assert!(is_fingerprinted("/pkg/costroom.3f9a1c0d2b7e4a55.wasm"));
        assert!(is_fingerprinted("/pkg/costroom.3f9a1c0d2b7e4a55.js"));
        assert!(!is_fingerprinted("/pkg/costroom.wasm"));
        assert!(!is_fingerprinted("/pkg/costroom.css"));
        assert!(!is_fingerprinted("/vendor/echarts.min.js"), "'min' is no hash");
        assert!(!is_fingerprinted("/pkg/costroom.3f9a1c0d2b7e4a55.wasm.br"));
    }
}
