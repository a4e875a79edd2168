//! A manager that counts what it asks of the store: requests by operation (the operation-metrics
//! layer's counters), value bytes read, and file paths asked for (the hook layer).

#![allow(dead_code)]

use store_manager::{Manager, Settings};
use store_metrics::OperationMetrics;

use super::Env;
use super::hook::Hooks;

/// The operations a request to the storage can be (a cache hit, `get_ready`, is not one).
const OPS: [&str; 11] = [
    "put",
    "put_stream",
    "get",
    "get_range",
    "get_stream",
    "head",
    "delete",
    "list",
    "list_keys",
    "usage",
    "local_path",
];

/// A counted manager over the case's storage, with the case's clock.
pub struct Counted {
    pub manager: Manager,
    pub ops: OperationMetrics,
    pub hooks: Hooks,
}

impl Counted {
    /// Default settings, no index snapshot: every cold start scans.
    pub async fn scanning(env: &Env) -> Counted {
        Counted::with(env, Settings::default(), false).await
    }

    /// Default settings and the default snapshots (as a new process has).
    pub async fn new(env: &Env) -> Counted {
        Counted::with(env, Settings::default(), true).await
    }

    pub async fn with(env: &Env, settings: Settings, snapshots: bool) -> Counted {
        let registry = store_metrics::prometheus::Registry::new();
        let ops = OperationMetrics::new(&registry).unwrap();
        let hooks = Hooks::default();
        let store = hooks.builder(&env.url).layer(ops.layer()).build().await.unwrap();
        let manager = Manager::with_clock(store, settings, env.clock.clone());
        if !snapshots {
            manager.set_index_snapshots(None);
        }
        Counted { manager, ops, hooks }
    }

    /// Value bytes every read returned so far.
    pub fn read_bytes(&self) -> u64 {
        ["get", "get_ready", "get_range", "get_stream"]
            .iter()
            .map(|op| self.ops.read_bytes().with_label_values(&[op]).get())
            .sum()
    }

    /// Requests of one operation so far (every result).
    pub fn count(&self, op: &str) -> u64 {
        ["ok", "not_found", "error"].iter().map(|r| self.ops.operations().with_label_values(&[op, r]).get()).sum()
    }

    /// Requests so far, every operation (a listing counts once, whatever its pages).
    pub fn requests(&self) -> u64 {
        OPS.iter().map(|op| self.count(op)).sum()
    }
}
