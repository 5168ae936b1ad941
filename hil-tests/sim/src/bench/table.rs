//! The report as a table: names and units left, figures right.

use super::Report;

impl Report {
    /// The rows as a Markdown table, header first, one line each.
    #[must_use]
    pub fn table(&self) -> String {
        let header = ["measurement", "unit", "median", "p99", "samples"];
        let cells: Vec<[String; 5]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.name.clone(),
                    r.unit.into(),
                    figure(r.median),
                    r.p99.map_or("-".into(), figure),
                    r.samples.to_string(),
                ]
            })
            .collect();
        let mut width = header.map(str::len);
        for row in &cells {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.len());
            }
        }
        let line = |cols: [&str; 5]| {
            let mut s = String::from("|");
            for (i, (c, w)) in cols.iter().zip(width).enumerate() {
                if i < 2 {
                    s.push_str(&format!(" {c:<w$} |"));
                } else {
                    s.push_str(&format!(" {c:>w$} |"));
                }
            }
            s.push('\n');
            s
        };
        let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
        let mut out = line(header);
        out.push_str(&line([&rule[0], &rule[1], &rule[2], &rule[3], &rule[4]]));
        for row in &cells {
            out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
        }
        out
    }
}

/// Whole units from 100 up and one decimal below: finer digits are noise.
fn figure(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}
