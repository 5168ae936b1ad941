//! # warden-manual
//!
//! A program's manual pages and shell completions, written from the same
//! clap definition the program parses its arguments with, so that what the
//! Debian packages install (`tools/package.sh`) cannot drift from the
//! binary.
//!
//! # Contract
//!
//! * A program calls [`hook`] (or [`hook_with`]) first thing in `main`. Run
//!   as `PROGRAM --generate-assets DIR`, the hook writes the files below
//!   into DIR, prints each path on standard output and gives the exit code
//!   to return; given anything else it returns `None` and touches nothing.
//! * The flag is no part of the program's clap definition: `--help`, the
//!   manual page and the completions do not show it.
//! * DIR mirrors `/usr/share`, so a package copies each file to the same
//!   path under it:
//!   - `man/manS/NAME.S`, and `man/manS/NAME-SUB.S` for each visible
//!     subcommand (and theirs), S being the [`Section`];
//!   - `bash-completion/completions/NAME`, `zsh/vendor-completions/_NAME`,
//!     `fish/vendor_completions.d/NAME.fish`.
//! * Files are written whole or the run fails naming the file; nothing else
//!   in DIR is touched.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Command, CommandFactory};
use clap_complete::Shell;
use clap_mangen::roff::{roman, Roff};
use clap_mangen::Man;

/// The argument that asks a program for its manual and completions.
pub const FLAG: &str = "--generate-assets";

/// Which part of the manual a program's page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// 1: commands any user runs (installed in `/usr/bin`).
    User,
    /// 8: daemons and administration commands (installed in `/usr/sbin`).
    Admin,
}

impl Section {
    /// Its number, as `man` and the file names spell it.
    #[must_use]
    pub const fn number(self) -> &'static str {
        match self {
            Self::User => "1",
            Self::Admin => "8",
        }
    }
}

/// Why the files could not be written. Each names the path at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A directory could not be made.
    #[error("creating directory {}: {source}", path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A page or a completion script could not be written.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// A program's manual: its command line and the sections clap knows
/// nothing of (standard input, exit status, files).
#[derive(Debug, Clone)]
pub struct Page {
    command: Command,
    section: Section,
    extra: Vec<(String, Vec<String>)>,
}

impl Page {
    /// The page of `command` in `section`, with clap's sections only.
    #[must_use]
    pub fn new(command: Command, section: Section) -> Self {
        Self { command, section, extra: Vec::new() }
    }

    /// Adds a section after clap's, one paragraph per item (the top page
    /// only; subcommands' pages have clap's sections).
    #[must_use]
    pub fn with_section<I, S>(mut self, heading: &str, paragraphs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra.push((heading.to_uppercase(), paragraphs.into_iter().map(Into::into).collect()));
        self
    }

    /// The program's name, as installed.
    #[must_use]
    pub fn name(&self) -> &str {
        self.command.get_name()
    }

    /// Writes the manual pages and the completion scripts under `dir` (see
    /// the crate's contract for the layout) and returns their paths.
    ///
    /// # Errors
    ///
    /// [`Error`] naming the first file or directory that could not be written.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, Error> {
        let mut written = Vec::new();
        let name = self.name().to_owned();
        let mut command = self.command.clone().bin_name(&name).disable_help_subcommand(true);
        command.build();

        let man_dir = dir.join("man").join(format!("man{}", self.section.number()));
        create_dir(&man_dir)?;
        let top = self.render(&command, true);
        written.push(write_file(&man_dir.join(format!("{name}.{}", self.section.number())), &top)?);
        for page in subcommands(&command) {
            let file = man_dir.join(format!("{}.{}", display_name(&page), self.section.number()));
            written.push(write_file(&file, &self.render(&page, false))?);
        }

        for (shell, sub, file) in [
            (Shell::Bash, "bash-completion/completions", name.clone()),
            (Shell::Zsh, "zsh/vendor-completions", format!("_{name}")),
            (Shell::Fish, "fish/vendor_completions.d", format!("{name}.fish")),
        ] {
            let shell_dir = dir.join(sub);
            create_dir(&shell_dir)?;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, &name, &mut script);
            written.push(write_file(&shell_dir.join(file), &script)?);
        }
        Ok(written)
    }

    /// One page in roff: clap's sections, with (on the top page) the extra
    /// ones before the version, where a manual's reader looks for them.
    fn render(&self, command: &Command, top: bool) -> Vec<u8> {
        // Every page names the program and its version, subcommands' too.
        let source = format!("{} {}", self.name(), self.command.get_version().unwrap_or_default());
        let man = Man::new(command.clone()).section(self.section.number()).manual("Warden").source(source.trim_end());
        let mut out = Vec::new();
        // Rendering into memory cannot fail: the results are ignored.
        if !top || self.extra.is_empty() {
            let _ = man.render(&mut out);
            return out;
        }
        let _ = man.render_title(&mut out);
        let mut parts: Vec<RenderSection> =
            vec![Man::render_name_section, Man::render_synopsis_section, Man::render_description_section];
        if command.get_arguments().any(|a| !a.is_hide_set()) {
            parts.push(Man::render_options_section);
        }
        if command.get_subcommands().any(|s| !s.is_hide_set()) {
            parts.push(Man::render_subcommands_section);
        }
        for part in parts {
            let mut section = Vec::new();
            let _ = part(&man, &mut section);
            out.extend_from_slice(without_preamble(&section));
        }
        let mut roff = Roff::default();
        for (heading, paragraphs) in &self.extra {
            roff.control("SH", [heading.as_str()]);
            for (i, paragraph) in paragraphs.iter().enumerate() {
                if i > 0 {
                    roff.control("PP", []);
                }
                roff.text([roman(paragraph.as_str())]);
            }
        }
        out.extend_from_slice(without_preamble(roff.render().as_bytes()));
        if command.get_version().is_some() {
            let mut section = Vec::new();
            let _ = man.render_version_section(&mut section);
            out.extend_from_slice(without_preamble(&section));
        }
        out
    }
}

/// One of [`Man`]'s sections, written on its own.
type RenderSection = fn(&Man, &mut dyn std::io::Write) -> std::io::Result<()>;

/// `roff` without the two lines every rendering starts with (the
/// definition of the apostrophe string), which the page needs only once.
fn without_preamble(roff: &[u8]) -> &[u8] {
    let mut rest = roff;
    for _ in 0..2 {
        if rest.starts_with(b".ie ") || rest.starts_with(b".el ") {
            rest = rest.iter().position(|&b| b == b'\n').and_then(|at| rest.get(at + 1..)).unwrap_or_default();
        }
    }
    rest
}

/// What `args` (the program's own, its name first) ask for: `Ok(Some(DIR))`
/// for `PROGRAM --generate-assets DIR`, `Ok(None)` when the flag is not the
/// first argument.
///
/// # Errors
///
/// A line of usage when the flag comes with anything but one directory.
pub fn asked<I: IntoIterator<Item = OsString>>(args: I) -> Result<Option<PathBuf>, String> {
    let mut args = args.into_iter().skip(1);
    if args.next().is_none_or(|first| first != FLAG) {
        return Ok(None);
    }
    match (args.next(), args.next()) {
        (Some(dir), None) => Ok(Some(PathBuf::from(dir))),
        _ => Err(format!("usage: {FLAG} DIR")),
    }
}

/// The hook for a program whose command line is the clap parser `P`: see
/// the crate's contract.
#[must_use]
pub fn hook<P: CommandFactory>(section: Section) -> Option<ExitCode> {
    hook_with(|| Page::new(P::command(), section))
}

/// The hook for a program that builds its page itself (one whose command
/// line is not a clap parser, or that adds sections).
#[must_use]
pub fn hook_with(page: impl FnOnce() -> Page) -> Option<ExitCode> {
    let dir = match asked(std::env::args_os()) {
        Ok(None) => return None,
        Ok(Some(dir)) => dir,
        Err(usage) => {
            eprintln!("{usage}");
            return Some(ExitCode::from(2));
        }
    };
    let page = page();
    match page.write(&dir) {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            Some(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}: {e}", page.name());
            Some(ExitCode::FAILURE)
        }
    }
}

/// Every visible subcommand under `command`, depth first, as built (so
/// each has its display name, `PROGRAM-SUB`).
fn subcommands(command: &Command) -> Vec<Command> {
    let mut pages = Vec::new();
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push(sub.clone());
        pages.extend(subcommands(sub));
    }
    pages
}

fn display_name(command: &Command) -> String {
    command.get_display_name().unwrap_or_else(|| command.get_name()).to_owned()
}

fn create_dir(path: &Path) -> Result<(), Error> {
    fs::create_dir_all(path).map_err(|source| Error::Directory { path: path.to_owned(), source })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<PathBuf, Error> {
    fs::write(path, bytes).map_err(|source| Error::Write { path: path.to_owned(), source })?;
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction};

    fn toy() -> Command {
        Command::new("toyd")
            .version("1.2.3")
            .about("A toy daemon.")
            .arg(Arg::new("verbose").long("verbose").help("Say more.").action(ArgAction::SetTrue).global(true))
            .subcommand(
                Command::new("run")
                    .about("Run it.")
                    .arg(Arg::new("config").long("config").value_name("FILE").help("The configuration.")),
            )
            .subcommand(Command::new("secret").hide(true))
            .subcommand(Command::new("debug").about("Debugging.").subcommand(Command::new("dump").about("Dump.")))
    }

    fn text(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    #[test]
    fn pages_and_completions_land_where_usr_share_has_them() {
        let dir = tempfile::tempdir().unwrap();
        let page = Page::new(toy(), Section::Admin).with_section("exit status", ["0 done.", "1 failed."]);
        let written = page.write(dir.path()).unwrap();
        let mut names: Vec<String> =
            written.iter().map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "bash-completion/completions/toyd",
                "fish/vendor_completions.d/toyd.fish",
                "man/man8/toyd-debug-dump.8",
                "man/man8/toyd-debug.8",
                "man/man8/toyd-run.8",
                "man/man8/toyd.8",
                "zsh/vendor-completions/_toyd",
            ]
        );
        let top = text(&dir.path().join("man/man8/toyd.8"));
        assert_eq!(top.matches(".ds Aq").count(), 2, "the apostrophe is defined once (for groff and others): {top}");
        assert!(top.contains("\n.TH toyd 8 "), "{top}");
        assert!(top.contains("toyd\\-run(8)"), "the subcommand's page is named: {top}");
        assert!(!top.contains("secret"), "hidden subcommands stay hidden");
        assert!(!top.contains(FLAG), "the hook's flag is no option");
        assert!(top.contains(".SH \"EXIT STATUS\"\n0 done.\n.PP\n1 failed.\n.SH VERSION\n"), "{top}");
        let run = text(&dir.path().join("man/man8/toyd-run.8"));
        assert!(run.contains("\\-\\-config") && run.contains("The configuration."), "{run}");
        assert!(!run.contains("EXIT STATUS"), "extra sections are the top page's");
        assert!(text(&dir.path().join("bash-completion/completions/toyd")).contains("--config"));
        assert!(text(&dir.path().join("zsh/vendor-completions/_toyd")).starts_with("#compdef toyd"));
        assert!(text(&dir.path().join("fish/vendor_completions.d/toyd.fish")).contains("complete -c toyd"));
    }

    #[test]
    fn the_flag_is_asked_for_first_and_alone() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(asked(args(&["toyd", FLAG, "/tmp/x"])), Ok(Some(PathBuf::from("/tmp/x"))));
        assert_eq!(asked(args(&["toyd", "run", FLAG, "/tmp/x"])), Ok(None));
        assert_eq!(asked(args(&["toyd"])), Ok(None));
        assert!(asked(args(&["toyd", FLAG])).is_err());
        assert!(asked(args(&["toyd", FLAG, "a", "b"])).is_err());
    }

    #[test]
    fn an_unwritable_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        fs::write(&file, b"").unwrap();
        let e = Page::new(toy(), Section::User).write(&file).unwrap_err();
        assert!(e.to_string().starts_with(&format!("creating directory {}", file.join("man/man1").display())), "{e}");
    }
}
