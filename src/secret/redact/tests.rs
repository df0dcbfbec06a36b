//! Redaction of every encoded form, at every offset and chunk boundary.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use super::*;

/// Has `+`, `/`, `=`, `@`, a space and bytes whose base64 uses `+`/`-` and `/`/`_`.
const VALUE: &[u8] = b"p@ss/w+rd= \xfb\xff\xbe-tok";

fn redactor(values: &[&[u8]]) -> Redactor {
    let secrets: Vec<Secret> = values
        .iter()
        .map(|v| Secret::new("env:T", v.to_vec()))
        .collect();
    Redactor::new(&secrets)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn raw_value_is_redacted_inside_longer_output() {
    let r = redactor(&[VALUE]);
    let mut line = b"password is ".to_vec();
    line.extend_from_slice(VALUE);
    line.extend_from_slice(b", twice: ");
    line.extend_from_slice(VALUE);
    assert_eq!(text(&r.redact(&line)), "password is ***, twice: ***");
}

#[test]
fn base64_whole_value_with_and_without_padding() {
    let r = redactor(&[VALUE]);
    for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        let encoded = engine.encode(VALUE);
        assert_eq!(r.redact_line(&encoded), "***", "{encoded}");
        let line = format!("Authorization: Basic {encoded}\n");
        assert_eq!(r.redact_line(&line), "Authorization: Basic ***\n");
    }
}

#[test]
fn base64_embedded_at_every_offset_hides_every_character_the_value_determines() {
    let r = redactor(&[VALUE]);
    for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for before in 0..7 {
            for after in 0..7 {
                let mut data = vec![b'x'; before];
                data.extend_from_slice(VALUE);
                data.extend(std::iter::repeat_n(b'y', after));
                let encoded = engine.encode(&data);
                let out = text(&r.redact(encoded.as_bytes()));
                let at = out
                    .find(REDACTED)
                    .unwrap_or_else(|| panic!("not redacted: {out}"));
                let (left, right) = (&out[..at], &out[at + REDACTED.len()..]);
                assert!(
                    encoded.starts_with(left) && encoded.ends_with(right),
                    "{out}"
                );
                // Characters wholly inside the value's bits are gone.
                assert!(
                    left.len() <= (8 * before).div_ceil(6),
                    "{before}/{after}: {out}"
                );
                assert!(
                    encoded.len() - right.len() >= 8 * (before + VALUE.len()) / 6,
                    "{out}"
                );
            }
        }
    }
}

#[test]
fn hex_lower_and_upper() {
    let r = redactor(&[VALUE]);
    let lower: String = VALUE.iter().map(|b| format!("{b:02x}")).collect();
    let upper = lower.to_uppercase();
    assert_eq!(r.redact_line(&format!("sha={lower};")), "sha=***;");
    assert_eq!(r.redact_line(&format!("SHA={upper};")), "SHA=***;");
}

#[test]
fn percent_encodings_of_special_characters() {
    let r = redactor(&[b"p@ss/w+rd= x&y"]);
    for encoded in [
        "p%40ss%2Fw%2Brd%3D%20x%26y", // RFC 3986, encodeURIComponent
        "p%40ss%2fw%2brd%3d%20x%26y", // RFC 3986, lower-case hex digits
        "p%40ss%2Fw%2Brd%3D+x%26y",   // application/x-www-form-urlencoded
        "p%40ss/w%2Brd%3D%20x%26y",   // Python's urllib.parse.quote
    ] {
        let url = format!("https://db.example/login?pw={encoded}&next=1");
        assert_eq!(
            r.redact_line(&url),
            "https://db.example/login?pw=***&next=1",
            "{encoded}"
        );
    }
}

#[test]
fn short_values_are_redacted_raw_only() {
    let r = redactor(&[b"abc"]);
    assert_eq!(r.redact_line("xabcx"), "x***x");
    // "YWJj" is base64 and "616263" hex of "abc": too common to redact.
    assert_eq!(r.redact_line("YWJj 616263"), "YWJj 616263");
}

#[test]
fn overlapping_and_nested_secrets_are_redacted_whole() {
    let r = redactor(&[b"abcdef1", b"def1ghi", b"hunter2", b"hunter2-admin"]);
    assert_eq!(r.redact_line("<abcdef1ghi>"), "<***>");
    assert_eq!(r.redact_line("<hunter2-admin> <hunter2>"), "<***> <***>");
}

#[test]
fn lines_of_a_multi_line_secret_are_secrets() {
    let r = redactor(&[b"-----BEGIN KEY-----\r\nMIIEvQIBADANBg\r\n-----END KEY-----\n"]);
    assert_eq!(r.redact_line("line 2: MIIEvQIBADANBg"), "line 2: ***");
}

#[test]
fn no_secrets_and_no_match_borrow() {
    let none = Redactor::new(&[]);
    assert!(matches!(
        none.redact_line("anything"),
        Cow::Borrowed("anything")
    ));
    assert_eq!(RedactingStream::new(&none).push(b"abc"), b"abc");
    let r = redactor(&[VALUE]);
    assert!(matches!(r.redact_line("clean"), Cow::Borrowed("clean")));
    assert!(!r.leaks(b"clean") && r.leaks(VALUE));
}

#[test]
fn a_binary_secret_inside_a_character_leaves_valid_text() {
    let r = redactor(&[b"\xa9\xc3\xa9\xc3"]);
    assert_eq!(
        r.redact_line("caf\u{e9}\u{e9}\u{e9}"),
        "caf\u{fffd}***\u{fffd}"
    );
}

#[test]
fn debug_shows_no_patterns() {
    let r = redactor(&[VALUE]);
    let mut s = RedactingStream::new(&r);
    s.push(b"p@ss");
    assert!(!format!("{r:?} {s:?}").contains("p@ss"));
}

fn stream_all(r: &Redactor, chunks: &[&[u8]]) -> Vec<u8> {
    let mut s = RedactingStream::new(r);
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(s.push(chunk));
    }
    out.extend(s.finish());
    out
}

#[test]
fn a_secret_split_at_every_position_is_redacted() {
    let r = redactor(&[VALUE]);
    let mut data = b"before ".to_vec();
    data.extend_from_slice(VALUE);
    data.extend_from_slice(b" after");
    for i in 0..=data.len() {
        let out = stream_all(&r, &[&data[..i], &data[i..]]);
        assert_eq!(text(&out), "before *** after", "split at {i}");
        for j in i..=data.len() {
            let out = stream_all(&r, &[&data[..i], &data[i..j], &data[j..]]);
            assert_eq!(text(&out), "before *** after", "split at {i} and {j}");
        }
    }
}

#[test]
fn streams_in_any_chunk_size_match_whole_redaction() {
    let r = redactor(&[VALUE, b"abcdef1", b"def1ghi", b"xyz"]);
    let mut data = Vec::new();
    for (i, piece) in [
        VALUE.to_vec(),
        STANDARD
            .encode([b"k=".as_slice(), VALUE].concat())
            .into_bytes(),
        URL_SAFE_NO_PAD.encode(VALUE).into_bytes(),
        VALUE
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>()
            .into_bytes(),
        b"abcdef1ghi".to_vec(),
        b"xyzxyz".to_vec(),
    ]
    .iter()
    .enumerate()
    {
        data.extend_from_slice(format!("\nline {i}: ").as_bytes());
        data.extend_from_slice(piece);
    }
    let whole = r.redact(&data).into_owned();
    assert!(!r.leaks(&whole) && whole.windows(3).filter(|w| w == b"***").count() >= 6);
    for size in 1..=data.len() {
        let chunks: Vec<&[u8]> = data.chunks(size).collect();
        assert_eq!(
            text(&stream_all(&r, &chunks)),
            text(&whole),
            "chunk size {size}"
        );
    }
}

#[test]
fn a_stream_holds_back_no_more_than_it_must() {
    let r = redactor(&[b"secret-value"]);
    let mut s = RedactingStream::new(&r);
    let out = s.push(b"hello world, nothing here\n");
    assert_eq!(out.len() + r.longest_pattern() - 1, 26);
    assert_eq!(
        text(&[out, s.finish()].concat()),
        "hello world, nothing here\n"
    );
}
