//! OCF resource agents.

use std::path::PathBuf;
use std::time::Duration;

use super::{action_error, check_word};
use crate::drivers::process::{Exit, Invocation};
use crate::resource::{ErrorKind, Health, Presence, Resource, ResourceError};

/// Where OCF agents live when no root is configured.
pub const DEFAULT_OCF_ROOT: &str = "/usr/lib/ocf";

/// How much of `meta-data` output is kept (agents' metadata runs to a few KiB).
const META_DATA_CAP: usize = 64 * 1024;

/// OCF exit codes.
const OCF_SUCCESS: i32 = 0;
const OCF_ERR_GENERIC: i32 = 1;
const OCF_NOT_RUNNING: i32 = 7;
const OCF_RUNNING_PROMOTED: i32 = 8;
const OCF_FAILED_PROMOTED: i32 = 9;

/// An OCF resource agent, `$OCF_ROOT/resource.d/PROVIDER/TYPE`.
///
/// Every action runs with `OCF_ROOT`, `OCF_RA_VERSION_MAJOR=1`,
/// `OCF_RA_VERSION_MINOR=0`, `OCF_RESOURCE_INSTANCE`, `OCF_RESOURCE_TYPE`,
/// `OCF_RESOURCE_PROVIDER`, `OCF_RESKEY_CRM_meta_timeout` (the timeout in
/// ms) and one `OCF_RESKEY_<name>` per parameter.
///
/// Exit codes:
/// * `start`: 0 is success; anything else an error (see below).
/// * `stop`: 0 or 7 (`OCF_NOT_RUNNING`) is success.
/// * `monitor` (the probe): 0 [`Presence::Active`] (8, running promoted,
///   too), 7 [`Presence::Inactive`], 1 (`OCF_ERR_GENERIC`: running but
///   failed) and 9 (failed promoted) [`Presence::Unknown`].
/// * errors: 2 (`OCF_ERR_ARGS`) and 6 (`OCF_ERR_CONFIGURED`)
///   [`ErrorKind::Config`], 4 (`OCF_ERR_PERM`) [`ErrorKind::Permission`],
///   5 (`OCF_ERR_INSTALLED`) [`ErrorKind::NotInstalled`], 1, 3
///   (`OCF_ERR_UNIMPLEMENTED`) and others [`ErrorKind::Failed`].
#[derive(Debug, Clone)]
pub struct OcfAgent {
    root: PathBuf,
    provider: String,
    kind: String,
    instance: String,
    params: Vec<(String, String)>,
    timeout: Duration,
}

impl OcfAgent {
    /// The agent `provider`/`kind` (e.g. `heartbeat`/`IPaddr2`) under
    /// `ocf_root` (`None`: [`DEFAULT_OCF_ROOT`]), for the resource instance
    /// `instance` with the given parameters (names without the
    /// `OCF_RESKEY_` prefix); every action must finish within `timeout`.
    ///
    /// Errors ([`ErrorKind::Config`]): an empty or path-like provider, type
    /// or instance; a parameter name that is not letters, digits and `_`; a
    /// value with a NUL byte; a relative root; a zero timeout.
    pub fn new(
        ocf_root: Option<PathBuf>,
        provider: &str,
        kind: &str,
        instance: &str,
        params: Vec<(String, String)>,
        timeout: Duration,
    ) -> Result<Self, ResourceError> {
        check_word(provider, "OCF provider")?;
        check_word(kind, "OCF agent type")?;
        check_word(instance, "OCF resource instance")?;
        let root = ocf_root.unwrap_or_else(|| PathBuf::from(DEFAULT_OCF_ROOT));
        if !root.is_absolute() {
            return Err(ResourceError::new(
                ErrorKind::Config,
                format!("OCF root {} is not an absolute path", root.display()),
            ));
        }
        for (name, value) in &params {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ResourceError::new(
                    ErrorKind::Config,
                    format!("OCF resource {instance}: parameter name {name:?} must be letters, digits and '_'"),
                ));
            }
            if value.contains('\0') {
                return Err(ResourceError::new(
                    ErrorKind::Config,
                    format!("OCF resource {instance}: parameter {name} contains a NUL byte"),
                ));
            }
        }
        if timeout.is_zero() {
            return Err(ResourceError::new(ErrorKind::Config, format!("OCF resource {instance}: timeout is zero")));
        }
        Ok(Self {
            root,
            provider: provider.to_owned(),
            kind: kind.to_owned(),
            instance: instance.to_owned(),
            params,
            timeout,
        })
    }

    /// The agent's path: `$OCF_ROOT/resource.d/PROVIDER/TYPE`.
    pub fn path(&self) -> PathBuf {
        self.root.join("resource.d").join(&self.provider).join(&self.kind)
    }

    /// The agent's `meta-data` (its XML description).
    pub fn meta_data(&self) -> Result<String, ResourceError> {
        let (exit, what) = self.run("meta-data", META_DATA_CAP)?;
        if exit.success() {
            Ok(exit.output)
        } else {
            Err(action_error(&exit, &what))
        }
    }

    /// Runs `validate-all`: Ok when the agent accepts the parameters.
    pub fn validate(&self) -> Result<(), ResourceError> {
        let (exit, what) = self.run("validate-all", crate::drivers::process::OUTPUT_CAP)?;
        if exit.success() {
            Ok(())
        } else {
            Err(action_error(&exit, &what))
        }
    }

    fn run(&self, action: &str, cap: usize) -> Result<(Exit, String), ResourceError> {
        let path = self.path();
        let what = format!("OCF agent {} {action} (resource {})", path.display(), self.instance);
        if !path.is_file() {
            return Err(ResourceError::new(ErrorKind::NotInstalled, format!("{what}: agent not found")));
        }
        let mut invocation = Invocation::new(&path)
            .arg(action)
            .timeout(self.timeout)
            .output_cap(cap)
            .env("OCF_ROOT", &self.root)
            .env("OCF_RA_VERSION_MAJOR", "1")
            .env("OCF_RA_VERSION_MINOR", "0")
            .env("OCF_RESOURCE_INSTANCE", &self.instance)
            .env("OCF_RESOURCE_TYPE", &self.kind)
            .env("OCF_RESOURCE_PROVIDER", &self.provider)
            .env("OCF_RESKEY_CRM_meta_timeout", self.timeout.as_millis().to_string());
        for (name, value) in &self.params {
            invocation = invocation.env(format!("OCF_RESKEY_{name}"), value);
        }
        let exit = invocation.run(&what)?;
        Ok((exit, what))
    }

    fn run_monitor(&self) -> Result<(Presence, Exit, String), ResourceError> {
        let (exit, what) = self.run("monitor", crate::drivers::process::OUTPUT_CAP)?;
        let presence = match exit.code {
            Some(OCF_SUCCESS | OCF_RUNNING_PROMOTED) => Presence::Active,
            Some(OCF_NOT_RUNNING) => Presence::Inactive,
            Some(OCF_ERR_GENERIC | OCF_FAILED_PROMOTED) => Presence::Unknown,
            _ => return Err(action_error(&exit, &what)),
        };
        Ok((presence, exit, what))
    }
}

impl Resource for OcfAgent {
    fn describe(&self) -> String {
        format!("OCF resource {} ({}:{})", self.instance, self.provider, self.kind)
    }

    fn start(&mut self) -> Result<(), ResourceError> {
        let (exit, what) = self.run("start", crate::drivers::process::OUTPUT_CAP)?;
        if exit.success() {
            Ok(())
        } else {
            Err(action_error(&exit, &what))
        }
    }

    fn stop(&mut self) -> Result<(), ResourceError> {
        let (exit, what) = self.run("stop", crate::drivers::process::OUTPUT_CAP)?;
        match exit.code {
            Some(OCF_SUCCESS | OCF_NOT_RUNNING) => Ok(()),
            _ => Err(action_error(&exit, &what)),
        }
    }

    fn probe(&mut self) -> Result<Presence, ResourceError> {
        self.run_monitor().map(|(presence, _, _)| presence)
    }

    fn monitor(&mut self) -> Result<Health, ResourceError> {
        let (presence, exit, what) = self.run_monitor()?;
        Ok(match presence {
            Presence::Active => Health::Healthy,
            Presence::Inactive => Health::Unhealthy(format!("{what}: not running (exit 7){}", exit.output_suffix())),
            Presence::Unknown => {
                Health::Unhealthy(format!("{what}: failed ({}){}", exit.describe(), exit.output_suffix()))
            }
        })
    }
}
