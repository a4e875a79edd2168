//! The `/metrics` endpoint (axum): answers with [`Monitor::scrape`] (recent figures, shared
//! scans, bounded waiting; see `scrape.rs`).
//!
//! Invariant: an error is logged, never sent: the answer to a failed scrape names no path, no
//! endpoint, no key (the scrape is unauthenticated).

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::monitor::Monitor;
use crate::scrape::ScrapeError;

const TEXT: &str = "text/plain; charset=utf-8";

/// Serves the router on `listener` until it fails.
pub async fn run(monitor: Monitor, listener: tokio::net::TcpListener) -> Result<(), String> {
    let app = Router::new().route("/metrics", get(metrics)).with_state(monitor);
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

async fn metrics(axum::extract::State(monitor): axum::extract::State<Monitor>) -> impl IntoResponse {
    match monitor.scrape().await {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text),
        Err(ScrapeError::Busy) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, TEXT)],
            "too many scrapes are waiting for the store's figures; retry later\n".to_string(),
        ),
        Err(ScrapeError::Failed(e)) => {
            tracing::error!("a scrape of /metrics failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, TEXT)],
                "the monitor could not gather the store's figures; its log says why\n".to_string(),
            )
        }
    }
}
