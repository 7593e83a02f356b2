//! XML 1.0 (fifth edition) name rules, with the Namespaces in XML restriction of no colons in
//! prefixes and local names.

fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Whether `name` is a non-colonised name (NCName).
pub(crate) fn is_valid_ncname(name: &str) -> bool {
    // Nearly every name is ASCII: check bytes, and fall back to the full rules otherwise.
    let bytes = name.as_bytes();
    if bytes.is_ascii() {
        return bytes
            .first()
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    }
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
}

/// Splits a qualified name into prefix and local part; `None` if it is not a valid QName.
pub(crate) fn split_qname(name: &str) -> Option<(Option<&str>, &str)> {
    match name.split_once(':') {
        None => is_valid_ncname(name).then_some((None, name)),
        Some((prefix, local)) => {
            (is_valid_ncname(prefix) && is_valid_ncname(local)).then_some((Some(prefix), local))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names() {
        assert_eq!(
            split_qname("saml:Assertion"),
            Some((Some("saml"), "Assertion"))
        );
        assert_eq!(split_qname("ID"), Some((None, "ID")));
        assert_eq!(split_qname("été"), Some((None, "été")));
        for bad in [
            "", ":a", "a:", "a:b:c", "1a", "-a", "a b", "a:1", ".a", "a/b", "é b", "\u{B7}a",
        ] {
            assert_eq!(split_qname(bad), None, "{bad:?}");
        }
    }
}
