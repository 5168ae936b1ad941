//! The status as a person reads it: aligned tables, one line per node,
//! group, link and recent event.

use std::fmt::Write as _;

use warden_control::{AgentStatus, ClusterStatus, FenceHistory};

/// Columns padded to the widest cell, separated by two spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in width.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let padded: Vec<String> = cells.iter().zip(&width).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = line(header.iter().map(ToString::to_string).collect());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.clone()));
        out.push('\n');
    }
    out
}

/// Milliseconds as `0.123s`, `12.3s`, `4m05s` or `2h03m`.
#[must_use]
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    if s < 10 {
        format!("{}.{:03}s", s, ms % 1000)
    } else if s < 60 {
        format!("{}.{}s", s, (ms % 1000) / 100)
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s / 60) % 60)
    }
}

fn dash(b: bool, word: &str) -> String {
    if b {
        word.to_string()
    } else {
        "-".to_string()
    }
}

/// The whole status: the cluster as the controller sees it (when it could
/// be asked), then this node's agent.
#[must_use]
pub fn status(agent: &AgentStatus, cluster: Result<&ClusterStatus, &str>) -> String {
    let mut out = String::new();
    let beat = agent.last_beat_age_ms.map_or("never".to_string(), |ms| format!("{} ago", age(ms)));
    let _ = writeln!(
        out,
        "cluster {}: asked through {}'s agent (pid {}, up {}); controller session {}, last beat {}, role {}",
        agent.cluster,
        agent.node,
        agent.pid,
        age(agent.uptime_ms),
        if agent.connected { "up" } else { "DOWN" },
        beat,
        agent.role.as_deref().unwrap_or("-"),
    );
    if agent.silent {
        out.push_str("CONTROLLER SILENT: this node keeps what it holds and acquires nothing\n");
    }
    match cluster {
        Ok(c) => {
            let _ = writeln!(out, "controller up {}\n", age(u64::from(c.controller_uptime_s) * 1000));
            out.push_str(&nodes(c));
            out.push('\n');
            let rows: Vec<Vec<String>> = c
                .groups
                .iter()
                .map(|g| {
                    let here = agent.groups.iter().find(|s| s.name == g.name);
                    let mut row = group_row(g);
                    row.push(here_state(agent, &g.name, here.is_some_and(|s| s.eligible)));
                    row
                })
                .collect();
            let here = format!("ON {}", agent.node);
            out.push_str(&table(&["GROUP", "PLACED ON", "MOVE", &here], &rows));
        }
        Err(why) => {
            let _ = writeln!(out, "the controller's view is not available: {why}\n");
            let rows: Vec<Vec<String>> =
                agent.groups.iter().map(|g| vec![g.name.clone(), here_state(agent, &g.name, g.eligible)]).collect();
            let here = format!("ON {}", agent.node);
            out.push_str(&table(&["GROUP", &here], &rows));
        }
    }
    out.push('\n');
    let rows: Vec<Vec<String>> = agent
        .links
        .iter()
        .map(|l| {
            vec![
                l.name.clone(),
                if l.open { "open".to_string() } else { format!("CLOSED ({})", l.error.as_deref().unwrap_or("?")) },
                l.sent.to_string(),
                l.received.to_string(),
                l.rejected.to_string(),
                l.last_frame_age_ms.map_or("-".to_string(), age),
            ]
        })
        .collect();
    let links = format!("LINK ({})", agent.node);
    out.push_str(&table(&[&links, "STATE", "SENT", "RECEIVED", "REJECTED", "LAST FRAME"], &rows));
    if !agent.events.is_empty() {
        out.push('\n');
        let _ = writeln!(out, "RECENT EVENTS ({})", agent.node);
        let skip = agent.events.len().saturating_sub(10);
        for e in agent.events.iter().skip(skip) {
            let _ = writeln!(out, "  {}  {}", e.time, e.message);
        }
    }
    out
}

/// The cluster as the controller's operator endpoint at `peer` told it
/// (`wardenctl --controller`): no agent, so no column for this node.
#[must_use]
pub fn cluster(name: &str, peer: &str, c: &ClusterStatus) -> String {
    let mut out = format!(
        "cluster {name}: asked of the controller at {peer}; controller up {}\n\n",
        age(u64::from(c.controller_uptime_s) * 1000)
    );
    out.push_str(&nodes(c));
    out.push('\n');
    let rows: Vec<Vec<String>> = c.groups.iter().map(group_row).collect();
    out.push_str(&table(&["GROUP", "PLACED ON", "MOVE"], &rows));
    out
}

/// The fence history as a table, newest first.
#[must_use]
pub fn history(h: &FenceHistory) -> String {
    if h.entries.is_empty() {
        return "no fence or unfence since the controller started\n".to_owned();
    }
    let mut out = format!(
        "{} fence(s) and unfence(s) since the controller started; the last {}, newest first\n\n",
        h.total,
        h.entries.len()
    );
    out.push_str(&fence_table(h, h.entries.len()));
    out
}

/// The newest few entries of the history, for `status`.
#[must_use]
pub fn recent_fences(h: &FenceHistory) -> String {
    format!("RECENT FENCES (of {})\n{}", h.total, fence_table(h, 5))
}

fn fence_table(h: &FenceHistory, most: usize) -> String {
    let rows: Vec<Vec<String>> = h
        .entries
        .iter()
        .take(most)
        .map(|e| {
            let by = match &e.via {
                Some(node) => format!("{} ({node})", e.requested_by),
                None => e.requested_by.clone(),
            };
            vec![
                e.started.clone(),
                e.action.clone(),
                e.node.clone(),
                e.reason.clone(),
                by,
                e.confirm_ms.map_or("-".to_owned(), |ms| format!("{ms} ms")),
                e.result.clone(),
            ]
        })
        .collect();
    table(&["STARTED", "ACTION", "NODE", "REASON", "ASKED BY", "CONFIRMED AFTER", "RESULT"], &rows)
}

/// The node table.
fn nodes(c: &ClusterStatus) -> String {
    let rows: Vec<Vec<String>> = c
        .nodes
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                n.life.clone(),
                n.powered.map_or("unknown".to_string(), |p| if p { "on" } else { "off" }.to_string()),
                dash(n.fence_record, "fenced"),
                dash(n.standby, "standby"),
                n.heard_ago_ms.map_or("-".to_string(), age),
            ]
        })
        .collect();
    table(&["NODE", "LIFE", "POWER", "FENCE", "STANDBY", "LAST HEARD"], &rows)
}

/// A group's cells as the controller sees it.
fn group_row(g: &warden_control::ClusterGroup) -> Vec<String> {
    vec![g.name.clone(), g.placed_on.clone().unwrap_or_else(|| "-".to_string()), dash(g.moving, "moving")]
}

/// What this node's agent says of one group.
fn here_state(agent: &AgentStatus, group: &str, eligible: bool) -> String {
    let has = |set: &[String]| set.iter().any(|g| g == group);
    let mut words = Vec::new();
    if has(&agent.want) {
        words.push("wanted");
    }
    if has(&agent.holds) {
        words.push("held");
    }
    if has(&agent.healthy) {
        words.push("healthy");
    }
    if has(&agent.busy) {
        words.push("busy");
    }
    if has(&agent.failing) {
        words.push("FAILING");
    }
    if has(&agent.stuck) {
        words.push("STUCK");
    }
    if words.is_empty() {
        words.push(if eligible { "-" } else { "not eligible" });
    }
    words.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_at_a_glance() {
        assert_eq!(age(42), "0.042s");
        assert_eq!(age(12_345), "12.3s");
        assert_eq!(age(245_000), "4m05s");
        assert_eq!(age(7_380_000), "2h03m");
    }

    #[test]
    fn columns_line_up() {
        let t = table(&["A", "LONGER"], &[vec!["wide cell".into(), "x".into()], vec!["y".into(), "z".into()]]);
        assert_eq!(t, "A          LONGER\nwide cell  x\ny          z\n");
    }
}
