//! The agent's manual page (section 8) and completions, written from
//! [`PARAMS`] and [`Action::ALL`] like `--help` and the metadata, so that a
//! key is spelled once. The agent parses its own options; the clap
//! [`Command`] built here only describes them.

use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, Command};
use warden_manual::{Page, Section};

use super::metadata::{AGENT, LONGDESC, SHORTDESC};
use super::options::{Action, Key, Kind, DEFAULT_CLUSTER_FILE, PARAMS};
use super::Exit;

/// What each action does, in the words of the manual page.
const fn purpose(action: Action) -> &'static str {
    match action {
        Action::On => {
            "admit a fenced node back: powered on as a standby holding nothing (never run by the fencer on its own)"
        }
        Action::Off => "fence the node: done once the controller reports it fenced and its power sensed off",
        Action::Reboot => "off, then on; its outcome is the off part's",
        Action::Status => "whether the node is powered (exit 0 on, 2 off)",
        Action::Monitor => "whether the controller answers",
        Action::List => "the cluster's nodes",
        Action::ListStatus => "the cluster's nodes with their power",
        Action::Metadata => "the XML the fencer reads",
        Action::ValidateAll => "check the options, the cluster file and the key without asking the controller",
    }
}

/// The options, one [`Arg`] for each listed [`Param`](super::options::Param).
fn command() -> Command {
    let mut command = Command::new(AGENT)
        .version(env!("CARGO_PKG_VERSION"))
        .about(SHORTDESC)
        .long_about(LONGDESC)
        .disable_help_flag(true)
        .disable_version_flag(true);
    for p in PARAMS.iter().filter(|p| p.listed) {
        let mut help = p.shortdesc.to_owned();
        if let Some(default) = p.default {
            help.push_str(&format!(" (default {default})"));
        }
        help.push_str(&format!(". On standard input: {}", p.name));
        if let Some(old) = p.obsoletes {
            help.push_str(&format!(" (or the deprecated {old})"));
        }
        help.push('.');
        let mut arg = Arg::new(p.name).help(help);
        if let Some(long) = p.long {
            arg = arg.long(long);
        }
        if let Some(short) = p.short {
            arg = arg.short(short);
        }
        arg = match p.kind {
            Kind::Flag => arg.action(ArgAction::SetTrue),
            Kind::Text | Kind::Seconds | Kind::Port => arg.action(ArgAction::Set).value_name(p.placeholder),
        };
        if p.key == Key::Action {
            // Completed from the list; described under ACTIONS.
            arg = arg.value_parser(PossibleValuesParser::new(Action::ALL.map(Action::name))).hide_possible_values(true);
        }
        command = command.arg(arg);
    }
    command
}

/// The page, with what clap cannot say: standard input, the actions, the
/// exit status and the files.
#[must_use]
pub fn page() -> Page {
    let actions = Action::ALL.map(|a| format!("{}: {}.", a.name(), purpose(a)));
    Page::new(command(), Section::Admin)
        .with_section(
            "standard input",
            [
                "With no argument, the options are read from standard input as Pacemaker's fencer writes \
                 them: one key=value line each, keys as listed under OPTIONS (- and _ alike); lines starting \
                 with # and blank lines are skipped; keys it does not know are ignored (named with verbose)."
                    .to_owned(),
                "Example: printf 'action=status\\nplug=linuxha1\\nip=10.0.0.254\\n' | fence_warden".to_owned(),
            ],
        )
        .with_section("actions", actions)
        .with_section(
            "exit status",
            [
                format!("{} success (status: the node is on).", Exit::Success.code()),
                format!("{} failure, or an outcome that could not be confirmed in time.", Exit::Failure.code()),
                format!("{} status: the controller answers and the node is off.", Exit::Off.code()),
            ],
        )
        .with_section(
            "files",
            [format!(
                "{DEFAULT_CLUSTER_FILE}: the cluster file (node names, and the key file it names), unless \
                 cluster_file says otherwise."
            )],
        )
        .with_section(
            "see also",
            ["wardenctl(8), warden-controller(8), stonith_admin(8); /usr/share/doc/warden-tools/pacemaker.md."
                .to_owned()],
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_option_is_on_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let written = page().write(dir.path()).unwrap();
        assert!(written.contains(&dir.path().join("man/man8/fence_warden.8")));
        let man = std::fs::read_to_string(dir.path().join("man/man8/fence_warden.8")).unwrap();
        for p in PARAMS.iter().filter(|p| p.listed) {
            if let Some(long) = p.long {
                assert!(man.contains(&format!("\\-\\-{}", long.replace('-', "\\-"))), "{long}: {man}");
            }
        }
        for action in Action::ALL {
            assert!(man.contains(&format!("{}: ", action.name().replace('-', "\\-"))), "{action:?}");
        }
        assert!(!man.contains("shell\\-timeout"), "names kept for other agents' callers are not offered");
        let bash = std::fs::read_to_string(dir.path().join("bash-completion/completions/fence_warden")).unwrap();
        assert!(bash.contains("--plug") && bash.contains("list-status"), "{bash}");
    }
}
