//! Text from a server, made harmless before it reaches a terminal. A provider's
//! `error_description`, a Convex function's error message, or a name stored in the backend could
//! carry escape sequences (move the cursor, clear the screen, retitle the window), a carriage
//! return or newline (overwrite a line, fake one), or bidirectional overrides (reorder what is
//! read). Each such character is shown escaped instead, so it is visible and inert.

use std::borrow::Cow;
use std::fmt::Write as _;

/// C0 and C1 controls and DEL, and the invisible characters that reorder or break lines.
fn hazardous(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `text` for one line of a terminal: `\n`, `\r` and `\t` by name, other ASCII controls as
/// `\x1b`, the rest as `\u{202e}`. Text with nothing to escape is returned as it is.
pub fn line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hazardous) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            c if !hazardous(c) => shown.push(c),
            c if c.is_ascii() => {
                let _ = write!(shown, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(shown, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(shown)
}

/// A serialized JSON document with the hazardous characters serde_json leaves raw (DEL, C1
/// controls, bidirectional controls, line separators) written as `\uXXXX`: the same JSON value,
/// safe to print. serde_json already escapes C0 controls inside strings, so a raw one here is the
/// document's own formatting and stays.
pub fn json(document: &str) -> Cow<'_, str> {
    let raw = |c: char| hazardous(c) && c > '\u{1f}';
    if !document.chars().any(raw) {
        return Cow::Borrowed(document);
    }
    let mut safe = String::with_capacity(document.len() + 16);
    for c in document.chars() {
        if raw(c) {
            // Every hazardous character is in the Basic Multilingual Plane: one `\uXXXX` each.
            let _ = write!(safe, "\\u{:04x}", u32::from(c));
        } else {
            safe.push(c);
        }
    }
    Cow::Owned(safe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_is_untouched_and_not_copied() {
        for text in [
            "Dana Demo",
            "Zoë Ångström",
            "李小龍",
            "report (final).pdf",
            "",
        ] {
            assert!(matches!(line(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        assert_eq!(line("evil\u{1b}[31mred"), "evil\\x1b[31mred");
        assert_eq!(line("\u{1b}]0;title\u{7}"), "\\x1b]0;title\\x07");
        assert_eq!(line("del\u{7f}"), "del\\x7f");
        assert_eq!(line("csi\u{9b}2J"), "csi\\u{9b}2J");
        assert_eq!(line("nul\0"), "nul\\x00");
    }

    #[test]
    fn a_field_cannot_add_or_overwrite_lines() {
        assert_eq!(line("a\nb\r\nc\td"), "a\\nb\\r\\nc\\td");
        assert_eq!(line("one\u{2028}two\u{2029}"), "one\\u{2028}two\\u{2029}");
        assert_eq!(line("x\ny").lines().count(), 1);
    }

    #[test]
    fn bidirectional_overrides_cannot_reorder_text() {
        assert_eq!(line("invoice\u{202e}fdp.exe"), "invoice\\u{202e}fdp.exe");
        assert_eq!(line("\u{2066}a\u{2069}"), "\\u{2066}a\\u{2069}");
        assert_eq!(line("\u{200f}\u{61c}"), "\\u{200f}\\u{61c}");
    }

    #[test]
    fn json_stays_the_same_value_without_raw_hazards() {
        let value = serde_json::json!({
            "name": "a\u{1b}b\u{9b}c\u{7f}d\u{202e}e\nf",
            "plain": "Zoë",
        });
        let pretty = serde_json::to_string_pretty(&value).expect("serialised");
        let safe = json(&pretty);
        assert!(!safe.chars().any(|c| hazardous(c) && c != '\n'), "{safe}");
        assert!(
            safe.contains("\\u009b") && safe.contains("\\u202e"),
            "{safe}"
        );
        let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
        assert_eq!(back, value);
        let plain = serde_json::to_string_pretty(&serde_json::json!({"a": "b"})).expect("json");
        assert!(matches!(json(&plain), Cow::Borrowed(_)));
    }
}
