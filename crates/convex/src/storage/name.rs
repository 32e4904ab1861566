//! The names `files:save` keeps, checked before an upload sends anything: the same rules as
//! `validName` in convex/functions/files.ts (and the local stack's `valid_name`), so a name the
//! backend would refuse after the bytes arrived is refused here, with the same code
//! (`invalid_name`), before any request. The backend still checks: this only saves the trip.

use crate::ConvexError;

/// Most characters (code points) a file name may have once trimmed.
pub const MAX_NAME_CHARS: usize = 255;

/// Characters that reorder how text is shown (Unicode's bidirectional formatting characters):
/// in a file name they make `exe.txt` look like `txt.exe`.
fn reorders_text(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The name as the backend will keep it: no control or bidirectional formatting characters,
/// trimmed as JavaScript's `trim` trims (white space and U+FEFF), not empty, at most
/// [`MAX_NAME_CHARS`] characters. Control characters are refused before trimming, so the white
/// space the two languages disagree on (U+0085 and the other C0/C1 controls) never reaches it.
pub fn kept_name(name: &str) -> Result<&str, ConvexError> {
    let refused = |message: String| ConvexError::InvalidName {
        name: name.to_string(),
        message,
    };
    if name.chars().any(|c| c.is_control() || reorders_text(c)) {
        return Err(refused(
            "The file's name has control or text-direction characters, which can disguise a file's type; nothing was uploaded. Rename the file without them and try again.".into(),
        ));
    }
    let trimmed = name.trim_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    if trimmed.is_empty() {
        return Err(refused(
            "The file's name is empty once spaces are trimmed; nothing was uploaded. Give the file a name and try again."
                .into(),
        ));
    }
    let length = trimmed.chars().count();
    if length > MAX_NAME_CHARS {
        return Err(refused(format!(
            "The file's name is {length} characters long, over the {MAX_NAME_CHARS} allowed; nothing was uploaded. Shorten it and try again."
        )));
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn refused(name: &str) -> bool {
        matches!(kept_name(name), Err(ConvexError::InvalidName { .. }))
    }

    #[test]
    fn names_are_trimmed_as_the_backend_trims_them() {
        assert_eq!(kept_name("  notes.txt\u{FEFF} ").ok(), Some("notes.txt"));
        assert_eq!(kept_name("\u{3000}memo\u{2029}").ok(), Some("memo"));
        assert_eq!(kept_name("<b>bold</b>.html").ok(), Some("<b>bold</b>.html"));
        assert_eq!(kept_name(&"é".repeat(255)).ok().map(str::len), Some(510));
    }

    #[test]
    fn control_direction_empty_and_long_names_are_refused_saying_what_to_do() {
        for bad in [
            "",
            "   ",
            "\u{FEFF}",
            "tab\there",
            "nul\u{0}",
            "next\u{85}line",
            "del\u{7f}",
            "evil\u{202E}txt.exe",
            "iso\u{2067}late",
            "mark\u{200F}",
            "arabic\u{061C}mark",
        ] {
            assert!(refused(bad), "{bad:?}");
        }
        let long = kept_name(&"a".repeat(256)).unwrap_err();
        assert_eq!(long.code(), "invalid_name");
        assert!(
            long.to_string().contains("256 characters") && long.to_string().contains("Shorten"),
            "{long}"
        );
        let hidden = kept_name("invoice\u{202E}fdp.exe").unwrap_err();
        assert!(
            hidden.to_string().contains("text-direction")
                && hidden.to_string().contains("nothing was uploaded")
                && hidden.to_string().contains("Rename the file"),
            "{hidden}"
        );
    }

    /// The name cases of the contract both backends are held to: every name `files:save`
    /// refuses as `INVALID_NAME` is refused here, and every other name it is given passes.
    #[test]
    fn the_contracts_names_are_judged_as_the_backend_judges_them() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../convex/contract/storage.json"
        );
        let text = std::fs::read_to_string(path).expect("the contract cases");
        let contract: Value = serde_json::from_str(&text).expect("JSON");
        let saves: Vec<&Value> = contract["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .filter(|case| case["call"]["path"] == "files:save")
            .collect();
        let mut judged = (0, 0);
        for case in saves {
            let Some(name) = case["call"]["args"]["name"].as_str() else {
                continue;
            };
            let backend_refuses = case["expect"]["errorData"]["code"] == "INVALID_NAME";
            assert_eq!(refused(name), backend_refuses, "{}", case["name"]);
            if backend_refuses {
                judged.0 += 1;
            } else {
                judged.1 += 1;
            }
        }
        assert!(
            judged.0 >= 5 && judged.1 >= 3,
            "the contract has names of both kinds: {judged:?}"
        );
    }
}
