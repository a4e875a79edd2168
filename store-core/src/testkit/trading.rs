//! Test data shaped like a trading bot's state: the manager's tests and benches compress, store
//! and search it.

use serde_json::{Value, json};

/// A trading-state snapshot of roughly `bytes` bytes of JSON: positions with prices and Greeks,
/// as the seed's bots save them (compresses like real data: repetitive keys, varied numbers).
pub fn trading_json(bytes: usize) -> Value {
    let mut positions = serde_json::Map::new();
    let mut i = 0u64;
    let mut size = 0;
    while size < bytes {
        let x = (i.wrapping_mul(2_654_435_761) % 10_000) as f64;
        let symbol = format!("SPY 250117C{:05}", 400 + i % 300);
        let position = json!({
            "quantity": (i % 17) as i64 - 8,
            "avg_price": 4.0 + x / 1000.0,
            "last_price": 4.1 + x / 997.0,
            "greeks": {"delta": x / 10_000.0, "gamma": x / 250_000.0, "theta": -x / 40_000.0, "vega": x / 30_000.0},
            "iv": 0.15 + x / 100_000.0,
            "opened": format!("2025-01-{:02}T{:02}:{:02}:00Z", 1 + i % 28, 9 + i % 7, i % 60),
        });
        size += symbol.len() + position.to_string().len() + 4;
        positions.insert(format!("{symbol} #{i}"), position);
        i += 1;
    }
    json!({"timestamp": "2025-01-15T16:00:00Z", "equity": 101_250.75, "positions": positions,
           "circuit_breaker": {"tripped": false, "daily_loss": -312.5}})
}
