//! `kind = "service"`: a program run one way of four (`script`, `systemd`,
//! `ocf`, `command`), with the keys that go with that way.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use super::{Checked, Table};
use crate::error::Problem;
use crate::model::{Service, ServiceConfig};
use crate::raw::{RawService, S};
use crate::validate::value::{absolute, argv, min_duration};

/// Where scripts are looked for when `search` is not given.
pub const DEFAULT_SEARCH: [&str; 2] = ["/etc/ha.d/resource.d", "/etc/init.d"];

/// The one way a service is run, as written.
enum Way<'a> {
    Script(&'a S<String>),
    Systemd(&'a S<String>),
    Ocf(&'a S<String>),
    Command(&'a S<Vec<S<String>>>),
}

impl Way<'_> {
    fn key(&self) -> &'static str {
        match self {
            Self::Script(_) => "script",
            Self::Systemd(_) => "systemd",
            Self::Ocf(_) => "ocf",
            Self::Command(_) => "command",
        }
    }

    fn span(&self) -> Range<usize> {
        match self {
            Self::Script(v) | Self::Systemd(v) | Self::Ocf(v) => v.span(),
            Self::Command(v) => v.span(),
        }
    }
}

pub(super) fn check(r: &RawService, table: &Table) -> Checked<ServiceConfig> {
    let mut ways: Vec<Way<'_>> = [
        r.script.as_ref().map(Way::Script),
        r.systemd.as_ref().map(Way::Systemd),
        r.ocf.as_ref().map(Way::Ocf),
        r.command.as_ref().map(Way::Command),
    ]
    .into_iter()
    .flatten()
    .collect();
    ways.sort_by_key(|w| w.span().start);
    let way = match ways.as_slice() {
        [] => {
            return Err(Problem::below(
                table.span.clone(),
                "script",
                "a `service` resource needs one of `script`, `systemd`, `ocf`, `command`",
            ))
        }
        [first, second, ..] => {
            return Err(Problem::at(
                second.span(),
                format!("a service is run one way: `{}` and `{}` are both given", first.key(), second.key()),
            ))
        }
        [way] => way,
    };
    let companions = [
        ("search", "script", span_of(&r.search)),
        ("params", "ocf", span_of(&r.params)),
        ("respawn", "command", span_of(&r.respawn)),
    ];
    for (key, owner, span) in companions {
        if let Some(span) = span {
            if way.key() != owner {
                return Err(Problem::at(span, format!("`{key}` goes with `{owner}`, not with `{}`", way.key())));
            }
        }
    }
    let service = match way {
        Way::Script(s) => script(s, r.search.as_ref())?,
        Way::Systemd(u) => {
            let unit = u.get_ref();
            let ok = !unit.is_empty() && unit.chars().all(|c| c.is_ascii_alphanumeric() || ":_.@-\\".contains(c));
            if !ok {
                return Err(Problem::at(u.span(), format!("`{unit}` is not a systemd unit name")));
            }
            Service::Systemd { unit: unit.clone() }
        }
        Way::Ocf(o) => ocf(o, r.params.as_ref())?,
        Way::Command(c) => {
            Service::Command { argv: argv(c)?, respawn: r.respawn.as_ref().is_none_or(|b| *b.get_ref()) }
        }
    };
    let timeout = r.timeout.as_ref().map_or(Ok(Duration::from_secs(60)), |d| min_duration(d, 1))?;
    Ok(ServiceConfig { service, timeout })
}

fn span_of<T>(v: &Option<S<T>>) -> Option<Range<usize>> {
    v.as_ref().map(S::span)
}

fn script(s: &S<String>, search: Option<&S<Vec<S<String>>>>) -> Checked<Service> {
    let spec = s.get_ref();
    let mut parts = spec.split("::");
    let name = parts.next().unwrap_or_default().to_owned();
    let args: Vec<String> = parts.map(str::to_owned).collect();
    if name.is_empty() || (name.contains('/') && !name.starts_with('/')) || name.chars().any(char::is_whitespace) {
        return Err(Problem::at(
            s.span(),
            format!("`{spec}` is not a script name (`name`, `name::arg`, or an absolute path)"),
        ));
    }
    if args.iter().any(String::is_empty) {
        return Err(Problem::at(s.span(), format!("`{spec}` has an empty argument (`::::` or a trailing `::`)")));
    }
    let search = match search {
        None => DEFAULT_SEARCH.iter().map(PathBuf::from).collect(),
        Some(dirs) => dirs.get_ref().iter().map(absolute).collect::<Checked<_>>()?,
    };
    Ok(Service::Script { name, args, search })
}

fn ocf(o: &S<String>, params: Option<&S<BTreeMap<String, S<String>>>>) -> Checked<Service> {
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    let (provider, agent) = o.get_ref().split_once(':').filter(|(p, a)| word(p) && word(a)).ok_or_else(|| {
        Problem::at(o.span(), format!("`{}` is not `provider:type` (e.g. heartbeat:IPaddr2)", o.get_ref()))
    })?;
    let mut checked = BTreeMap::new();
    for (k, v) in params.map(S::get_ref).into_iter().flatten() {
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Problem::at(v.span(), format!("`{k}` is not an OCF parameter name (letters, digits, `_`)")));
        }
        checked.insert(k.clone(), v.get_ref().clone());
    }
    Ok(Service::Ocf { provider: provider.to_owned(), agent: agent.to_owned(), params: checked })
}
