//! `authkeys`: `auth N`, then `N sha1|md5|crc [KEY]` lines.

use super::error::{ImportError, Source, Unmapped};

/// The active key, in Warden's terms.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Key {
    /// `crc`: no key.
    Crc,
    /// `sha1` (or `md5`, reported): the key text, used with HMAC-SHA256.
    Hmac(Vec<u8>),
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        match self {
            Self::Crc => f.write_str("Crc"),
            Self::Hmac(k) => write!(f, "Hmac({} bytes)", k.len()),
        }
    }
}

fn invalid(line: usize, message: String) -> ImportError {
    ImportError::Invalid { file: Source::Authkeys, line, message }
}

/// Parses `authkeys`; key lines other than the active one are reported.
pub(crate) fn parse(text: &str, unmapped: &mut Vec<Unmapped>) -> Result<Key, ImportError> {
    let mut active: Option<(u32, usize)> = None;
    let mut keys: Vec<(u32, String, Option<String>, usize)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let (first, rest) = content.split_once(char::is_whitespace).unwrap_or((content, ""));
        let rest = rest.trim();
        if first == "auth" {
            let n = rest.parse::<u32>().map_err(|_| invalid(line, format!("`auth {rest}`: expected a key number")))?;
            if active.is_some() {
                return Err(invalid(line, "`auth` is given twice".to_owned()));
            }
            active = Some((n, line));
            continue;
        }
        let n =
            first.parse::<u32>().map_err(|_| invalid(line, format!("`{first}` is neither `auth` nor a key number")))?;
        let (method, key) =
            rest.split_once(char::is_whitespace).map_or((rest, None), |(m, k)| (m, Some(k.trim().to_owned())));
        if !["sha1", "md5", "crc"].contains(&method) {
            return Err(invalid(line, format!("key {n}: unknown method `{method}` (heartbeat knows sha1, md5, crc)")));
        }
        if keys.iter().any(|(m, ..)| *m == n) {
            return Err(invalid(line, format!("key {n} is defined twice")));
        }
        keys.push((n, method.to_owned(), key.filter(|k| !k.is_empty()), line));
    }
    let (n, auth_line) = active.ok_or_else(|| invalid(0, "no `auth N` line: the active key is unknown".to_owned()))?;
    let mut chosen = None;
    for (m, method, key, line) in keys {
        if m != n {
            unmapped.push(Unmapped {
                file: Source::Authkeys,
                line,
                directive: format!("{m} {method}"),
                why: format!("only the active key (auth {n}) is carried over"),
            });
            continue;
        }
        chosen = Some(match (method.as_str(), key) {
            ("crc", _) => Key::Crc,
            ("sha1", Some(k)) => Key::Hmac(k.into_bytes()),
            ("md5", Some(k)) => {
                unmapped.push(Unmapped {
                    file: Source::Authkeys,
                    line,
                    directive: format!("{m} md5"),
                    why: "Warden has no md5 tag: the key is used with hmac (HMAC-SHA256) instead".to_owned(),
                });
                Key::Hmac(k.into_bytes())
            }
            (_, None) => return Err(invalid(line, format!("key {m} ({method}) has no key text"))),
            _ => return Err(invalid(line, format!("key {m}: unknown method `{method}`"))),
        });
    }
    chosen.ok_or_else(|| invalid(auth_line, format!("`auth {n}` names no key line `{n} METHOD KEY`")))
}
