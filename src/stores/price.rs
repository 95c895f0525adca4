//! Reading prices and stock from page text, and how fresh a price is — no I/O.

use chrono::{DateTime, Utc};

/// Characters of page text an error message may quote.
pub const SNIPPET_CHARS: usize = 200;
/// Characters of an item's whole error message.
pub const REASON_CHARS: usize = 300;

/// Page text made safe to quote in an error: tags removed, control and invisible
/// formatting characters turned into spaces, whitespace collapsed, at most `SNIPPET_CHARS`.
pub fn snippet(text: &str) -> String {
    let mut in_tag = false;
    let visible = text.chars().filter(|&c| match c {
        '<' => {
            in_tag = true;
            false
        }
        '>' if in_tag => {
            in_tag = false;
            false
        }
        _ => !in_tag,
    });
    clean(visible, SNIPPET_CHARS)
}

/// A whole error message bounded to `REASON_CHARS`, control characters removed.
pub fn bounded(reason: &str) -> String {
    clean(reason.chars(), REASON_CHARS)
}

fn clean(chars: impl Iterator<Item = char>, limit: usize) -> String {
    let invisible = |c: char| {
        c.is_control()
            || c.is_whitespace()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
    };
    let mut out = String::new();
    let mut count = 0;
    for c in chars.map(|c| if invisible(c) { ' ' } else { c }) {
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        if count == limit {
            out.push('…');
            break;
        }
        out.push(c);
        count += 1;
    }
    out.trim_end().to_owned()
}

/// A price written the way shops write them: `7490.00`, `1 234,50 ₽`, `$1,234.56`, `1.234,56 €`.
pub fn parse_price(text: &str) -> Result<f64, String> {
    let kept: String = text.chars().filter(|c| c.is_ascii_digit() || *c == ',' || *c == '.').collect();
    let kept = kept.trim_matches(|c| c == ',' || c == '.');
    if !kept.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!("unparsable price {:?}", snippet(text)));
    }
    let normalized = match (kept.rfind(','), kept.rfind('.')) {
        // Both present: the later one separates the decimals.
        (Some(comma), Some(dot)) if comma > dot => kept.replace('.', "").replace(',', "."),
        (Some(_), Some(_)) => kept.replace(',', ""),
        // Only commas: one followed by one or two digits is a decimal comma, otherwise thousands.
        (Some(comma), None) if kept.matches(',').count() == 1 && (1..=2).contains(&(kept.len() - comma - 1)) => {
            kept.replace(',', ".")
        }
        (Some(_), None) => kept.replace(',', ""),
        // Several dots are thousands separators.
        (None, Some(_)) if kept.matches('.').count() > 1 => kept.replace('.', ""),
        _ => kept.to_owned(),
    };
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let digits = text.chars().filter(|c| c.is_ascii_digit()).count();
    if letters > digits + 3 {
        return Err(format!("unparsable price {:?}", snippet(text)));
    }
    normalized.parse::<f64>().map_err(|_| format!("unparsable price {:?}", snippet(text)))
}

/// Stock from text like "In stock", "Out of stock", "В наличии", "Нет в наличии", "12 pcs"; `None` when unclear.
pub fn parse_stock(text: &str) -> Option<bool> {
    let lower = text.trim().to_lowercase();
    const OUT: [&str; 8] = [
        "out of stock",
        "sold out",
        "unavailable",
        "not available",
        "no stock",
        "нет в наличии",
        "нет на складе",
        "закончился",
    ];
    const IN: [&str; 4] = ["in stock", "available", "в наличии", "есть"];
    if OUT.iter().any(|w| lower.contains(w)) {
        return Some(false);
    }
    if IN.iter().any(|w| lower.contains(w)) {
        return Some(true);
    }
    // The first number counts: "2 left, ships in 3 days" is 2.
    let digits: String = lower.chars().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect();
    digits.parse::<u64>().ok().map(|n| n > 0)
}

/// `fresh` under an hour old, `hours` under a day, `stale` older, `never` when never scraped.
pub fn freshness(scraped_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> &'static str {
    match scraped_at.map(|at| now - at) {
        None => "never",
        Some(age) if age < chrono::Duration::hours(1) => "fresh",
        Some(age) if age < chrono::Duration::hours(24) => "hours",
        Some(_) => "stale",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_in_the_usual_spellings() {
        for (text, expected) in [
            ("7490.00", 7490.0),
            ("1 234,50 ₽", 1234.5),
            ("$1,234.56", 1234.56),
            ("1.234,56 €", 1234.56),
            ("1,234", 1234.0),
            ("12,5", 12.5),
            ("1.234.567", 1234567.0),
            ("  990 руб. ", 990.0),
            ("Price: 15", 15.0),
        ] {
            assert_eq!(parse_price(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn garbage_is_not_a_price() {
        for text in ["abc", "", "call us for a price", "—", ".,"] {
            assert!(parse_price(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn snippets_are_short_and_carry_no_markup_or_control_characters() {
        assert_eq!(snippet("  call\n us  "), "call us");
        assert_eq!(snippet("<b>ask</b> <script>x</script>\u{7}us\u{202E}"), "ask x us");
        let long = snippet(&"é".repeat(1000));
        assert_eq!(long.chars().count(), SNIPPET_CHARS + 1);
        assert!(long.ends_with('…'));
        assert_eq!(bounded(&format!("a\u{1b}[31m{}", "b".repeat(400))).chars().count(), REASON_CHARS + 1);
    }

    #[test]
    fn stock_words_and_counts() {
        assert_eq!(parse_stock("In stock"), Some(true));
        assert_eq!(parse_stock("Out of stock"), Some(false));
        assert_eq!(parse_stock("Нет в наличии"), Some(false));
        assert_eq!(parse_stock("В наличии"), Some(true));
        assert_eq!(parse_stock("12 pcs"), Some(true));
        assert_eq!(parse_stock("0"), Some(false));
        assert_eq!(parse_stock("ask"), None);
        assert_eq!(parse_stock("Not available"), Some(false));
        assert_eq!(parse_stock("0 left, ships in 3 days"), Some(false));
    }

    #[test]
    fn freshness_buckets() {
        let now = Utc::now();
        assert_eq!(freshness(None, now), "never");
        assert_eq!(freshness(Some(now - chrono::Duration::minutes(59)), now), "fresh");
        assert_eq!(freshness(Some(now - chrono::Duration::hours(5)), now), "hours");
        assert_eq!(freshness(Some(now - chrono::Duration::hours(25)), now), "stale");
    }
}
