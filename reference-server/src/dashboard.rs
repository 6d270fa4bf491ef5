//! The browser dashboard (`examples/dashboard`), served as static files at
//! `/dashboard/` on the public listener.
//!
//! Served from the same origin as the read API, the page needs no CORS. It
//! holds no secrets: it asks its user for the read token and verifies every
//! reading itself with the WASM package.

use std::path::Path;

use rocket::fairing::AdHoc;
use rocket::fs::{FileServer, Options};
use rocket::http::Header;
use rocket::{Build, Rocket};

/// What the page may load: its own scripts, styles and the WASM module
/// (`wasm-unsafe-eval` permits compiling WebAssembly, nothing else).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'";

/// Mounts the files of `dir` at `/dashboard/` with a strict content policy.
pub fn mount(rocket: Rocket<Build>, dir: &Path) -> Rocket<Build> {
    rocket
        // NormalizeDirs redirects `/dashboard` to `/dashboard/`: the page's
        // relative links need the slash.
        .mount(
            "/dashboard",
            FileServer::new(dir, Options::Index | Options::NormalizeDirs),
        )
        .attach(AdHoc::on_response("dashboard headers", |req, res| {
            Box::pin(async move {
                if req.uri().path().starts_with("/dashboard") {
                    res.set_header(Header::new(
                        "Content-Security-Policy",
                        CONTENT_SECURITY_POLICY,
                    ));
                    res.set_header(Header::new("X-Content-Type-Options", "nosniff"));
                    res.set_header(Header::new("Referrer-Policy", "no-referrer"));
                }
            })
        }))
}
