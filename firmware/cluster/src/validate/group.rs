//! `[[group]]`: its eligible nodes, home first, then its resources and
//! monitors in file order.

use warden_core::{GroupId, NodeId, MAX_GROUPS};

use super::across::Taken;
use super::value::name;
use super::{monitor, resource, Checked};
use crate::error::Problem;
use crate::model::{GroupConfig, NodeConfig};
use crate::raw::{RawGroup, S};

/// Every group, in file order; group names are unique.
pub(super) fn check_all(raw: &[S<RawGroup>], nodes: &[NodeConfig]) -> Checked<Vec<GroupConfig>> {
    if let Some(extra) = raw.get(MAX_GROUPS) {
        return Err(Problem::at(extra.span(), format!("too many groups: at most {MAX_GROUPS}")));
    }
    let mut groups: Vec<GroupConfig> = Vec::with_capacity(raw.len());
    let mut taken = Taken::default();
    for (i, g) in raw.iter().enumerate() {
        let group = check(i, g, nodes, &mut taken)?;
        if let Some(j) = groups.iter().position(|o| o.name == group.name) {
            return Err(Problem::at(
                g.get_ref().name.span(),
                format!("group name `{}` is already used by group[{j}]", group.name),
            ));
        }
        groups.push(group);
    }
    Ok(groups)
}

fn check(index: usize, raw: &S<RawGroup>, nodes: &[NodeConfig], taken: &mut Taken) -> Checked<GroupConfig> {
    let g = raw.get_ref();
    let gname = name(&g.name, "group")?;
    if g.nodes.get_ref().is_empty() {
        return Err(Problem::at(
            g.nodes.span(),
            format!("group `{gname}` lists no node: give its eligible nodes, home first"),
        ));
    }
    let mut members: Vec<NodeId> = Vec::new();
    for n in g.nodes.get_ref() {
        let Some(node) = nodes.iter().find(|o| o.name == *n.get_ref()) else {
            let defined: Vec<&str> = nodes.iter().map(|o| o.name.as_str()).collect();
            return Err(Problem::at(
                n.span(),
                format!("node `{}` is not defined (nodes: {})", n.get_ref(), defined.join(", ")),
            ));
        };
        if members.contains(&node.id) {
            return Err(Problem::at(n.span(), format!("node `{}` is listed twice", n.get_ref())));
        }
        members.push(node.id);
    }
    if g.resource.is_empty() {
        return Err(Problem::below(
            raw.span(),
            "resource",
            format!("group `{gname}` has no resource: give at least one [[group.resource]]"),
        ));
    }
    let resources = resource::check_all(&g.resource, &mut taken.for_group(&gname))?;
    let monitors = g.monitor.iter().map(monitor::check).collect::<Checked<_>>()?;
    Ok(GroupConfig {
        name: gname,
        id: GroupId(u8::try_from(index).unwrap_or(u8::MAX)),
        nodes: members,
        auto_failback: g.auto_failback.as_ref().is_some_and(|b| *b.get_ref()),
        resources,
        monitors,
    })
}
