//! The monitor's commands: `stats`, `report`, `health` (its exit status is the level),
//! `suggest`, and `monitor` (periodic checks and Prometheus metrics on GET /metrics until
//! Ctrl-C or SIGTERM).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use objstore::monitor::{Action, CheckOutcome, Health, Monitor, Statistics};
use serde_json::Value;

use crate::commands::Ctx;
use crate::exit::{self, CliResult, Failure};
use crate::invocation::{Mode, command};
use crate::output::{self, Align, Table};

/// Problems listed by `stats` for people (--json lists every one).
const PROBLEMS_SHOWN: usize = 20;

/// `stats`: usage by category, growth, days until full, and objects the manager cannot use.
pub async fn stats(ctx: &Ctx) -> CliResult<()> {
    let monitor = Monitor::new(ctx.manager.clone());
    let s = monitor.get_statistics().await?;
    let health = judge(ctx, &s);
    let problems = ctx.manager.problems().await?;
    if ctx.json {
        let mut value = to_value(&s)?;
        value["health"] = to_value(&health)?;
        value["problems"] =
            problems.iter().map(|(key, problem)| serde_json::json!({"key": key, "problem": problem})).collect();
        return output::json(&value);
    }
    let mut text = String::new();
    let line = |name: &str, value: String| format!("{name:<14}{value}\n");
    text += &line(
        "Storage used",
        format!(
            "{} of {} ({:.1}%)",
            output::size(s.current_usage_bytes),
            output::size(s.max_storage_bytes),
            s.usage_pct
        ),
    );
    text += &line(
        "Files",
        format!("{} of {} ({:.1}%)", output::thousands(s.files), output::thousands(s.max_files), s.files_pct),
    );
    text += &line("Health", format!("{health:?}").to_lowercase());
    text += &line("Growth", format!("{:.3} GB/day", s.growth_rate_gb_per_day));
    text += &line(
        "Full in",
        s.days_until_full.map_or_else(|| "never at the current rate".into(), |d| format!("~{d:.0} days")),
    );
    text += &line(
        "Expired",
        format!(
            "{} ({}) waiting for `{}`",
            output::count(s.expired_files, "object", None),
            output::size(s.expired_bytes),
            command(Mode::Manager, "cleanup")
        ),
    );
    text += &line(
        "Archive",
        format!("{} ({})", output::count(s.archive.files, "file", None), output::size(s.archive.size_bytes)),
    );
    text += &line(
        "Unmanaged",
        format!(
            "{} ({}) outside the categories",
            output::count(s.unmanaged.files, "object", None),
            output::size(s.unmanaged.size_bytes)
        ),
    );
    if let Some(view) = &s.view {
        text += &line("View", format!("project '{view}' (objects outside it are not counted)"));
    }
    let mut table = Table::new(&[
        ("CATEGORY", Align::Left),
        ("SIZE", Align::Right),
        ("FILES", Align::Right),
        ("QUOTA", Align::Right),
        ("USED", Align::Right),
        ("EXPIRED", Align::Right),
    ]);
    for (category, c) in &s.by_category {
        let (quota, used) = match c.quota_bytes {
            Some(q) => (output::size(q), format!("{:.1}%", objstore::monitor::stats::pct(c.size_bytes, q))),
            None => ("-".into(), "-".into()),
        };
        table.row(vec![
            category.to_string(),
            output::size(c.size_bytes),
            output::thousands(c.files),
            quota,
            used,
            output::thousands(c.expired_files),
        ]);
    }
    if !table.is_empty() {
        text.push('\n');
        text += &table.render();
    }
    if !problems.is_empty() {
        text += &format!(
            "\n{} the manager cannot use (they still count; delete or replace them):\n",
            output::count(problems.len() as u64, "object", None)
        );
        for (key, problem) in problems.iter().take(PROBLEMS_SHOWN) {
            text += &format!("  {key}: {problem}\n");
        }
        if problems.len() > PROBLEMS_SHOWN {
            text += &format!(
                "  ... and {} more (`{}` lists them all)\n",
                problems.len() - PROBLEMS_SHOWN,
                command(Mode::Manager, "--json stats")
            );
        }
    }
    output::text(&text)
}

/// `report`: the "OBJECT STORE STATISTICS" block.
pub async fn report(ctx: &Ctx) -> CliResult<()> {
    let monitor = Monitor::new(ctx.manager.clone());
    let s = monitor.get_statistics().await?;
    let text = objstore::monitor::report::render(&s);
    if ctx.json {
        return output::json(&serde_json::json!({"text": text, "statistics": s}));
    }
    output::text(&text)
}

/// `health`: 0 healthy, 20 warning, 21 critical, 22 full.
pub async fn health(ctx: &Ctx) -> CliResult<u8> {
    let monitor = Monitor::new(ctx.manager.clone());
    let s = monitor.get_statistics().await?;
    let health = judge(ctx, &s);
    let m = &ctx.manager.settings().usage_monitoring;
    if ctx.json {
        output::json(&serde_json::json!({
            "health": health,
            "level": health.level(),
            "usage_pct": s.usage_pct,
            "files_pct": s.files_pct,
            "used_bytes": s.current_usage_bytes,
            "max_storage_bytes": s.max_storage_bytes,
            "files": s.files,
            "max_files": s.max_files,
            "alert_threshold_pct": m.alert_threshold_pct,
            "critical_threshold_pct": m.critical_threshold_pct,
        }))?;
    } else if !ctx.quiet {
        output::text(&format!(
            "{}: {} of {} used ({:.1}%), {} of {} files ({:.1}%); warning at {}%, critical at {}%",
            format!("{health:?}").to_lowercase(),
            output::size(s.current_usage_bytes),
            output::size(s.max_storage_bytes),
            s.usage_pct,
            output::thousands(s.files),
            output::thousands(s.max_files),
            s.files_pct,
            m.alert_threshold_pct,
            m.critical_threshold_pct
        ))?;
    }
    Ok(health_code(health))
}

/// The exit status for a health level.
pub fn health_code(health: Health) -> u8 {
    match health {
        Health::Healthy => 0,
        Health::Warning => exit::HEALTH_WARNING,
        Health::Critical => exit::HEALTH_CRITICAL,
        Health::Full => exit::HEALTH_FULL,
    }
}

/// `suggest`: actions with reasons and the command that does each.
pub async fn suggest(ctx: &Ctx) -> CliResult<()> {
    let monitor = Monitor::new(ctx.manager.clone());
    let suggestions = monitor.suggest_cleanup().await?;
    if ctx.json {
        let actions: Vec<Value> = suggestions
            .actions
            .iter()
            .map(|a| {
                let mut value = to_value(a)?;
                value["command"] = command_for(a).into();
                Ok(value)
            })
            .collect::<CliResult<_>>()?;
        return output::json(&serde_json::json!({"actions": actions}));
    }
    if suggestions.actions.is_empty() {
        return output::text("nothing to suggest: no expired objects, no category over its allocation");
    }
    let mut text = String::new();
    for (i, a) in suggestions.actions.iter().enumerate() {
        let bytes = a.bytes.map(|b| format!(" ({})", output::size(b))).unwrap_or_default();
        text += &format!("{}. {}: {}{bytes}\n", i + 1, a.action, a.reason);
        if !a.keys.is_empty() {
            text += &format!("   keys: {}\n", a.keys.join(" "));
        }
        if let Some(command) = command_for(a) {
            text += &format!("   run: {command}\n");
        } else if a.action == "upgrade_tier" && a.reason.contains(" tier has more room") {
            text += "   do: set \"tier\" (or max_storage_gb and max_files) in the settings file\n";
        } else if a.action == "upgrade_tier" {
            text += "   do: raise the limits named above in the settings file\n";
        }
    }
    output::text(&text)
}

/// The command line that carries out a suggested action, on this store with these settings
/// (none for a tier upgrade: that is an edit of the settings file).
fn command_for(a: &Action) -> Option<String> {
    let category = a.category.as_ref().map(ToString::to_string).unwrap_or_default();
    match a.action.as_str() {
        "cleanup_expired" => Some(command(Mode::Manager, "cleanup")),
        "reduce_category" => Some(command(Mode::Manager, &format!("ls --category {category} --long"))),
        "delete_oldest" => Some(command(
            Mode::Managed,
            &format!("rm {}", a.keys.iter().map(|k| output::shell_word(k)).collect::<Vec<_>>().join(" ")),
        )),
        _ => None,
    }
}

/// `monitor --listen ADDR [--interval DUR]`.
pub async fn monitor(ctx: &Ctx, listen: SocketAddr, interval: Option<Duration>) -> CliResult<()> {
    // Its own operations (listings, header reads) are exported too: the dashboard's operation
    // panels and the operation-error alert work with this process alone.
    let monitor = Monitor::with_operation_metrics(&ctx.manager)?;
    if listen.ip().is_unspecified() {
        output::note(
            ctx.quiet || ctx.json,
            &format!(
                "listening on every interface ({listen}): anyone who can reach this host can read the metrics; \
                 --listen 127.0.0.1:{} keeps them local",
                listen.port()
            ),
        );
    }
    let every = interval.unwrap_or_else(|| monitor.check_interval());
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::PermissionDenied { exit::PERMISSION } else { exit::IO };
        Failure::new(code, format!("cannot listen on {listen}: {e}"))
            .hint("pick a free port, or a local address (--listen 127.0.0.1:9464)")
    })?;
    let addr = listener.local_addr().unwrap_or(listen);
    let url = format!("http://{addr}/metrics");
    if ctx.json {
        let _ = output::json(&serde_json::json!({
            "event": "listening", "metrics_url": url, "interval_seconds": every.as_secs_f64(),
        }));
    } else if !ctx.quiet {
        let _ = output::text(&format!(
            "serving Prometheus metrics on {url}; checking every {} (Ctrl-C stops)",
            humantime::format_duration(every)
        ));
    }
    let checks = async {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match monitor.check().await {
                Ok(outcome) => print_check(ctx, &outcome),
                Err(e) => crate::report(&Failure::from(e)),
            }
        }
    };
    tokio::select! {
        served = monitor.serve_on(listener) => served.map_err(Failure::from),
        () = checks => Ok(()),
        () = shutdown() => {
            tracing::debug!("stopping on a signal");
            output::note(ctx.quiet || ctx.json, "stopped");
            Ok(())
        }
    }
}

/// One line per check (a JSON object with --json); a closed standard output is ignored, the
/// monitor keeps serving.
fn print_check(ctx: &Ctx, outcome: &CheckOutcome) {
    let now = output::time(SystemTime::now());
    if ctx.json {
        if let Ok(mut value) = serde_json::to_value(outcome) {
            value["time"] = now.into();
            let _ = output::json(&value);
        }
        return;
    }
    if ctx.quiet {
        return;
    }
    let s = &outcome.statistics;
    let mut line = format!(
        "{now} {}: {} of {} ({:.1}%), {} of {} files",
        format!("{:?}", outcome.health).to_lowercase(),
        output::size(s.current_usage_bytes),
        output::size(s.max_storage_bytes),
        s.usage_pct,
        output::thousands(s.files),
        output::thousands(s.max_files)
    );
    for action in &outcome.actions {
        line += &format!("; {action}");
    }
    let _ = output::text(&line);
}

/// Resolves on Ctrl-C or SIGTERM (never, when neither can be watched).
async fn shutdown() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                () = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    ctrl_c.await;
}

fn judge(ctx: &Ctx, s: &Statistics) -> Health {
    Health::judge(s.usage_ratio(), ctx.manager.settings())
}

fn to_value(v: &impl serde::Serialize) -> CliResult<Value> {
    serde_json::to_value(v).map_err(|e| Failure::new(exit::IO, format!("cannot encode the output as JSON: {e}")))
}
