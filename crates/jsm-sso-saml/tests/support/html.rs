//! Just enough HTML to drive an IdP's login pages without a browser: the `<form>` elements of a
//! page with their `action`, `method` and the named `<input>` fields a browser would submit.
//!
//! Careful where it matters for a login flow: attribute values quoted with `"` or `'` or
//! unquoted, names matched without regard to case, character references decoded (`&amp;` in
//! an `AuthState`, `&#43;` or `&#x2B;` in a base64 `SAMLResponse`), comments and the raw text of
//! `<script>`/`<style>`/`<textarea>` skipped so markup-like text in them is not taken for a form.
//! Not a general HTML parser: no tree, no implied end tags beyond `</form>` and end of input.

/// One `<form>` of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Form {
    /// The `action` attribute as written (decoded), `None` when absent (submit to the page).
    pub(crate) action: Option<String>,
    /// The `method` attribute, lower-cased; `get` when absent, as in browsers.
    pub(crate) method: String,
    /// Every `<input>` of the form, in document order.
    pub(crate) inputs: Vec<Input>,
}

/// One `<input>` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Input {
    /// The `type` attribute, lower-cased; `text` when absent.
    pub(crate) kind: String,
    /// The `name` attribute; inputs without one are never submitted.
    pub(crate) name: Option<String>,
    /// The `value` attribute (decoded); empty when absent.
    pub(crate) value: String,
}

impl Form {
    /// The value of the first input named `name`.
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.inputs
            .iter()
            .find(|i| i.name.as_deref() == Some(name))
            .map(|i| i.value.as_str())
    }

    /// Whether the form has a password field (a login form).
    pub(crate) fn has_password(&self) -> bool {
        self.inputs.iter().any(|i| i.kind == "password")
    }

    /// The name/value pairs a browser submits without user input: named inputs that are not
    /// buttons, files, images or unchecked boxes (we never check one).
    pub(crate) fn default_submission(&self) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .filter(|i| {
                !matches!(
                    i.kind.as_str(),
                    "submit" | "button" | "reset" | "image" | "file" | "checkbox" | "radio"
                )
            })
            .filter_map(|i| i.name.clone().map(|n| (n, i.value.clone())))
            .collect()
    }
}

/// Every `<form>` of `html` with its `<input>`s. Inputs outside any form are ignored.
pub(crate) fn forms(html: &str) -> Vec<Form> {
    let mut forms = Vec::new();
    let mut open: Option<Form> = None;
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
            continue;
        }
        let Some((tag, after)) = parse_tag(&rest[1..]) else {
            rest = &rest[1..];
            continue;
        };
        rest = after;
        match (tag.closing, tag.name.as_str()) {
            (false, "form") => {
                forms.extend(open.take());
                open = Some(Form {
                    action: tag.attr("action").map(str::to_owned),
                    method: tag
                        .attr("method")
                        .map_or_else(|| "get".to_owned(), str::to_ascii_lowercase),
                    inputs: Vec::new(),
                });
            }
            (true, "form") => forms.extend(open.take()),
            (false, "input") => {
                if let Some(form) = open.as_mut() {
                    form.inputs.push(Input {
                        kind: tag
                            .attr("type")
                            .map_or_else(|| "text".to_owned(), str::to_ascii_lowercase),
                        name: tag.attr("name").map(str::to_owned),
                        value: tag.attr("value").unwrap_or_default().to_owned(),
                    });
                }
            }
            (false, raw @ ("script" | "style" | "textarea" | "title")) if !tag.self_closing => {
                rest = skip_raw_text(rest, raw);
            }
            _ => {}
        }
    }
    forms.extend(open);
    forms
}

struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    attrs: Vec<(String, String)>,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        // The first occurrence wins, as in browsers.
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the tag after a `<`; `None` when the `<` does not start a tag (text such as `a < b`).
fn parse_tag(s: &str) -> Option<(Tag, &str)> {
    let (closing, s) = match s.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let name_end = s
        .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
        .unwrap_or(s.len());
    let name = s[..name_end].to_ascii_lowercase();
    let mut rest = &s[name_end..];
    let mut attrs = Vec::new();
    let mut self_closing = false;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        if let Some(after) = rest.strip_prefix('>') {
            return Some((
                Tag {
                    name,
                    closing,
                    self_closing,
                    attrs,
                },
                after,
            ));
        }
        if let Some(after) = rest.strip_prefix('/') {
            self_closing = true;
            rest = after;
            continue;
        }
        if rest.is_empty() {
            // Unterminated tag at the end of the input: what it had is all there is.
            return Some((
                Tag {
                    name,
                    closing,
                    self_closing,
                    attrs,
                },
                "",
            ));
        }
        self_closing = false;
        let end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '>' || c == '/')
            .unwrap_or(rest.len())
            .max(1);
        let attr_name = rest[..end].to_ascii_lowercase();
        rest = rest[end..].trim_start_matches(|c: char| c.is_ascii_whitespace());
        let value = if let Some(after_eq) = rest.strip_prefix('=') {
            let after_eq = after_eq.trim_start_matches(|c: char| c.is_ascii_whitespace());
            let (raw, after) = match after_eq.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after_eq[1..];
                    match body.find(q) {
                        Some(close) => (&body[..close], &body[close + 1..]),
                        None => (body, ""),
                    }
                }
                _ => {
                    let stop = after_eq
                        .find(|c: char| c.is_ascii_whitespace() || c == '>')
                        .unwrap_or(after_eq.len());
                    (&after_eq[..stop], &after_eq[stop..])
                }
            };
            rest = after;
            decode_entities(raw)
        } else {
            String::new()
        };
        attrs.push((attr_name, value));
    }
}

/// Skips the raw text of `<script>`, `<style>`, ... up to and including its end tag.
fn skip_raw_text<'a>(s: &'a str, name: &str) -> &'a str {
    let lower = s.to_ascii_lowercase();
    let end_tag = format!("</{name}");
    match lower.find(&end_tag) {
        Some(at) => {
            let after = &s[at..];
            after.find('>').map_or("", |gt| &after[gt + 1..])
        }
        None => "",
    }
}

/// Decodes character references: the named ones an IdP page uses and every numeric one.
/// An unknown or malformed reference stays as written, as browsers do.
pub(crate) fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest[1..].find(';').map(|i| i + 1).filter(|&i| i <= 12) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ => entity.strip_prefix('#').and_then(|num| {
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse::<u32>().ok(),
                };
                code.and_then(char::from_u32)
            }),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
