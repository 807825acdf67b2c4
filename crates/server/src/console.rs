//! The web console: one page and its static assets (plain HTML, CSS and JavaScript modules, no
//! build step), embedded into the binary and served by `pilotlight serve` next to the API.
//!
//! - `GET /` and `GET /index.html`: the page (a single-page app with hash routes).
//! - `GET /assets/{name}`: a stylesheet, script module or icon.
//!
//! Every response carries a strict `Content-Security-Policy` (scripts and styles only from this
//! origin, nothing inline, no framing), `X-Content-Type-Options: nosniff`, `no-referrer`, and
//! `Cache-Control: no-cache` with a strong `ETag`: browsers revalidate (a 304 on loopback costs
//! next to nothing) and never run an old script after an upgrade.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The Content-Security-Policy of every console response: only this origin's scripts, styles,
/// images and API; no inline script or style, no plugins, no framing, no foreign form targets.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    /// Its name under `/assets/` (or `index.html`).
    name: &'static str,
    /// Its media type.
    content_type: &'static str,
    /// Its bytes.
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../assets/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

/// Everything the console serves.
static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("console.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("views.js", JS),
    asset!("plan.js", JS),
    asset!("dialog.js", JS),
];

/// Strong ETags of the assets, by position in [`ASSETS`].
static ETAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = Sha256::digest(a.body);
            HeaderValue::from_str(&format!("\"{}\"", hex::encode(&digest[..12])))
                .expect("a hex ETag is a valid header value")
        })
        .collect()
});

/// The console's routes; the API router merges them (any state type).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/assets/{name}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    if name == "index.html" {
        return not_found();
    }
    serve(&name, &headers)
}

fn not_found() -> Response {
    let mut r = (StatusCode::NOT_FOUND, "no such console asset\n").into_response();
    security_headers(r.headers_mut());
    r
}

fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn serve(name: &str, request: &HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return not_found();
    };
    let (a, etag) = (&ASSETS[i], &ETAGS[i]);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == etag.to_str().unwrap_or(""))
        });
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = a.body.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(a.content_type),
        );
        r
    };
    let h = r.headers_mut();
    h.insert(header::ETAG, etag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    security_headers(h);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(path: &str, if_none_match: Option<&str>) -> Response {
        let mut req = Request::get(path);
        if let Some(t) = if_none_match {
            req = req.header(header::IF_NONE_MATCH, t);
        }
        routes::<()>()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn header_of(r: &Response, name: header::HeaderName) -> &str {
        r.headers()
            .get(&name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .to_str()
            .unwrap()
    }

    async fn body(r: Response) -> String {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn every_route_has_its_content_type_csp_and_cache_policy() {
        for (path, ty) in [
            ("/", "text/html; charset=utf-8"),
            ("/index.html", "text/html; charset=utf-8"),
            ("/assets/app.js", JS),
            ("/assets/views.js", JS),
            ("/assets/console.css", "text/css; charset=utf-8"),
            ("/assets/icon.svg", "image/svg+xml"),
        ] {
            let r = get(path, None).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(header_of(&r, header::CONTENT_TYPE), ty, "{path}");
            let csp = header_of(&r, header::CONTENT_SECURITY_POLICY);
            assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-eval"), "{path}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            assert_eq!(header_of(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
            assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-cache");
            assert!(header_of(&r, header::ETAG).starts_with('"'));
        }
    }

    #[tokio::test]
    async fn unknown_assets_are_404_and_the_page_is_not_an_asset() {
        for path in [
            "/assets/nope.js",
            "/assets/index.html",
            "/assets/..%2Fsrc%2Flib.rs",
        ] {
            let r = get(path, None).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
            assert!(r.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        }
    }

    #[tokio::test]
    async fn a_matching_etag_revalidates_without_a_body() {
        let r = get("/assets/app.js", None).await;
        let etag = header_of(&r, header::ETAG).to_string();
        let again = get("/assets/app.js", Some(&etag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert!(body(again).await.is_empty());
        let other = get("/assets/app.js", Some("\"stale\"")).await;
        assert_eq!(other.status(), StatusCode::OK);
        assert!(!body(other).await.is_empty());
    }

    /// The page loads its script as a module from this origin and has no inline script or
    /// style (which the CSP would block anyway, silently breaking the console).
    #[tokio::test]
    async fn the_page_has_no_inline_script_or_style() {
        let html = body(get("/", None).await).await;
        assert!(html.contains(r#"<script type="module" src="/assets/app.js"></script>"#));
        assert!(html.contains(r#"<meta name="viewport""#), "phone-readable");
        for bad in ["<style", " style=", "onclick=", "onload=", "javascript:"] {
            assert!(!html.contains(bad), "inline `{bad}` in index.html");
        }
        assert_eq!(html.matches("<script").count(), 1);
        for a in ASSETS.iter().filter(|a| a.content_type == JS) {
            let js = std::str::from_utf8(a.body).unwrap();
            for bad in ["eval(", "new Function", ".innerHTML", "insertAdjacentHTML"] {
                assert!(!js.contains(bad), "`{bad}` in {}", a.name);
            }
        }
    }
}
