//! Go build info from an executable's bytes: the `\xff Go buildinf:` blob that the Go
//! linker (≥ 1.18) writes with the toolchain version and the module list inline, as
//! `debug/buildinfo` reads it, and the module text as `runtime/debug.ParseBuildInfo`
//! reads it. The executable is streamed once (hashed on the way) and never held whole.

use std::io::{self, Read};

use sha2::{Digest, Sha256};

/// The blob's 14-byte magic; a 2-byte pointer size and flags follow, then (Go ≥ 1.18,
/// flag bit 2) two varint-prefixed strings after the 32-byte header.
pub(crate) const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER: usize = 32;
/// How much follows the magic at most: module lists of large binaries are tens of KB.
const MAX_BLOB: usize = 4 << 20;
const CHUNK: usize = 64 << 10;

/// One module line of the build info (`mod`, `dep`, with its `=>` replacement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoModule {
    pub path: String,
    pub version: String,
    pub sum: Option<String>,
    /// The `=> path version sum` line that replaced it, if any.
    pub replace: Option<Box<GoModule>>,
}

/// The decoded build info of one Go binary.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// As the toolchain writes it (`go1.19.8`).
    pub go_version: String,
    /// The main package's import path (`path` line).
    pub path: String,
    /// The main module (`mod` line), when built in module mode.
    pub main: Option<GoModule>,
    pub deps: Vec<GoModule>,
    /// `build` settings (`-compiler=gc`, `CGO_ENABLED=0`, `GOOS=linux`, …).
    pub settings: Vec<(String, String)>,
}

/// What streaming an ELF executable found.
#[derive(Debug, Clone, PartialEq, Eq)]
// Made once per file and matched at once: boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Elf {
    /// Not an ELF file at all (read stopped after the first bytes).
    NotElf,
    /// An ELF file: its SHA-256 (hex) and, for a Go binary, its build info.
    /// `old_go` is a pre-1.18 blob (pointers into the data segment, not read here).
    Elf {
        sha256: String,
        build: Option<BuildInfo>,
        old_go: bool,
    },
}

/// Stream `r` (at most `cap` bytes; more is an error): hash it and find the build info.
pub(crate) fn scan_elf(mut r: impl Read, cap: u64) -> io::Result<(Elf, u64)> {
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut head[got..])?;
        if n == 0 {
            return Ok((Elf::NotElf, got as u64));
        }
        got += n;
    }
    if &head != b"\x7fELF" {
        return Ok((Elf::NotElf, 4));
    }
    let mut hasher = Sha256::new();
    hasher.update(head);
    let mut total: u64 = 4;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK * 2);
    let mut chunk = vec![0u8; CHUNK];
    let mut build = None;
    let mut old_go = false;
    let mut eof = false;
    // `buf` holds unsearched bytes; `searched` is how far into it the magic cannot start
    let mut searched = 0usize;
    let mut read_more = |buf: &mut Vec<u8>, hasher: &mut Sha256, total: &mut u64| {
        let n = r.read(&mut chunk)?;
        hasher.update(&chunk[..n]);
        *total += n as u64;
        if *total > cap {
            return Err(io::Error::other(format!("more than {cap} bytes")));
        }
        buf.extend_from_slice(&chunk[..n]);
        Ok::<bool, io::Error>(n == 0)
    };
    while !eof {
        eof = read_more(&mut buf, &mut hasher, &mut total)?;
        if build.is_some() || old_go {
            buf.clear();
            continue;
        }
        while let Some(i) = find(&buf[searched..], MAGIC).map(|i| i + searched) {
            while !eof && buf.len() - i < MAX_BLOB {
                eof = read_more(&mut buf, &mut hasher, &mut total)?;
            }
            match decode(&buf[i..]) {
                Some(Blob::Inline(info)) => build = Some(info),
                Some(Blob::Pointers) => old_go = true,
                None => {
                    searched = i + 1;
                    continue;
                }
            }
            break;
        }
        if build.is_some() || old_go {
            buf.clear();
        } else if buf.len() > MAGIC.len() {
            // keep a tail that may hold the start of a magic split across reads
            let keep = buf.len() - (MAGIC.len() - 1);
            buf.drain(..keep);
            searched = 0;
        }
    }
    let sha256 = hex(&hasher.finalize());
    Ok((
        Elf::Elf {
            sha256,
            build,
            old_go,
        },
        total,
    ))
}

/// The first `needle` in `hay`, jumping between occurrences of its first byte.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut start = 0;
    while let Some(i) = hay.get(start..)?.iter().position(|&b| b == first) {
        if hay[start + i..].starts_with(needle) {
            return Some(start + i);
        }
        start += i + 1;
    }
    None
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

enum Blob {
    Inline(BuildInfo),
    /// A valid-looking pre-1.18 header (pointer-based).
    Pointers,
}

/// Decode the blob starting at the magic; `None` when it is not one (the magic string
/// also appears as data in programs that read build info themselves).
fn decode(data: &[u8]) -> Option<Blob> {
    if data.len() < HEADER || !data.starts_with(MAGIC) {
        return None;
    }
    let (ptr_size, flags) = (data[14], data[15]);
    if ptr_size != 4 && ptr_size != 8 {
        return None;
    }
    if flags & 2 == 0 {
        return (flags <= 1).then_some(Blob::Pointers);
    }
    let (vers, rest) = decode_string(&data[HEADER..])?;
    let (module, _) = decode_string(rest)?;
    let vers = std::str::from_utf8(vers).ok()?;
    if vers.is_empty() || vers.len() > 256 || !(vers.starts_with("go") || vers.starts_with("devel"))
    {
        return None;
    }
    // module text is framed by 16-byte binary sentinels (cmd/go's infoStart / infoEnd)
    let text = if module.len() >= 33 && module[module.len() - 17] == b'\n' {
        String::from_utf8_lossy(&module[16..module.len() - 16])
    } else {
        "".into()
    };
    let mut info = parse_mod_info(&text);
    info.go_version = vers.to_string();
    Some(Blob::Inline(info))
}

/// Go's `binary.Uvarint` length, then that many bytes.
fn decode_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len: u64 = 0;
    let mut shift = 0u32;
    for (n, b) in data.iter().enumerate().take(10) {
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            let start = n + 1;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            return (end <= data.len()).then(|| (&data[start..end], &data[end..]));
        }
        shift += 7;
    }
    None
}

/// The module text: tab-separated `path`, `mod`, `dep`, `=>` and `build` lines.
#[must_use]
pub fn parse_mod_info(text: &str) -> BuildInfo {
    let mut info = BuildInfo::default();
    // whether the last `mod`/`dep` line is the main module, for a following `=>`
    let mut last_main = false;
    for line in text.lines() {
        let mut fields = line.split('\t');
        let kind = fields.next().unwrap_or("");
        let rest: Vec<&str> = fields.collect();
        let module = || GoModule {
            path: rest.first().copied().unwrap_or("").to_string(),
            version: rest.get(1).copied().unwrap_or("").to_string(),
            sum: rest.get(2).filter(|s| !s.is_empty()).map(|s| s.to_string()),
            replace: None,
        };
        match kind {
            "path" => info.path = rest.first().copied().unwrap_or("").to_string(),
            "mod" if !rest.is_empty() => {
                info.main = Some(module());
                last_main = true;
            }
            "dep" if !rest.is_empty() => {
                info.deps.push(module());
                last_main = false;
            }
            "=>" if !rest.is_empty() => {
                let target = if last_main {
                    info.main.as_mut()
                } else {
                    info.deps.last_mut()
                };
                if let Some(m) = target {
                    m.replace = Some(Box::new(module()));
                }
            }
            "build" => {
                let setting = rest.join("\t");
                let (k, v) = setting.split_once('=').unwrap_or((&setting, ""));
                info.settings.push((k.to_string(), v.to_string()));
            }
            _ => {}
        }
    }
    info
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    fn varint(mut n: usize, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    /// A Go ≥ 1.18 blob as the linker lays it out, with its module sentinels.
    pub(crate) fn blob(version: &str, modinfo: &str) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[8, 2]);
        b.resize(HEADER, 0);
        varint(version.len(), &mut b);
        b.extend_from_slice(version.as_bytes());
        let mut framed = vec![0xe6u8; 16];
        framed.extend_from_slice(modinfo.as_bytes());
        framed.extend_from_slice(&[0xf9u8; 16]);
        varint(framed.len(), &mut b);
        b.extend_from_slice(&framed);
        b
    }

    #[test]
    fn hand_made_blob_decodes() {
        let text = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n\
                    dep\tgolang.org/x/net\tv0.1.0\th1:abc=\n\
                    dep\tgithub.com/a/b\tv1.0.0\th1:x=\n=>\tgithub.com/fork/b\tv1.0.1\th1:y=\n\
                    build\t-compiler=gc\nbuild\tCGO_ENABLED=0\n";
        // an ELF with a decoy magic (a string literal) before the real blob
        let mut file = b"\x7fELF".to_vec();
        file.resize(1000, 0);
        file.extend_from_slice(MAGIC);
        file.extend_from_slice(b"junk after the literal, not a header");
        file.resize(CHUNK * 2 - 5, 0); // the real blob straddles a read boundary
        file.extend_from_slice(&blob("go1.21.3", text));
        file.resize(file.len() + 300, 0);
        let (elf, n) = scan_elf(&file[..], u64::MAX).unwrap();
        assert_eq!(n, file.len() as u64);
        let Elf::Elf { sha256, build, .. } = elf else {
            panic!("not ELF")
        };
        assert_eq!(sha256, hex(&Sha256::digest(&file)));
        let info = build.unwrap();
        assert_eq!(info.go_version, "go1.21.3");
        assert_eq!(info.path, "example.com/app");
        assert_eq!(info.main.unwrap().version, "(devel)");
        assert_eq!(info.deps.len(), 2);
        assert_eq!(info.deps[0].sum.as_deref(), Some("h1:abc="));
        let r = info.deps[1].replace.as_ref().unwrap();
        assert_eq!(
            (r.path.as_str(), r.version.as_str()),
            ("github.com/fork/b", "v1.0.1")
        );
        assert!(info.settings.contains(&("CGO_ENABLED".into(), "0".into())));
        assert_eq!(scan_elf(&b"#!/bin/sh\n"[..], 100).unwrap().0, Elf::NotElf);
        assert!(scan_elf(&file[..], 100).is_err());
    }
}
