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

/// The class of an ASCII byte in names: 2 may start a name, 1 may only follow, 0 may not
/// appear; `None` for the bytes of non-ASCII characters.
pub(super) fn ascii_class(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' | b'a'..=b'z' | b'_' => Some(2),
        b'0'..=b'9' | b'-' | b'.' => Some(1),
        0..=0x7F => Some(0),
        _ => None,
    }
}

/// Whether `name` is a non-colonised name (NCName).
pub(crate) fn is_valid_ncname(name: &str) -> bool {
    // Nearly every name is ASCII: check bytes, and fall back to the full rules otherwise.
    let bytes = name.as_bytes();
    let Some((&first, rest)) = bytes.split_first() else {
        return false;
    };
    if ascii_class(first) == Some(2) && rest.iter().all(|&b| ascii_class(b).is_some_and(|c| c > 0))
    {
        return true;
    }
    if bytes.is_ascii() {
        return false;
    }
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
}

/// Splits a qualified name into prefix and local part; `None` if it is not a valid QName.
pub(crate) fn split_qname(name: &str) -> Option<(Option<&str>, &str)> {
    // Fast path: one pass over an ASCII name, noting the colon.
    let bytes = name.as_bytes();
    let mut colon = None;
    let mut at_start = true;
    let mut ascii = true;
    for (i, &b) in bytes.iter().enumerate() {
        match ascii_class(b) {
            Some(2) => {}
            Some(1) if !at_start => {}
            _ if b == b':' && colon.is_none() && !at_start => {
                colon = Some(i);
                at_start = true;
                continue;
            }
            None => {
                ascii = false;
                break;
            }
            _ => return None,
        }
        at_start = false;
    }
    if ascii {
        if at_start {
            return None;
        }
        return Some(match colon {
            Some(i) => (name.get(..i), name.get(i + 1..)?),
            None => (None, name),
        });
    }
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

    /// The ASCII fast paths agree with the full rules on every short string over an alphabet
    /// of each character class.
    #[test]
    fn fast_paths_match_the_full_rules() {
        fn reference(name: &str) -> Option<(Option<&str>, &str)> {
            let ncname = |s: &str| {
                let mut chars = s.chars();
                chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
            };
            match name.split_once(':') {
                None => ncname(name).then_some((None, name)),
                Some((p, l)) => (ncname(p) && ncname(l)).then_some((Some(p), l)),
            }
        }
        let alphabet = ['a', 'Z', '_', '1', '-', '.', ':', 'é', '\u{B7}', ' ', '/'];
        let mut names = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = names
                .iter()
                .flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}")))
                .collect();
            names.extend(longer);
            names.dedup();
        }
        for name in &names {
            assert_eq!(split_qname(name), reference(name), "{name:?}");
            let ncname = reference(name).is_some_and(|(p, _)| p.is_none());
            assert_eq!(is_valid_ncname(name), ncname, "{name:?}");
        }
    }
}
