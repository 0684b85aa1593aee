//! Build timeouts as text: `90s`, `80m`, `2h`, `1h30m` (hours, minutes, seconds, in that
//! order, each at most once). Parsed for `images.yaml`'s `timeout:` and `build --timeout`;
//! shown back the same way (`timed out after 80m`).

use std::time::Duration;

/// The longest timeout accepted (a year): larger values are a typo, and a deadline past it
/// could overflow `Instant`.
const MAX_SECS: u64 = 366 * 24 * 3600;

/// Parses `text` as a positive duration of whole seconds, minutes and hours.
pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = |why: &str| {
        format!(
            "timeout `{}` {why}\nhint: write a positive whole number of hours, minutes or seconds, e.g. `90s`, `80m`, `2h`, `1h30m`",
            crate::reference::shorten(text, 40)
        )
    };
    if text.is_empty() {
        return Err(bad("is empty"));
    }
    if text.starts_with('-') {
        return Err(bad("is negative"));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut seen = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let scale = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => {
                return Err(bad(&format!(
                    "has an unknown unit `{c}` (use `h`, `m` or `s`)"
                )))
            }
        };
        if digits.is_empty() {
            return Err(bad(&format!("has no number before `{c}`")));
        }
        if seen.contains(c) || seen.chars().any(|p| order(p) >= order(c)) {
            return Err(bad(
                "must list hours, minutes and seconds once each, in that order",
            ));
        }
        seen.push(c);
        let n: u64 = digits.parse().map_err(|_| bad("is too long"))?;
        digits.clear();
        total = n
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .filter(|&v| v <= MAX_SECS)
            .ok_or_else(|| bad("is too long (at most 366 days)"))?;
    }
    if !digits.is_empty() {
        return Err(bad("has no unit (use `h`, `m` or `s`, e.g. `80m`)"));
    }
    if total == 0 {
        return Err(bad("is zero: a build would be stopped at once"));
    }
    Ok(Duration::from_secs(total))
}

fn order(unit: char) -> u8 {
    match unit {
        'h' => 0,
        'm' => 1,
        _ => 2,
    }
}

/// `d` as the shortest text [`parse`] reads back (`1h30m`, `80m`, `1s`).
pub fn show(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    for (n, unit) in [(h, 'h'), (m, 'm'), (s, 's')] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_combinations() {
        for (text, secs) in [
            ("90s", 90),
            ("80m", 4800),
            ("2h", 7200),
            ("1h30m", 5400),
            ("1h0m5s", 3605),
            ("1m30s", 90),
        ] {
            assert_eq!(parse(text), Ok(Duration::from_secs(secs)), "{text}");
        }
        assert_eq!(show(Duration::from_secs(4800)), "1h20m");
        assert_eq!(show(Duration::from_secs(5400)), "1h30m");
        assert_eq!(show(Duration::from_secs(1)), "1s");
        assert_eq!(show(Duration::from_secs(180)), "3m");
    }

    #[test]
    fn bad_input_is_refused_with_the_reason() {
        let why = |t: &str| parse(t).unwrap_err().lines().next().unwrap().to_string();
        assert_eq!(
            why("10x"),
            "timeout `10x` has an unknown unit `x` (use `h`, `m` or `s`)"
        );
        assert_eq!(
            why("0s"),
            "timeout `0s` is zero: a build would be stopped at once"
        );
        assert_eq!(
            why("0h0m"),
            "timeout `0h0m` is zero: a build would be stopped at once"
        );
        assert_eq!(why("-5m"), "timeout `-5m` is negative");
        assert_eq!(
            why("10"),
            "timeout `10` has no unit (use `h`, `m` or `s`, e.g. `80m`)"
        );
        assert_eq!(why(""), "timeout `` is empty");
        assert_eq!(why("m"), "timeout `m` has no number before `m`");
        assert_eq!(
            why("1.5h"),
            "timeout `1.5h` has an unknown unit `.` (use `h`, `m` or `s`)"
        );
        assert_eq!(
            why("30m1h"),
            "timeout `30m1h` must list hours, minutes and seconds once each, in that order"
        );
        assert_eq!(
            why("99999999999999999999999h"),
            "timeout `99999999999999999999999h` is too long"
        );
        assert_eq!(
            why("9000h"),
            "timeout `9000h` is too long (at most 366 days)"
        );
        assert!(parse("10x").unwrap_err().contains("\nhint: "));
    }
}
