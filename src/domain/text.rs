//! Rules for text people choose and others read: names, descriptions, group names.

/// Overrides, embeddings and isolates: they reorder what follows them wherever the text is
/// shown (the token's `name`, listings, audit logs), "Trojan Source" spoofing.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show nothing by themselves: white space and Unicode's default-ignorable
/// code points (zero-width spaces and joiners, the byte-order mark, soft hyphens, variation
/// selectors, tags…). A name made only of these is blank.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

/// 1 to `max_chars` characters, not only invisible ones, without control characters or
/// bidirectional controls: a name people will read.
pub fn is_displayable(value: &str, max_chars: usize) -> bool {
    !value.chars().all(is_invisible)
        && value.chars().count() <= max_chars
        && !value.chars().any(|c| c.is_control() || is_bidi_control(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displayable_names() {
        assert!(is_displayable("Platform team", 256));
        assert!(is_displayable("CI\u{200D}bot", 256));
        assert!(is_displayable("שלום", 256));
        for bad in [
            "",
            "  ",
            "\u{200B}\u{FEFF}",
            "a\tb",
            "a\u{7}",
            "x\u{202E}y",
            "a\u{2066}",
        ] {
            assert!(!is_displayable(bad, 256), "{bad:?}");
        }
        assert!(is_displayable(&"é".repeat(256), 256));
        assert!(!is_displayable(&"é".repeat(257), 256));
    }
}
