//! Server-rendered HTML: one escaping function and the page frame. Every value that reaches
//! a page goes through [`esc`]; pages link the one style sheet and carry no inline script.

/// Escapes text for an HTML element body or a double-quoted attribute value.
#[must_use]
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A complete page: `title`, the signed-in email (for the header and sign-out form) and
/// the body markup (already escaped by the caller). `prefix` is the base URL's path.
#[must_use]
pub fn page(prefix: &str, title: &str, user: Option<(&str, &str)>, body: &str) -> String {
    let header = match user {
        Some((email, csrf)) => format!(
            "<nav><a href=\"{prefix}/portals\">Portals</a> <span class=\"who\">{}</span> \
             <form method=\"post\" action=\"{prefix}/logout\" class=\"inline\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\" id=\"sign-out\">Sign out</button></form></nav>",
            esc(email),
            esc(csrf)
        ),
        None => String::new(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Support</title><link rel=\"stylesheet\" href=\"{prefix}/static/style.css\">\
         </head><body><header><h1>{}</h1>{header}</header><main>{body}</main></body></html>\n",
        esc(title),
        esc(title)
    )
}

/// A hidden CSRF field.
#[must_use]
pub fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(token)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let p = page("", "T<", None, "<p>b</p>");
        assert!(p.contains("<title>T&lt; · Support</title>"));
        assert!(!p.contains("<script"));
    }
}
