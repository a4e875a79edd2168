//! The seed's "OBJECT STORE STATISTICS" block, and the one-line log form. Rows: each category,
//! then what lies outside them (unmanaged) and the archive; a view, when the manager has one, is
//! named first.

use std::fmt::Write;

use crate::stats::{GB, MB, Statistics};

/// `Object Store: 2.35/5.00GB (47.0%)` and `Files: 12,543/50,000`, as the seed logs them.
pub fn log_lines(s: &Statistics) -> String {
    format!(
        "Object Store: {:.2}/{:.2}GB ({:.1}%)\nFiles: {}/{}",
        s.current_usage_gb,
        s.max_storage_bytes as f64 / GB,
        s.usage_pct,
        thousands(s.files),
        thousands(s.max_files)
    )
}

/// The final report block.
pub fn render(s: &Statistics) -> String {
    let rule = "=".repeat(50);
    let mut out = String::new();
    let _ = writeln!(out, "{rule}\nOBJECT STORE STATISTICS\n{rule}");
    if let Some(view) = &s.view {
        let _ = writeln!(out, "View: project '{view}' (objects outside it are not counted)");
    }
    let _ = writeln!(
        out,
        "Storage Used: {:.2}GB / {:.2}GB ({:.1}%)",
        s.current_usage_gb,
        s.max_storage_bytes as f64 / GB,
        s.usage_pct
    );
    let _ = writeln!(out, "Files: {} / {}", thousands(s.files), thousands(s.max_files));
    let _ = writeln!(out, "Growth Rate: {:.3}GB/day", s.growth_rate_gb_per_day);
    match s.days_until_full {
        Some(days) => {
            let _ = writeln!(out, "Days Until Full: ~{} days", thousands(days.round() as u64));
        }
        None => {
            let _ = writeln!(out, "Days Until Full: never at the current rate (not growing)");
        }
    }
    let _ = writeln!(out, "Storage by Category:");
    for (category, c) in &s.by_category {
        let quota = match c.quota_bytes {
            Some(q) => format!(", quota {}MB", mb_with_commas(q as f64 / MB)),
            None => String::new(),
        };
        let _ = writeln!(out, "  {category}: {}MB ({} files{quota})", mb_with_commas(c.size_mb), thousands(c.files));
    }
    if s.unmanaged.files > 0 {
        let _ = writeln!(
            out,
            "  (unmanaged): {}MB ({} files)",
            mb_with_commas(s.unmanaged.size_mb),
            thousands(s.unmanaged.files)
        );
    }
    if s.archive.files > 0 {
        let _ = writeln!(
            out,
            "  (archive): {}MB ({} files)",
            mb_with_commas(s.archive.size_mb),
            thousands(s.archive.files)
        );
    }
    out
}

/// `12543` -> `12,543`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1123.2` -> `1,123.2`.
fn mb_with_commas(mb: f64) -> String {
    let tenths = (mb * 10.0).round() as u64;
    format!("{}.{}", thousands(tenths / 10), tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_the_seed() {
        assert_eq!(thousands(12_543), "12,543");
        assert_eq!(thousands(50_000), "50,000");
        assert_eq!(thousands(7), "7");
        assert_eq!(mb_with_commas(1123.24), "1,123.2");
        assert_eq!(mb_with_commas(234.5), "234.5");
    }
}
