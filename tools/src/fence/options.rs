//! The agent's options: `key=value` lines on standard input, as the fencer
//! passes them, or getopt-style flags, for a person at a shell. Both are
//! read against one table, [`PARAMS`], from which the metadata and `--help`
//! are written too, so a key is spelled once.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

/// The cluster file read when `cluster_file` is not given.
pub const DEFAULT_CLUSTER_FILE: &str = "/etc/warden/cluster.toml";
/// Most seconds a duration option takes (a day): more is a typo, and the
/// deadlines built from it must not overflow.
pub const MAX_SECONDS: f64 = 86_400.0;

/// What the agent is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Admit a fenced node back (Warden's unfence): powered on as a standby
    /// holding nothing.
    On,
    /// Fence: the relay cut, confirmed by the controller's sense.
    Off,
    /// `off`, then `on`; its outcome is the `off` part's.
    Reboot,
    /// Whether the node is powered.
    Status,
    /// Whether the controller answers.
    Monitor,
    /// The cluster's nodes.
    List,
    /// The cluster's nodes with their power.
    ListStatus,
    /// The metadata XML.
    Metadata,
    /// Check the options without asking the controller.
    ValidateAll,
}

impl Action {
    /// Every action, in the order the metadata lists them.
    pub const ALL: [Self; 9] = [
        Self::On,
        Self::Off,
        Self::Reboot,
        Self::Status,
        Self::Monitor,
        Self::List,
        Self::ListStatus,
        Self::Metadata,
        Self::ValidateAll,
    ];

    /// Its name, as the fencer passes it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::On => "on",
            Self::Off => "off",
            Self::Reboot => "reboot",
            Self::Status => "status",
            Self::Monitor => "monitor",
            Self::List => "list",
            Self::ListStatus => "list-status",
            Self::Metadata => "metadata",
            Self::ValidateAll => "validate-all",
        }
    }

    /// The action named `word`, in any case.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name().eq_ignore_ascii_case(word.trim()))
    }

    /// Whether it acts on one node, so that a plug is needed.
    #[must_use]
    pub const fn needs_plug(self) -> bool {
        matches!(self, Self::On | Self::Off | Self::Reboot | Self::Status)
    }
}

/// Which option a [`Param`] sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Key {
    /// [`Options::action`].
    Action,
    /// [`Options::plug`].
    Plug,
    /// [`Options::nodename`].
    Nodename,
    /// [`Options::ip`].
    Ip,
    /// [`Options::ipport`].
    Ipport,
    /// [`Options::cluster_file`].
    ClusterFile,
    /// [`Options::key_file`].
    KeyFile,
    /// [`Options::delay`].
    Delay,
    /// [`Options::power_timeout`].
    PowerTimeout,
    /// [`Options::power_wait`].
    PowerWait,
    /// [`Options::login_timeout`].
    LoginTimeout,
    /// [`Options::verbose`].
    Verbose,
    /// [`Options::quiet`].
    Quiet,
    /// Print the version and stop.
    Version,
    /// Print the usage and stop.
    Help,
    /// Taken for other agents' sake and ignored (`shell_timeout`, `retry_on`).
    Ignored,
}

/// What a [`Param`]'s value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Any text (empty: not given).
    Text,
    /// Seconds, fractions allowed, 0 to [`MAX_SECONDS`].
    Seconds,
    /// A UDP port, 1 to 65535.
    Port,
    /// A switch: a flag with no value, or on standard input `1`, `yes`,
    /// `on`, `true` (and `0`, `no`, `off`, `false`).
    Flag,
}

impl Kind {
    /// Its `<content type>` in the metadata.
    #[must_use]
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Text => "string",
            Self::Seconds => "second",
            Self::Port => "integer",
            Self::Flag => "boolean",
        }
    }
}

/// One option: its names on standard input and on the command line, and
/// how the metadata describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// What it sets.
    pub key: Key,
    /// Its key on standard input and its name in the metadata.
    pub name: &'static str,
    /// The deprecated name it replaces, still read on standard input and
    /// listed in the metadata with `deprecated="1"` (`port`, `ipaddr`).
    pub obsoletes: Option<&'static str>,
    /// Its short flag.
    pub short: Option<char>,
    /// Its long flag, without `--`.
    pub long: Option<&'static str>,
    /// What its value is.
    pub kind: Kind,
    /// The value in the flag's usage: `--plug=[node]`.
    pub placeholder: &'static str,
    /// Its default, spelled as it would be given.
    pub default: Option<&'static str>,
    /// Whether the metadata says it is required.
    pub required: bool,
    /// Listed in the metadata and `--help` (not so for names kept only for
    /// callers written for other agents).
    pub listed: bool,
    /// One line about it.
    pub shortdesc: &'static str,
}

impl Param {
    /// Its usage as fence agents write it: `-n, --plug=[node]`.
    #[must_use]
    pub fn getopt(&self) -> String {
        let long = self.long.map(|l| {
            if self.kind == Kind::Flag {
                format!("--{l}")
            } else {
                format!("--{l}=[{}]", self.placeholder)
            }
        });
        match (self.short, long) {
            (Some(s), Some(l)) => format!("-{s}, {l}"),
            (Some(s), None) => format!("-{s}"),
            (None, Some(l)) => l,
            (None, None) => String::new(),
        }
    }
}

/// A listed option with every field but the names and the words left as
/// most options have them.
const fn param(key: Key, name: &'static str, kind: Kind, shortdesc: &'static str) -> Param {
    Param {
        key,
        name,
        obsoletes: None,
        short: None,
        long: None,
        kind,
        placeholder: "",
        default: None,
        required: false,
        listed: true,
        shortdesc,
    }
}

/// Every option the agent reads.
pub const PARAMS: &[Param] = &[
    Param {
        short: Some('o'),
        long: Some("action"),
        placeholder: "action",
        default: Some("reboot"),
        ..param(Key::Action, "action", Kind::Text, "Fencing action")
    },
    // The deprecated spelling of `action` in the fence agent API.
    Param { listed: false, ..param(Key::Action, "option", Kind::Text, "") },
    Param {
        obsoletes: Some("port"),
        short: Some('n'),
        long: Some("plug"),
        placeholder: "node",
        ..param(Key::Plug, "plug", Kind::Text, "The Warden node to act on: its name in the cluster file")
    },
    // The fencer always passes the node's cluster name; it is the plug only
    // when none is given.
    Param { listed: false, ..param(Key::Nodename, "nodename", Kind::Text, "") },
    Param {
        obsoletes: Some("ipaddr"),
        short: Some('a'),
        long: Some("ip"),
        placeholder: "ip",
        required: true,
        ..param(
            Key::Ip,
            "ip",
            Kind::Text,
            "The controller's operator endpoint: IP address or host name, optionally with :port",
        )
    },
    Param {
        short: Some('u'),
        long: Some("ipport"),
        placeholder: "port",
        default: Some("7694"),
        ..param(Key::Ipport, "ipport", Kind::Port, "UDP port of the operator endpoint, when ip gives none")
    },
    Param {
        long: Some("cluster-file"),
        placeholder: "path",
        default: Some(DEFAULT_CLUSTER_FILE),
        ..param(
            Key::ClusterFile,
            "cluster_file",
            Kind::Text,
            "The Warden cluster file: node names, and the cluster key",
        )
    },
    Param {
        long: Some("key-file"),
        placeholder: "path",
        ..param(
            Key::KeyFile,
            "key_file",
            Kind::Text,
            "The cluster key (mode 0600), instead of the cluster file's key_file",
        )
    },
    Param {
        long: Some("delay"),
        placeholder: "seconds",
        default: Some("0"),
        ..param(Key::Delay, "delay", Kind::Seconds, "Wait X seconds before fencing is started")
    },
    Param {
        long: Some("power-timeout"),
        placeholder: "seconds",
        default: Some("20"),
        ..param(
            Key::PowerTimeout,
            "power_timeout",
            Kind::Seconds,
            "Wait X seconds for the controller's sense to confirm ON/OFF",
        )
    },
    Param {
        long: Some("power-wait"),
        placeholder: "seconds",
        default: Some("0"),
        ..param(Key::PowerWait, "power_wait", Kind::Seconds, "Wait X seconds after a confirmed ON/OFF")
    },
    Param {
        long: Some("login-timeout"),
        placeholder: "seconds",
        default: Some("5"),
        ..param(
            Key::LoginTimeout,
            "login_timeout",
            Kind::Seconds,
            "Wait X seconds for the controller to open the session and answer the request",
        )
    },
    Param {
        short: Some('v'),
        long: Some("verbose"),
        ..param(Key::Verbose, "verbose", Kind::Flag, "Verbose mode: progress on stderr")
    },
    Param {
        short: Some('q'),
        long: Some("quiet"),
        ..param(Key::Quiet, "quiet", Kind::Flag, "No warnings on stderr (errors still)")
    },
    Param {
        short: Some('V'),
        long: Some("version"),
        ..param(Key::Version, "version", Kind::Flag, "Display version information and exit")
    },
    Param { short: Some('h'), long: Some("help"), ..param(Key::Help, "help", Kind::Flag, "Display help and exit") },
    // Set by configurations written for other agents; nothing here waits
    // for a shell or retries a power-on.
    Param { long: Some("shell-timeout"), listed: false, ..param(Key::Ignored, "shell_timeout", Kind::Text, "") },
    Param { long: Some("retry-on"), listed: false, ..param(Key::Ignored, "retry_on", Kind::Text, "") },
];

/// The option whose standard-input key is `name` (`-` and `_` alike, as
/// fence agents take them).
fn by_name(name: &str) -> Option<&'static Param> {
    let name = name.replace('-', "_");
    PARAMS.iter().find(|p| p.name == name || p.obsoletes == Some(name.as_str()))
}

/// The option whose long flag is `long` (`-` and `_` alike).
fn by_long(long: &str) -> Option<&'static Param> {
    let long = long.replace('_', "-");
    PARAMS.iter().find(|p| p.long == Some(long.as_str()))
}

fn by_short(short: char) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.short == Some(short))
}

/// Why the options were refused. Each names the input at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// Standard input is not UTF-8.
    #[error("standard input line {line} is not UTF-8 text (byte {byte} of the input)")]
    NotUtf8 {
        /// Its line, from 1.
        line: usize,
        /// Offset of the first bad byte.
        byte: usize,
    },
    /// A line of standard input is not `key=value`.
    #[error("standard input line {line} `{text}` is not `key=value`")]
    NotKeyValue {
        /// Its line, from 1.
        line: usize,
        /// The line.
        text: String,
    },
    /// A command-line argument is not UTF-8.
    #[error("argument `{0}` is not UTF-8 text")]
    ArgumentNotUtf8(String),
    /// A flag it does not know.
    #[error("unknown option `{0}` (see --help)")]
    UnknownFlag(String),
    /// A flag that takes a value was given none.
    #[error("option `{0}` needs a value")]
    MissingValue(String),
    /// A switch was given a value.
    #[error("option `{0}` takes no value")]
    UnwantedValue(String),
    /// A word that is no option.
    #[error("unexpected argument `{0}`: options only (see --help), or none to read key=value lines on standard input")]
    Unexpected(String),
    /// No such action.
    #[error("unknown action `{given}` (actions: {})", action_names())]
    UnknownAction {
        /// What was given.
        given: String,
    },
    /// A duration that is not seconds.
    #[error("`{key}` = `{value}`: not a number of seconds from 0 to {MAX_SECONDS} (e.g. 20 or 1.5)")]
    NotSeconds {
        /// The key or flag, as given.
        key: String,
        /// The value.
        value: String,
    },
    /// A port that is not one.
    #[error("`{key}` = `{value}`: not a UDP port (1 to 65535)")]
    NotPort {
        /// The key or flag, as given.
        key: String,
        /// The value.
        value: String,
    },
    /// A switch on standard input that is neither on nor off.
    #[error("`{key}` = `{value}`: not a switch (1, yes, on, true; 0, no, off, false)")]
    NotSwitch {
        /// The key, as given.
        key: String,
        /// The value.
        value: String,
    },
}

fn action_names() -> String {
    Action::ALL.map(Action::name).join(", ")
}

/// The options of one run, checked as values (whether the files, the
/// address and the node exist is [`super::setup`]'s business).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// What to do.
    pub action: Action,
    /// The node, by its name in the cluster file (`plug`, `port`, `-n`).
    pub plug: Option<String>,
    /// The fencer's name for the node: the plug when none is given.
    pub nodename: Option<String>,
    /// The controller's operator endpoint (`ip`, `ipaddr`, `-a`).
    pub ip: Option<String>,
    /// Its port when `ip` gives none.
    pub ipport: u16,
    /// The cluster file.
    pub cluster_file: PathBuf,
    /// The key file, instead of the cluster file's.
    pub key_file: Option<PathBuf>,
    /// Wait before `off` and `reboot`.
    pub delay: Duration,
    /// How long the confirmation may take.
    pub power_timeout: Duration,
    /// Wait after a confirmed `on` or `off`.
    pub power_wait: Duration,
    /// How long the session and the request's answer may take.
    pub login_timeout: Duration,
    /// Progress on standard error.
    pub verbose: bool,
    /// No warnings on standard error.
    pub quiet: bool,
    /// Standard-input keys it does not know, ignored (told with `verbose`).
    pub ignored: Vec<String>,
}

/// What the input asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// Run with these options.
    Run(Box<Options>),
    /// Print the usage.
    Help,
    /// Print the version.
    Version,
}

impl Options {
    /// The options when nothing is given: the table's defaults.
    ///
    /// # Errors
    ///
    /// None unless a default in [`PARAMS`] is malformed (a test checks
    /// that none is).
    pub fn defaults() -> Result<Self, OptionsError> {
        let mut options = Self {
            action: Action::Reboot,
            plug: None,
            nodename: None,
            ip: None,
            ipport: crate::operator::DEFAULT_PORT,
            cluster_file: PathBuf::from(DEFAULT_CLUSTER_FILE),
            key_file: None,
            delay: Duration::ZERO,
            power_timeout: Duration::ZERO,
            power_wait: Duration::ZERO,
            login_timeout: Duration::ZERO,
            verbose: false,
            quiet: false,
            ignored: Vec::new(),
        };
        for p in PARAMS {
            if let Some(default) = p.default {
                options.set(p, p.name, default)?;
            }
        }
        Ok(options)
    }

    /// The node asked for: the plug, else the fencer's node name.
    #[must_use]
    pub fn target(&self) -> Option<&str> {
        self.plug.as_deref().or(self.nodename.as_deref())
    }

    /// Sets what `p` names from `value` (as given on standard input or after
    /// a flag); `given` is the key or flag as written, for errors.
    fn set(&mut self, p: &Param, given: &str, value: &str) -> Result<(), OptionsError> {
        let text = || (!value.is_empty()).then(|| value.to_owned());
        match p.key {
            Key::Action => {
                self.action =
                    Action::parse(value).ok_or_else(|| OptionsError::UnknownAction { given: value.to_owned() })?;
            }
            Key::Plug => self.plug = text(),
            Key::Nodename => self.nodename = text(),
            Key::Ip => self.ip = text(),
            Key::Ipport => {
                self.ipport = value
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| OptionsError::NotPort { key: given.to_owned(), value: value.to_owned() })?;
            }
            Key::ClusterFile => self.cluster_file = text().map_or_else(|| DEFAULT_CLUSTER_FILE.into(), PathBuf::from),
            Key::KeyFile => self.key_file = text().map(PathBuf::from),
            Key::Delay => self.delay = seconds(given, value)?,
            Key::PowerTimeout => self.power_timeout = seconds(given, value)?,
            Key::PowerWait => self.power_wait = seconds(given, value)?,
            Key::LoginTimeout => self.login_timeout = seconds(given, value)?,
            Key::Verbose => self.verbose = switch(given, value)?,
            Key::Quiet => self.quiet = switch(given, value)?,
            Key::Version | Key::Help | Key::Ignored => {}
        }
        Ok(())
    }
}

/// `value` as seconds.
fn seconds(key: &str, value: &str) -> Result<Duration, OptionsError> {
    let bad = || OptionsError::NotSeconds { key: key.to_owned(), value: value.to_owned() };
    let s: f64 = value.trim().parse().map_err(|_| bad())?;
    if !(0.0..=MAX_SECONDS).contains(&s) {
        return Err(bad());
    }
    Duration::try_from_secs_f64(s).map_err(|_| bad())
}

/// `value` as a switch.
fn switch(key: &str, value: &str) -> Result<bool, OptionsError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "on" | "true" => Ok(true),
        "0" | "no" | "off" | "false" => Ok(false),
        _ => Err(OptionsError::NotSwitch { key: key.to_owned(), value: value.to_owned() }),
    }
}

/// A value less the double quotes around it, as fence agents take it.
fn unquote(value: &str) -> &str {
    value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value)
}

/// Reads `key=value` lines (the fence agent API): `#` comments and blank
/// lines skipped, white space around a line stripped, the last value of a
/// key kept, unknown keys ignored.
///
/// # Errors
///
/// [`OptionsError`] naming the line or the key at fault.
pub fn parse_stdin(input: &[u8]) -> Result<Parsed, OptionsError> {
    let text = std::str::from_utf8(input).map_err(|e| {
        let byte = e.valid_up_to();
        let line = input.get(..byte).map_or(0, |ok| ok.iter().filter(|b| **b == b'\n').count()) + 1;
        OptionsError::NotUtf8 { line, byte }
    })?;
    let mut options = Options::defaults()?;
    let (mut help, mut version) = (false, false);
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(OptionsError::NotKeyValue { line: index + 1, text: line.to_owned() });
        };
        let (key, value) = (key.trim_end(), unquote(value));
        let Some(p) = by_name(key) else {
            options.ignored.push(key.to_owned());
            continue;
        };
        match p.key {
            Key::Help => help = switch(key, value)?,
            Key::Version => version = switch(key, value)?,
            _ => options.set(p, key, value)?,
        }
    }
    Ok(finish(options, help, version))
}

/// Reads getopt-style flags: `-o off`, `-ooff`, `--action off`,
/// `--action=off`, switches grouped (`-vq`).
///
/// # Errors
///
/// [`OptionsError`] naming the argument at fault.
pub fn parse_args<S: AsRef<OsStr>>(args: &[S]) -> Result<Parsed, OptionsError> {
    let mut options = Options::defaults()?;
    let (mut help, mut version) = (false, false);
    let mut words = args.iter().map(|a| {
        let a = a.as_ref();
        a.to_str().map(str::to_owned).ok_or_else(|| OptionsError::ArgumentNotUtf8(a.to_string_lossy().into_owned()))
    });
    let mut take = |p: &Param, given: &str, value: Option<&str>, rest: &mut dyn Iterator<Item = _>| {
        if p.kind == Kind::Flag {
            if value.is_some() {
                return Err(OptionsError::UnwantedValue(given.to_owned()));
            }
            match p.key {
                Key::Help => help = true,
                Key::Version => version = true,
                Key::Verbose => options.verbose = true,
                Key::Quiet => options.quiet = true,
                _ => {}
            }
            return Ok(());
        }
        let value = match value {
            Some(v) => v.to_owned(),
            None => rest.next().ok_or_else(|| OptionsError::MissingValue(given.to_owned()))??,
        };
        options.set(p, given, &value)
    };
    while let Some(word) = words.next() {
        let word = word?;
        if word == "--" {
            return Err(words
                .next()
                .transpose()?
                .map_or_else(|| OptionsError::Unexpected(word.clone()), OptionsError::Unexpected));
        }
        if let Some(long) = word.strip_prefix("--") {
            let (name, value) = long.split_once('=').map_or((long, None), |(n, v)| (n, Some(v)));
            let given = format!("--{name}");
            let p = by_long(name).ok_or_else(|| OptionsError::UnknownFlag(given.clone()))?;
            take(p, &given, value, &mut words)?;
        } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            for (at, c) in shorts.char_indices() {
                let given = format!("-{c}");
                let p = by_short(c).ok_or_else(|| OptionsError::UnknownFlag(given.clone()))?;
                if p.kind == Kind::Flag {
                    take(p, &given, None, &mut words)?;
                    continue;
                }
                let attached = shorts.get(at + c.len_utf8()..).filter(|v| !v.is_empty());
                take(p, &given, attached, &mut words)?;
                break;
            }
        } else {
            return Err(OptionsError::Unexpected(word));
        }
    }
    Ok(finish(options, help, version))
}

fn finish(options: Options, help: bool, version: bool) -> Parsed {
    if help {
        Parsed::Help
    } else if version {
        Parsed::Version
    } else {
        Parsed::Run(Box::new(options))
    }
}

/// The usage, for `--help`.
#[must_use]
pub fn help() -> String {
    let mut text = String::from(
        "Usage: fence_warden [OPTION]...\n\
         Fence a server through its Warden controller's operator endpoint.\n\
         With no option, reads key=value lines on standard input (the fence agent API).\n\n",
    );
    for p in PARAMS.iter().filter(|p| p.listed) {
        let default = p.default.map(|d| format!(" (default {d})")).unwrap_or_default();
        let old = p.obsoletes.map(|o| format!(", {o}")).unwrap_or_default();
        text.push_str(&format!("  {:<32} {}{default}\n  {:<32} stdin: {}{old}\n", p.getopt(), p.shortdesc, "", p.name));
    }
    text.push_str(&format!("\nActions: {}.\n", action_names()));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(parsed: Result<Parsed, OptionsError>) -> Options {
        match parsed {
            Ok(Parsed::Run(o)) => *o,
            other => panic!("not a run: {other:?}"),
        }
    }

    #[test]
    fn defaults_come_from_the_table() {
        let o = Options::defaults().unwrap();
        assert_eq!(o.action, Action::Reboot);
        assert_eq!(o.ipport, crate::operator::DEFAULT_PORT);
        assert_eq!(o.cluster_file, PathBuf::from(DEFAULT_CLUSTER_FILE));
        assert_eq!((o.delay, o.power_wait), (Duration::ZERO, Duration::ZERO));
        assert_eq!(o.power_timeout, Duration::from_secs(20));
        assert_eq!(o.login_timeout, Duration::from_secs(5));
        assert!(!o.verbose && !o.quiet && o.plug.is_none() && o.ip.is_none());
    }

    #[test]
    fn stdin_as_the_fencer_writes_it() {
        let input = b"# from the fencer\n\n  action=OFF\nport=alpha\nnodename=node1.example.com\nipaddr=10.0.0.254\n\
                      pcmk_host_map=node1:alpha\npower_timeout=1.5\npower-wait=\"2\"\nverbose=yes\nport=beta\r\n";
        let o = run(parse_stdin(input));
        assert_eq!(o.action, Action::Off);
        assert_eq!(o.plug.as_deref(), Some("beta"), "the last value wins");
        assert_eq!(o.target(), Some("beta"), "the plug before the node name");
        assert_eq!(o.ip.as_deref(), Some("10.0.0.254"));
        assert_eq!(o.power_timeout, Duration::from_millis(1500));
        assert_eq!(o.power_wait, Duration::from_secs(2));
        assert!(o.verbose);
        assert_eq!(o.ignored, ["pcmk_host_map"]);
    }

    #[test]
    fn the_node_name_is_the_plug_when_none_is_given() {
        let o = run(parse_stdin(b"option=status\nnodename=alpha\nshell_timeout=3\nretry_on=2\n"));
        assert_eq!(o.action, Action::Status, "`option` is the old `action`");
        assert_eq!(o.target(), Some("alpha"));
        assert!(o.ignored.is_empty(), "taken for other agents' sake, not unknown");
    }

    #[test]
    fn stdin_errors_name_the_line_or_the_key() {
        let e = parse_stdin(b"action=off\n# fine\nplug alpha\n").unwrap_err();
        assert_eq!(e, OptionsError::NotKeyValue { line: 3, text: "plug alpha".into() });
        assert_eq!(e.to_string(), "standard input line 3 `plug alpha` is not `key=value`");
        let e = parse_stdin(b"action=off\nplug=\xffalpha\n").unwrap_err();
        assert_eq!(e, OptionsError::NotUtf8 { line: 2, byte: 16 });
        for (input, key, value) in [
            ("delay=-1", "delay", "-1"),
            ("power_timeout=soon", "power_timeout", "soon"),
            ("login_timeout=inf", "login_timeout", "inf"),
            ("power_wait=", "power_wait", ""),
            ("delay=100000", "delay", "100000"),
        ] {
            let e = parse_stdin(input.as_bytes()).unwrap_err();
            assert_eq!(e, OptionsError::NotSeconds { key: key.into(), value: value.into() }, "{input}");
        }
        let e = parse_stdin(b"ipport=70000").unwrap_err();
        assert_eq!(e.to_string(), "`ipport` = `70000`: not a UDP port (1 to 65535)");
        let e = parse_stdin(b"verbose=maybe").unwrap_err();
        assert!(e.to_string().starts_with("`verbose` = `maybe`: not a switch"), "{e}");
        let e = parse_stdin(b"action=explode").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown action `explode` (actions: on, off, reboot, status, monitor, list, list-status, metadata, validate-all)"
        );
    }

    #[test]
    fn flags_as_getopt_takes_them() {
        let o = run(parse_args(&[
            "-ooff",
            "-n",
            "alpha",
            "--ip=10.0.0.254:9000",
            "--power-timeout",
            "0.5",
            "--login_timeout=2",
            "-vq",
            "--key-file",
            "/k",
            "-u7000",
            "--retry-on=3",
        ]));
        assert_eq!(o.action, Action::Off);
        assert_eq!(o.plug.as_deref(), Some("alpha"));
        assert_eq!(o.ip.as_deref(), Some("10.0.0.254:9000"));
        assert_eq!(o.power_timeout, Duration::from_millis(500));
        assert_eq!(o.login_timeout, Duration::from_secs(2));
        assert!(o.verbose && o.quiet);
        assert_eq!(o.key_file, Some(PathBuf::from("/k")));
        assert_eq!(o.ipport, 7000);
        assert_eq!(parse_args(&["-o", "list", "-h"]), Ok(Parsed::Help));
        assert_eq!(parse_args(&["--version"]), Ok(Parsed::Version));
        assert_eq!(run(parse_args(&["-o", "List-Status"])).action, Action::ListStatus);
    }

    #[test]
    fn flag_errors_name_the_argument() {
        let e = |args: &[&str]| parse_args(args).unwrap_err().to_string();
        assert_eq!(e(&["--plugg", "alpha"]), "unknown option `--plugg` (see --help)");
        assert_eq!(e(&["-x"]), "unknown option `-x` (see --help)");
        assert_eq!(e(&["-o"]), "option `-o` needs a value");
        assert_eq!(e(&["--verbose=1"]), "option `--verbose` takes no value");
        assert!(e(&["off"]).starts_with("unexpected argument `off`"));
        assert!(e(&["--", "off"]).starts_with("unexpected argument `off`"));
        assert_eq!(e(&["--delay", "x"]), "`--delay` = `x`: not a number of seconds from 0 to 86400 (e.g. 20 or 1.5)");
        let bad = <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(vec![b'-', 0xff]);
        assert!(matches!(parse_args(&[bad]), Err(OptionsError::ArgumentNotUtf8(_))));
    }

    #[test]
    fn every_key_is_spelled_once() {
        let mut names: Vec<&str> = PARAMS.iter().flat_map(|p| std::iter::once(p.name).chain(p.obsoletes)).collect();
        let mut shorts: Vec<char> = PARAMS.iter().filter_map(|p| p.short).collect();
        let mut longs: Vec<&str> = PARAMS.iter().filter_map(|p| p.long).collect();
        for list in [&mut names, &mut longs] {
            let n = list.len();
            list.sort_unstable();
            list.dedup();
            assert_eq!(list.len(), n, "{list:?}");
        }
        let n = shorts.len();
        shorts.sort_unstable();
        shorts.dedup();
        assert_eq!(shorts.len(), n);
        for p in PARAMS {
            if let Some(long) = p.long {
                assert_eq!(by_long(long).map(|q| q.name), Some(p.name), "{long}");
                assert_eq!(long.replace('-', "_"), p.name, "the flag is the key");
            }
            assert!(!p.listed || !p.shortdesc.is_empty(), "{}", p.name);
        }
        assert!(help().contains("-n, --plug=[node]"));
    }
}
