//! File name patterns such as `frame_%05d.png`, formatted as Python's
//! `pattern % n` would be.

use crate::error::value_error;
use anyhow::Result;

/// A file name pattern with exactly one integer placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePattern {
    prefix: String,
    suffix: String,
    zero_pad: bool,
    width: usize,
}

impl FilePattern {
    /// Accepts `%d`, `%i` or `%u` with an optional `0` flag and width, plus
    /// `%%` for a literal percent sign, anywhere else in the pattern.
    pub fn parse(pattern: &str) -> Result<FilePattern> {
        let invalid = |why: &str| {
            value_error(format!(
                "pattern {pattern:?} {why}: it needs exactly one integer placeholder such as %d or %05d (write %% for a literal %)"
            ))
        };
        let mut parts = [String::new(), String::new()];
        let mut found: Option<(bool, usize)> = None;
        let mut chars = pattern.chars().peekable();
        while let Some(ch) = chars.next() {
            if ch != '%' {
                parts[usize::from(found.is_some())].push(ch);
                continue;
            }
            if chars.peek() == Some(&'%') {
                chars.next();
                parts[usize::from(found.is_some())].push('%');
                continue;
            }
            if found.is_some() {
                return Err(invalid("has more than one placeholder"));
            }
            let zero_pad = chars.peek() == Some(&'0');
            let mut digits = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            match chars.next() {
                Some('d' | 'i' | 'u') => {}
                Some(other) => return Err(invalid(&format!("has a %{digits}{other} placeholder"))),
                None => return Err(invalid("ends in a lone %")),
            }
            let width = if digits.is_empty() {
                0
            } else {
                digits
                    .parse::<usize>()
                    .ok()
                    .filter(|&w| w <= 64)
                    .ok_or_else(|| invalid("has a field width over 64"))?
            };
            found = Some((zero_pad, width));
        }
        let (zero_pad, width) = found.ok_or_else(|| invalid("has no placeholder"))?;
        crate::encode::check_png_name(std::path::Path::new(pattern))?;
        let [prefix, suffix] = parts;
        Ok(FilePattern {
            prefix,
            suffix,
            zero_pad,
            width,
        })
    }

    pub fn format(&self, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let sign = if n < 0 { "-" } else { "" };
        let number = if self.zero_pad {
            let pad = self.width.saturating_sub(sign.len() + digits.len());
            format!("{sign}{}{digits}", "0".repeat(pad))
        } else {
            format!("{:>width$}", format!("{sign}{digits}"), width = self.width)
        };
        format!("{}{number}{}", self.prefix, self.suffix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_python() {
        let p = FilePattern::parse("frame_%05d.png").unwrap();
        assert_eq!(p.format(7), "frame_00007.png");
        assert_eq!(p.format(-7), "frame_-0007.png");
        assert_eq!(p.format(1234567), "frame_1234567.png");
        assert_eq!(FilePattern::parse("%d").unwrap().format(42), "42");
        assert_eq!(
            FilePattern::parse("x%4i.png").unwrap().format(3),
            "x   3.png"
        );
        assert_eq!(
            FilePattern::parse("100%%_%u.png").unwrap().format(1),
            "100%_1.png"
        );
    }

    #[test]
    fn rejects_anything_but_one_integer_placeholder() {
        for bad in [
            "frame.png",
            "%d_%d.png",
            "%s.png",
            "%05.png",
            "frame%",
            "%.2f",
            "%0100d",
        ] {
            let err = FilePattern::parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("exactly one integer placeholder"),
                "{bad}: {err}"
            );
        }
    }
}
