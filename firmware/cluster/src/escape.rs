//! The escapes of send/expect strings, so binary protocols can be checked.

use std::fmt;

/// A send/expect string with a bad escape.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EscapeError {
    /// A `\` at the end of the string.
    Trailing,
    /// `\` followed by a character that is not an escape.
    Unknown {
        /// The character after the backslash.
        found: char,
        /// Its byte offset in the string.
        at: usize,
    },
    /// `\x` not followed by two hex digits.
    BadHex {
        /// Byte offset of the backslash.
        at: usize,
    },
}

impl fmt::Display for EscapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Trailing => f.write_str("string ends with a lone '\\'"),
            Self::Unknown { found, at } => {
                write!(f, "unknown escape '\\{found}' at byte {at} (known: \\n \\r \\t \\0 \\\\ \\xHH)")
            }
            Self::BadHex { at } => {
                write!(f, "'\\x' at byte {at} is not followed by two hex digits")
            }
        }
    }
}

impl std::error::Error for EscapeError {}

/// Turns `GET / HTTP/1.0\r\n\r\n` or `\x00\x01ping` into bytes. Escapes:
/// `\n`, `\r`, `\t`, `\0`, `\\`, `\xHH`; anything else after `\` is an error.
pub fn unescape(text: &str) -> Result<Vec<u8>, EscapeError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let Some(&next) = bytes.get(i + 1) else {
            return Err(EscapeError::Trailing);
        };
        let (byte, width) = match next {
            b'n' => (b'\n', 2),
            b'r' => (b'\r', 2),
            b't' => (b'\t', 2),
            b'0' => (0, 2),
            b'\\' => (b'\\', 2),
            b'x' => {
                let hex = bytes.get(i + 2..i + 4).ok_or(EscapeError::BadHex { at: i })?;
                let hex = std::str::from_utf8(hex).map_err(|_| EscapeError::BadHex { at: i })?;
                if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(EscapeError::BadHex { at: i });
                }
                (u8::from_str_radix(hex, 16).map_err(|_| EscapeError::BadHex { at: i })?, 4)
            }
            _ => {
                let found = text.get(i + 1..).and_then(|s| s.chars().next()).unwrap_or('?');
                return Err(EscapeError::Unknown { found, at: i });
            }
        };
        out.push(byte);
        i += width;
    }
    Ok(out)
}

/// Bytes shown with the same escapes, for messages.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        let text = "GET / HTTP/1.0\\r\\n\\r\\n\\x00\\xff\\t\\\\";
        let bytes = unescape(text).unwrap();
        assert_eq!(bytes, b"GET / HTTP/1.0\r\n\r\n\x00\xff\t\\");
        assert_eq!(escape(&bytes), "GET / HTTP/1.0\\r\\n\\r\\n\\x00\\xff\\t\\\\");
        assert_eq!(unescape("\\0").unwrap(), [0]);
    }

    #[test]
    fn bad_escapes_are_named() {
        assert_eq!(unescape("abc\\"), Err(EscapeError::Trailing));
        assert_eq!(unescape("a\\q"), Err(EscapeError::Unknown { found: 'q', at: 1 }));
        assert_eq!(unescape("\\x4"), Err(EscapeError::BadHex { at: 0 }));
        assert_eq!(unescape("\\xg0"), Err(EscapeError::BadHex { at: 0 }));
        assert_eq!(unescape("\\x+1"), Err(EscapeError::BadHex { at: 0 }));
        assert_eq!(unescape("é\\x41"), Ok("éA".as_bytes().to_vec()));
    }
}
