//! Reading the controller file with every value's place in it: a thin layer
//! over `toml_edit` that knows the key path of each table it hands out and
//! turns every refusal into a [`ConfigError`] with file, line and key.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use toml_edit::{ImDocument, Item, TableLike, Value};

use crate::duration::parse_duration;
use crate::locate::line_of;
use crate::validate::BAUDS;
use crate::ConfigError;

/// A parsed document and where it came from.
pub(super) struct Doc<'a> {
    doc: ImDocument<&'a str>,
    text: &'a str,
    origin: &'a str,
}

/// A table of the document with its key path.
pub(super) struct Table<'d> {
    table: &'d dyn TableLike,
    path: String,
    span: Range<usize>,
    text: &'d str,
    origin: &'d str,
}

impl<'a> Doc<'a> {
    /// Parses `text`.
    pub(super) fn parse(text: &'a str, origin: &'a str) -> Result<Self, ConfigError> {
        let doc = ImDocument::parse(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start).min(text.len());
            let line_start = text.get(..at).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
            ConfigError::Syntax {
                origin: origin.to_owned(),
                line: line_of(text, at),
                column: text.get(line_start..at).map_or(0, |t| t.chars().count()) + 1,
                message: e.message().lines().next().unwrap_or_default().to_owned(),
            }
        })?;
        Ok(Self { doc, text, origin })
    }

    /// The top-level table, refusing keys other than `known`.
    pub(super) fn top(&self, known: &[&str]) -> Result<Table<'_>, ConfigError> {
        let t =
            Table { table: self.doc.as_table(), path: String::new(), span: 0..0, text: self.text, origin: self.origin };
        t.only(known)?;
        Ok(t)
    }
}

impl<'d> Table<'d> {
    /// The full key path of `key` in this table.
    pub(super) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn error_at(&self, span: Option<Range<usize>>, key: String, message: &str) -> ConfigError {
        let at = span.unwrap_or_else(|| self.span.clone()).start;
        ConfigError::Invalid {
            origin: self.origin.to_owned(),
            line: line_of(self.text, at),
            key: if key.is_empty() { "(top level)".to_owned() } else { key },
            message: message.to_owned(),
        }
    }

    fn value_span(&self, key: &str) -> Option<Range<usize>> {
        match self.table.get(key)? {
            Item::Value(v) => v.span(),
            Item::Table(t) => t.span(),
            Item::ArrayOfTables(a) => a.span(),
            Item::None => None,
        }
        .or_else(|| self.table.key(key).and_then(toml_edit::Key::span))
    }

    /// `key` holds a value that is refused.
    pub(super) fn invalid(&self, key: &str, message: &str) -> ConfigError {
        self.error_at(self.value_span(key), self.key_path(key), message)
    }

    /// `key` is required but missing.
    pub(super) fn missing(&self, key: &str) -> ConfigError {
        self.error_at(None, self.key_path(key), "is required but missing")
    }

    /// None of `keys` is there, and one is needed.
    pub(super) fn missing_one_of(&self, keys: &[&str]) -> ConfigError {
        let list: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
        self.error_at(None, self.path.clone(), &format!("needs at least one of {}", list.join(", ")))
    }

    /// Refuses keys other than `known`.
    pub(super) fn only(&self, known: &[&str]) -> Result<(), ConfigError> {
        for (key, _) in self.table.iter() {
            if !known.contains(&key) {
                let span = self.table.key(key).and_then(toml_edit::Key::span);
                let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                return Err(self.error_at(
                    span,
                    self.key_path(key),
                    &format!("unknown key (known keys here: {})", list.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn value(&self, key: &str) -> Option<&'d Value> {
        self.table.get(key).and_then(Item::as_value)
    }

    fn wrong_type(&self, key: &str, expected: &str) -> ConfigError {
        self.invalid(key, &format!("must be {expected}"))
    }

    /// The sub-table `key` (a `[table]` or an inline `{ ... }`).
    pub(super) fn table(&self, key: &str) -> Result<Option<Self>, ConfigError> {
        let Some(item) = self.table.get(key) else { return Ok(None) };
        let (table, span): (&dyn TableLike, _) = match item {
            Item::Table(t) => (t, t.span()),
            Item::Value(Value::InlineTable(t)) => (t, t.span()),
            _ => return Err(self.wrong_type(key, "a table")),
        };
        let span = span.or_else(|| self.value_span(key)).unwrap_or_else(|| self.span.clone());
        Ok(Some(Self { table, path: self.key_path(key), span, text: self.text, origin: self.origin }))
    }

    /// The tables of the array `[[key]]`.
    pub(super) fn array_of_tables(&self, key: &str) -> Result<Vec<Self>, ConfigError> {
        let Some(item) = self.table.get(key) else { return Ok(Vec::new()) };
        let Item::ArrayOfTables(array) = item else { return Err(self.wrong_type(key, "an array of tables ([[...]])")) };
        Ok(array
            .iter()
            .enumerate()
            .map(|(i, t)| Self {
                table: t,
                path: format!("{}[{i}]", self.key_path(key)),
                span: t.span().unwrap_or_else(|| self.span.clone()),
                text: self.text,
                origin: self.origin,
            })
            .collect())
    }

    /// A string.
    pub(super) fn string(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.value(key) {
            None if self.table.get(key).is_none() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.value().clone())),
            _ => Err(self.wrong_type(key, "a string")),
        }
    }

    /// A non-empty path.
    pub(super) fn path(&self, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        match self.string(key)? {
            Some(s) if s.is_empty() => Err(self.invalid(key, "must not be empty")),
            other => Ok(other.map(PathBuf::from)),
        }
    }

    /// An absolute path.
    pub(super) fn absolute_path(&self, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        match self.path(key)? {
            Some(p) if p.is_relative() => {
                Err(self.invalid(key, &format!("`{}` must be an absolute path", p.display())))
            }
            other => Ok(other),
        }
    }

    /// A boolean.
    pub(super) fn boolean(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        match self.value(key) {
            None if self.table.get(key).is_none() => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b.value())),
            _ => Err(self.wrong_type(key, "true or false")),
        }
    }

    /// An integer in `min..=max`.
    pub(super) fn integer(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, ConfigError> {
        match self.value(key) {
            None if self.table.get(key).is_none() => Ok(None),
            Some(Value::Integer(i)) if (min..=max).contains(i.value()) => Ok(Some(*i.value())),
            _ => Err(self.wrong_type(key, &format!("an integer from {min} to {max}"))),
        }
    }

    /// A line speed from the list serial ports take.
    pub(super) fn baud(&self, key: &str) -> Result<Option<u32>, ConfigError> {
        let known = || BAUDS.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
        match self.value(key) {
            None if self.table.get(key).is_none() => Ok(None),
            Some(Value::Integer(i)) => match u32::try_from(*i.value()).ok().filter(|b| BAUDS.contains(b)) {
                Some(b) => Ok(Some(b)),
                None => Err(self.invalid(key, &format!("{} is not a line speed (known: {})", i.value(), known()))),
            },
            _ => Err(self.wrong_type(key, &format!("an integer line speed ({})", known()))),
        }
    }

    /// `IP:PORT`.
    pub(super) fn socket_addr(&self, key: &str) -> Result<Option<SocketAddr>, ConfigError> {
        match self.string(key)? {
            None => Ok(None),
            Some(s) => match s.parse::<SocketAddr>() {
                Ok(a) if a.port() != 0 => Ok(Some(a)),
                _ => Err(self.invalid(key, &format!("`{s}` is not IP:PORT with a port from 1 to 65535"))),
            },
        }
    }

    /// A duration, in the cluster file's grammar: an integer of
    /// milliseconds, or a string like `"200ms"`, `"1.5s"`, `"1m"`, `"1h"`.
    pub(super) fn duration(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        match self.value(key) {
            None if self.table.get(key).is_none() => Ok(None),
            Some(Value::Integer(i)) => match u64::try_from(*i.value()) {
                Ok(ms) => Ok(Some(Duration::from_millis(ms))),
                Err(_) => Err(self.invalid(key, &format!("duration {} is negative", i.value()))),
            },
            Some(Value::String(s)) => {
                parse_duration(s.value()).map(|ms| Some(Duration::from_millis(ms))).map_err(|e| self.invalid(key, &e))
            }
            _ => Err(self.wrong_type(
                key,
                "a duration: an integer of milliseconds or a string like \"200ms\", \"2s\", \"1.5s\", \"1m\"",
            )),
        }
    }
}
