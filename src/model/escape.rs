//! Escaping tenant text before it reaches a terminal, a log line, the table or a metric label.
//!
//! Names, payloads, paths and exec output are written by tenants. Printed raw, a newline forges
//! whole log lines, ESC and BEL sequences retitle or recolour the operator's terminal, bidi
//! overrides reorder what is shown, and journald stores lines holding control bytes as binary
//! blobs. So every such text goes through [`text`] (or [`bytes`] for raw bytes) at the point
//! where it is rendered: the result is printable, one line, and unambiguous (`\` is doubled).
//! JSON output is escaped by serde and needs none of this.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that are printable but change how the text around them is displayed.
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}' | '\u{2029}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}')
}

fn needs_escape(c: char) -> bool {
    c == '\\' || unsafe_char(c)
}

/// A control character (C0, DEL, C1) or a bidi or invisible formatting character: what must
/// never reach a terminal or a log as is.
pub fn unsafe_char(c: char) -> bool {
    c.is_control() || is_format(c)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `text` with every control character (C0, DEL, C1), every bidi or invisible formatting
/// character and `\` escaped (`\n`, `\u{1b}`, `\u{202e}`, `\\`, as Rust writes them);
/// borrowed when nothing needs it.
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Raw bytes (a path, a name) as [`text`], with each byte of invalid UTF-8 as `\xNN`.
pub fn bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        out.push_str(&text(chunk.valid()));
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    out
}

/// A path as [`bytes`].
pub fn path(p: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    bytes(p.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_act_on_a_terminal() {
        assert_eq!(text("plain name é"), "plain name é");
        assert!(matches!(text("plain"), Cow::Borrowed(_)));
        assert_eq!(text("a\nremoved /x"), "a\\nremoved /x");
        assert_eq!(text("\x1b]0;pwned\x07"), "\\u{1b}]0;pwned\\u{7}");
        assert_eq!(text("\r\t\x7f"), "\\r\\t\\u{7f}");
        assert_eq!(text("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(text("abc\u{202e}gpj.exe"), "abc\\u{202e}gpj.exe");
        assert_eq!(text("a\\nb"), "a\\\\nb");
        assert_eq!(bytes(b"ok\xff\xfe\n"), "ok\\xff\\xfe\\n");
    }
}

/// Property tests: whatever the input, the output has no control or formatting character, is
/// one line, and different inputs never give the same output.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn clean(s: &str) -> bool {
        !s.chars().any(|c| c.is_control() || is_format(c))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn any_text_becomes_printable(s in "\\PC*|[\\x00-\\x1f\\x7f-\\u{9f}\\u{2028}\\u{202a}-\\u{202e}\\\\a]{0,40}") {
            let e = text(&s);
            prop_assert!(clean(&e));
            prop_assert!(!e.contains('\n'));
        }

        #[test]
        fn any_bytes_become_printable(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let e = bytes(&b);
            prop_assert!(clean(&e));
            if let Ok(s) = std::str::from_utf8(&b) {
                prop_assert_eq!(e, text(s).into_owned());
            }
        }

        #[test]
        fn escaping_is_injective(a in "[\\x00-\\x1f\\\\nx0-9a-f{}u]{0,12}", b in "[\\x00-\\x1f\\\\nx0-9a-f{}u]{0,12}") {
            if a != b {
                prop_assert_ne!(text(&a), text(&b));
            }
        }
    }
}
