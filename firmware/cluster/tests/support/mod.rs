//! Cluster files shared by the configuration tests here and the agent's
//! `check` command test: a two-node head, one group, and the complete
//! example of `docs/configuration.md`. Each test file uses a part of it.
#![allow(dead_code)]

use warden_cluster as config;

/// Lines 1 to 12: a cluster and two nodes. Cases append from line 13.
pub(crate) const HEAD: &str = r#"[cluster]
name = "c"
key_file = "k"

[[node]]
name = "a"
serial = { device = "/dev/ttyS0" }

[[node]]
name = "b"
serial = { device = "/dev/ttyS1" }

"#;

/// A group of one address, for cases that change something else.
pub(crate) const WEB: &str = r#"[[group]]
name = "web"
nodes = ["a", "b"]
[[group.resource]]
kind = "address"
ip = "10.0.0.5/24"
"#;

pub(crate) fn err(text: &str) -> String {
    match config::parse(text, "t.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

pub(crate) fn with_head(tail: &str) -> String {
    format!("{HEAD}{tail}")
}

pub(crate) fn group(resource: &str) -> String {
    // group header on 13..15, resource table header on 16, its keys from 17.
    with_head(&format!("[[group]]\nname = \"web\"\nnodes = [\"a\", \"b\"]\n[[group.resource]]\n{resource}"))
}

pub(crate) fn monitor(body: &str) -> String {
    // monitor table header on line 19, its keys from 20.
    with_head(&format!("{WEB}[[group.monitor]]\n{body}"))
}

/// The ```toml block under "## Complete example" of docs/configuration.md.
pub(crate) fn docs_example() -> &'static str {
    let doc = include_str!("../../../../docs/configuration.md");
    let after = doc.split("## Complete example").nth(1).expect("docs have a complete example");
    let start = after.find("```toml\n").expect("example is a toml block") + "```toml\n".len();
    let len = after[start..].find("```").expect("example block ends");
    &after[start..start + len]
}
