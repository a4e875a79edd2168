//! The `/metrics` endpoint (axum).

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::monitor::Monitor;

/// Serves the router on `listener` until it fails.
pub async fn run(monitor: Monitor, listener: tokio::net::TcpListener) -> Result<(), String> {
    let app = Router::new().route("/metrics", get(metrics)).with_state(monitor);
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

async fn metrics(axum::extract::State(monitor): axum::extract::State<Monitor>) -> impl IntoResponse {
    match monitor.metrics_text().await {
        Ok(text) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text),
        Err(e) => {
            (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{e}\n"))
        }
    }
}
