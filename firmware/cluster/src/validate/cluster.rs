//! `[cluster]`: the cluster's name, how frames are authenticated, and the
//! alert command.

use std::path::PathBuf;

use super::value::{argv, name};
use super::Checked;
use crate::error::Problem;
use crate::model::{AuthKind, Cluster};
use crate::raw::{RawCluster, S};

pub(super) fn check(raw: &S<RawCluster>) -> Checked<Cluster> {
    let c = raw.get_ref();
    let name = name(&c.name, "cluster")?;
    let auth = match c.auth.as_ref() {
        None => AuthKind::Hmac,
        Some(a) => match a.get_ref().as_str() {
            "hmac" => AuthKind::Hmac,
            "crc" => AuthKind::Crc,
            other => return Err(Problem::at(a.span(), format!("unknown auth `{other}` (known: hmac, crc)"))),
        },
    };
    let key_file = match (auth, c.key_file.as_ref()) {
        (AuthKind::Hmac, None) => {
            return Err(Problem::below(
                raw.span(),
                "key_file",
                "auth `hmac` needs `key_file`, the file holding the cluster key (mode 0600)",
            ))
        }
        (AuthKind::Crc, Some(k)) => {
            return Err(Problem::at(k.span(), "auth `crc` uses no key: remove `key_file` or use auth = \"hmac\""));
        }
        (_, Some(k)) if k.get_ref().is_empty() => return Err(Problem::at(k.span(), "is empty")),
        (_, k) => k.map(|k| PathBuf::from(k.get_ref())),
    };
    let alert = c.alert.as_ref().map(argv).transpose()?;
    Ok(Cluster {
        name,
        auth,
        key_file,
        fence_idle_dead: c.fence_idle_dead.as_ref().is_some_and(|b| *b.get_ref()),
        alert,
    })
}
