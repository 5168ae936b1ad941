//! The metadata the fencer reads (`-o metadata`): the fence agents' XML
//! (their `metadata.rng`), written from [`PARAMS`] and [`Action::ALL`].

use std::fmt::Write as _;

use super::options::{Action, Param, PARAMS};

/// The agent's name, as the fencer and `pcs` know it.
pub const AGENT: &str = "fence_warden";
/// Where Warden is described.
pub const VENDOR_URL: &str = "https://example.invalid/warden";

/// One line about the agent (the metadata's and the manual page's).
pub const SHORTDESC: &str = "Fence agent for Warden controllers";
/// What the agent does (the metadata's and the manual page's).
pub const LONGDESC: &str = "fence_warden fences a server through a Warden controller, which holds each server's \
power relay. off asks the controller to fence the node: it writes the fence record durably, cuts the relay, \
and the agent reports success only once the controller reports the node fenced and its power sensed off. \
on is Warden's unfence: the node is powered on again and admitted back as a standby holding nothing. \
The plug is the node's name in the Warden cluster file (map the cluster's node names with pcmk_host_map); \
the key is the cluster file's, or key_file. The controller must have its operator endpoint \
([controller] operator in its hardware file).";

/// `text` fit for an attribute or element.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// One `<parameter>`; `name` is the param's or its deprecated one's.
fn parameter(xml: &mut String, p: &Param, name: &str, deprecated: bool) {
    let mut attributes = format!("name=\"{}\" unique=\"0\" required=\"{}\"", escape(name), u8::from(p.required));
    if deprecated {
        attributes.push_str(" deprecated=\"1\"");
    } else if let Some(old) = p.obsoletes {
        let _ = write!(attributes, " obsoletes=\"{}\"", escape(old));
    }
    let default = p.default.map(|d| format!(" default=\"{}\"", escape(d))).unwrap_or_default();
    let _ = write!(
        xml,
        "\t<parameter {attributes}>\n\
         \t\t<getopt mixed=\"{}\" />\n\
         \t\t<content type=\"{}\"{default} />\n\
         \t\t<shortdesc lang=\"en\">{}</shortdesc>\n\
         \t</parameter>\n",
        escape(&p.getopt()),
        p.kind.content_type(),
        escape(p.shortdesc),
    );
}

/// The metadata XML.
#[must_use]
pub fn metadata() -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" ?>\n\
         <resource-agent name=\"{AGENT}\" shortdesc=\"{}\" >\n\
         <longdesc>{}</longdesc>\n\
         <vendor-url>{}</vendor-url>\n\
         <parameters>\n",
        escape(SHORTDESC),
        escape(LONGDESC),
        escape(VENDOR_URL),
    );
    for p in PARAMS.iter().filter(|p| p.listed) {
        parameter(&mut xml, p, p.name, false);
        if let Some(old) = p.obsoletes {
            parameter(&mut xml, p, old, true);
        }
    }
    xml.push_str("</parameters>\n<actions>\n");
    for action in Action::ALL {
        // Never run by the fencer on its own: a fenced node stays off until
        // someone decides otherwise.
        let automatic = if action == Action::On { " automatic=\"0\"" } else { "" };
        let _ = writeln!(xml, "\t<action name=\"{}\"{automatic} />", action.name());
    }
    xml.push_str("</actions>\n</resource-agent>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_key_and_action_is_there() {
        let xml = metadata();
        for name in ["action", "plug", "port", "ip", "ipaddr", "ipport", "cluster_file", "key_file", "delay"] {
            assert!(xml.contains(&format!("<parameter name=\"{name}\" ")), "{name}");
        }
        for name in ["power_timeout", "power_wait", "login_timeout", "verbose", "quiet", "version", "help"] {
            assert!(xml.contains(&format!("<parameter name=\"{name}\" ")), "{name}");
        }
        assert!(xml.contains("<parameter name=\"plug\" unique=\"0\" required=\"0\" obsoletes=\"port\">"));
        assert!(xml.contains("<parameter name=\"port\" unique=\"0\" required=\"0\" deprecated=\"1\">"));
        assert!(xml.contains("<parameter name=\"ip\" unique=\"0\" required=\"1\" obsoletes=\"ipaddr\">"));
        assert!(xml.contains("<getopt mixed=\"-a, --ip=[ip]\" />"));
        assert!(xml.contains("<content type=\"second\" default=\"20\" />"));
        assert!(xml.contains("<action name=\"on\" automatic=\"0\" />"));
        for action in Action::ALL {
            assert!(xml.contains(&format!("<action name=\"{}\"", action.name())), "{action:?}");
        }
        assert!(!xml.contains("nodename") && !xml.contains("shell_timeout"), "kept for callers, not offered");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\"'"), "a&lt;b &amp; &quot;c&quot;&apos;");
    }
}
