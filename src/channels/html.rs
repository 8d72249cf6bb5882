//! Mastodon delivers posts as HTML; the queue and the terminal want plain text. A small
//! hand-written converter: posts use a handful of tags (p, br, a, span) and entities, so a full
//! HTML parser would be weight without benefit.

/// Plain text from a post's HTML: `<br>` is a line break, a paragraph break a blank line, other
/// tags are dropped (their text kept: a link's `<span class="invisible">https://</span>` rebuilds
/// the whole URL), entities decoded.
pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..lt]));
        let after = &rest[lt..];
        let Some(gt) = after.find('>') else {
            // A lone '<' is text, not a tag.
            out.push_str(&decode_entities(after));
            rest = "";
            break;
        };
        let tag = after[1..gt].trim().to_ascii_lowercase();
        let name: String = tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        match name.as_str() {
            "br" => out.push('\n'),
            "p" if tag.starts_with('/') => out.push_str("\n\n"),
            "li" if !tag.starts_with('/') => out.push_str("\n- "),
            _ => {}
        }
        rest = &after[gt + 1..];
    }
    out.push_str(&decode_entities(rest));
    // Paragraphs end in a blank line; the last one needs none, and three breaks are two.
    let mut text = out.trim().to_string();
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    text
}

/// Decodes the entities Mastodon and other servers write: the XML five, `&nbsp;`, and numeric
/// references. Unknown entities stay as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let end = after.find(';').filter(|&e| e <= 12);
        let decoded = end.and_then(|e| {
            let name = &after[1..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ if name.starts_with("#x") || name.starts_with("#X") => {
                    u32::from_str_radix(&name[2..], 16).ok().and_then(char::from_u32)
                }
                _ if name.starts_with('#') => name[1..].parse::<u32>().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mastodon_post_html_becomes_plain_text() {
        let html = "<p><span class=\"h-card\"><a href=\"https://m.example/@helpdesk\" class=\"u-url mention\">@<span>helpdesk</span></a></span> my order is late &amp; <b>lost</b></p><p>see <a href=\"https://example.com/track/1\"><span class=\"invisible\">https://</span><span class=\"\">example.com/track/1</span></a><br />thanks!</p>";
        assert_eq!(to_text(html), "@helpdesk my order is late & lost\n\nsee https://example.com/track/1\nthanks!");
    }

    #[test]
    fn entities_are_decoded_and_unknown_ones_kept() {
        assert_eq!(
            decode_entities("a &lt;b&gt; &quot;c&quot; &#39;d&#39; &#x1F600; &copy; & x"),
            "a <b> \"c\" 'd' 😀 &copy; & x"
        );
        assert_eq!(to_text("<p>1 &lt; 2</p>"), "1 < 2");
        assert_eq!(to_text("a < b"), "a < b");
    }

    #[test]
    fn escaped_markup_stays_text() {
        // What the customer typed as "<script>" arrives escaped and must come out as text.
        assert_eq!(to_text("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"), "<script>alert(1)</script>");
    }
}
