//! The byte patterns one secret value can appear as in output: raw, base64 (standard and
//! URL-safe, whole and at every offset inside longer data), hex, and percent-encoded.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Values shorter than this are redacted only as they are: the encodings of 1–3 bytes are
/// 2–6 common characters, and redacting them would mangle ordinary output everywhere.
pub(super) const MIN_ENCODED_LEN: usize = 4;

/// Every pattern for `value`, deduplicated; empty for an empty value.
pub(super) fn patterns(value: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    if value.is_empty() {
        return out;
    }
    out.push(value.to_vec());
    // A multi-line secret (a PEM key, a JSON credential) is often printed a line at a
    // time, or with other line endings, so its lines count as secrets too.
    if value.contains(&b'\n') {
        for line in value.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() >= MIN_ENCODED_LEN {
                out.push(line.to_vec());
            }
        }
    }
    if value.len() >= MIN_ENCODED_LEN {
        for engine in [&STANDARD, &URL_SAFE] {
            out.push(engine.encode(value).into_bytes());
        }
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            out.push(engine.encode(value).into_bytes());
            for offset in 0..3 {
                out.push(base64_stable(engine, value, offset));
            }
        }
        out.push(hex(value, b"0123456789abcdef"));
        out.push(hex(value, b"0123456789ABCDEF"));
        // RFC 3986: only unreserved characters stay; hex digits in either case.
        out.push(percent(
            value,
            |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b),
            false,
            false,
        ));
        out.push(percent(
            value,
            |b| b.is_ascii_alphanumeric() || b"-._~".contains(&b),
            false,
            true,
        ));
        // application/x-www-form-urlencoded (WHATWG URL): space becomes `+`.
        out.push(percent(
            value,
            |b| b.is_ascii_alphanumeric() || b"*-._".contains(&b),
            true,
            false,
        ));
        // JavaScript's encodeURIComponent and Python's urllib.parse.quote keep a few more.
        out.push(percent(
            value,
            |b| b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b),
            false,
            false,
        ));
        out.push(percent(
            value,
            |b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b),
            false,
            false,
        ));
    }
    out.retain(|p| !p.is_empty());
    out.sort();
    out.dedup();
    out
}

/// The base64 characters of `value` that do not depend on its neighbours when it starts
/// `offset` bytes into a 3-byte group (as GitHub Actions masks base64 of secrets).
///
/// Character `i` carries input bits `6i..6i+6`; the value holds bits `8·offset..8·(offset+len)`,
/// so the characters wholly inside that range are the same whatever surrounds the value.
fn base64_stable(engine: &impl base64::Engine, value: &[u8], offset: usize) -> Vec<u8> {
    let mut input = vec![0u8; offset];
    input.extend_from_slice(value);
    let encoded = engine.encode(&input).into_bytes();
    // Zero the copy: it holds the secret.
    input.iter_mut().for_each(|b| *b = 0);
    let start = (8 * offset).div_ceil(6);
    let end = (8 * (offset + value.len())) / 6;
    encoded
        .get(start..end)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

fn hex(value: &[u8], digits: &[u8; 16]) -> Vec<u8> {
    value
        .iter()
        .flat_map(|&b| [digits[usize::from(b >> 4)], digits[usize::from(b & 15)]])
        .collect()
}

/// Percent-encodes every byte `keep` rejects; `plus` writes space as `+`.
fn percent(value: &[u8], keep: impl Fn(u8) -> bool, plus: bool, lower: bool) -> Vec<u8> {
    let digits = if lower {
        b"0123456789abcdef"
    } else {
        b"0123456789ABCDEF"
    };
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value {
        if keep(b) {
            out.push(b);
        } else if plus && b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[
                b'%',
                digits[usize::from(b >> 4)],
                digits[usize::from(b & 15)],
            ]);
        }
    }
    out
}
