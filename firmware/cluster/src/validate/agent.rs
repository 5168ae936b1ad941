//! `[agent]`: where the host agent keeps its socket and state, and how it
//! runs.

use super::value::{absolute, int_in, listen_addr, min_duration};
use super::Checked;
use crate::error::Problem;
use crate::model::AgentSettings;
use crate::raw::{RawAgent, S};
use crate::scheduling::Scheduling;

pub(super) fn check(raw: Option<&S<RawAgent>>) -> Checked<AgentSettings> {
    let mut a = AgentSettings::default();
    let Some(raw) = raw else {
        return Ok(a);
    };
    let r = raw.get_ref();
    if let Some(s) = &r.socket {
        a.socket = absolute(s)?;
        if a.socket.file_name().is_none() || s.get_ref().ends_with('/') {
            return Err(Problem::at(s.span(), format!("`{}` names a directory, not a socket file", s.get_ref())));
        }
    }
    if let Some(d) = &r.state_dir {
        a.state_dir = absolute(d)?;
    }
    if let Some(p) = &r.probe_interval {
        a.probe_interval = min_duration(p, 1000)?;
    }
    if let Some(w) = &r.restart_window {
        a.restart_window = min_duration(w, 1000)?;
    }
    let priority = match &r.realtime_priority {
        Some(p) => Some(u8::try_from(int_in(p, 0, 99)?).unwrap_or(0)),
        None => None,
    };
    a.scheduling = Scheduling::from_keys(r.mlock.as_ref().map(|b| *b.get_ref()), priority);
    if let Some(m) = &r.metrics {
        a.metrics = Some(listen_addr(m)?);
    }
    Ok(a)
}
