//! Unit tests: the .dockerignore rules and the reproducible context tar.
#![allow(clippy::unwrap_used)]

use super::*;

fn ignore(text: &str) -> DockerIgnore {
    DockerIgnore::parse(text, ".dockerignore").unwrap()
}

#[test]
fn dockerignore_follows_docker() {
    let di = ignore(
        "# comment\n\n/build\n*.log\n!keep.log\n**/node_modules\ndocs/**/*.md\n!docs/README.md\n./tmp/../cache/\n",
    );
    // rooted patterns, with or without a leading slash; a folder excludes what is under it
    assert!(di.is_excluded("build"));
    assert!(di.is_excluded("build/out/x.o"));
    assert!(!di.is_excluded("src/build/x"));
    // `*` stays in one path element: only top-level logs
    assert!(di.is_excluded("a.log"));
    assert!(!di.is_excluded("src/a.log"));
    // the last match wins; `!` re-includes
    assert!(!di.is_excluded("keep.log"));
    // `**` spans zero or more folders
    assert!(di.is_excluded("node_modules/x/index.js"));
    assert!(di.is_excluded("web/app/node_modules/y.js"));
    assert!(di.is_excluded("docs/a.md"));
    assert!(di.is_excluded("docs/x/y/a.md"));
    assert!(!di.is_excluded("docs/README.md"));
    assert!(!di.is_excluded("docs/a.txt"));
    // patterns are cleaned like paths
    assert!(di.is_excluded("cache/z"));
}

#[test]
fn exceptions_inside_an_excluded_folder_and_reexclusion() {
    let di = ignore("data\n!data/keep.txt\ndata/keep.txt\n");
    assert!(
        di.is_excluded("data/keep.txt"),
        "the later pattern excludes it again"
    );
    let di = ignore("data\n!data/keep.txt\n");
    assert!(!di.is_excluded("data/keep.txt"));
    assert!(di.is_excluded("data/other.txt"));
    let di = ignore("*\n!src\n");
    assert!(
        !di.is_excluded("src/main.rs"),
        "re-including a folder re-includes its files"
    );
    assert!(di.is_excluded("README.md"));
    let di = ignore("file?.txt\n[ab].c\n");
    assert!(di.is_excluded("file1.txt"));
    assert!(!di.is_excluded("file10.txt"));
    assert!(di.is_excluded("a.c"));
    assert!(!di.is_excluded("c.c"));
}

#[test]
fn a_bad_pattern_names_its_line() {
    let e = DockerIgnore::parse("ok\n[z-a\n", "svc/.dockerignore").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("svc/.dockerignore:2: bad .dockerignore pattern"),
        "{e}"
    );
}

fn fixture_files() -> (PathBuf, Vec<String>) {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let dir = "tests/fixtures/docker/multistage";
    let files = [
        ".dockerignore",
        "greeting.txt",
        "extra.txt",
        "data/keep.txt",
        "data/secret.txt",
        "data/secret-ok.txt",
        "data/sub/notes.tmp",
        "data/sub/deep.txt",
    ]
    .iter()
    .map(|f| format!("{dir}/{f}"))
    .chain(["Cargo.toml".to_string()])
    .collect();
    (ws, files)
}

#[test]
fn context_is_the_inputs_less_ignored_and_reproducible() {
    let (ws, mut files) = fixture_files();
    let dir = Path::new("tests/fixtures/docker/multistage");
    let ctx = BuildContext::new(&ws, dir, &dir.join("Dockerfile"), &files).unwrap();
    assert_eq!(
        ctx.entries(),
        [
            ".dockerignore",
            "Dockerfile",
            "data/keep.txt",
            "data/secret-ok.txt",
            "data/sub/deep.txt",
            "extra.txt",
            "greeting.txt"
        ]
    );
    assert_eq!(ctx.dockerfile(), "Dockerfile");
    assert!(ctx.dockerfile_text().contains("FROM scratch AS files"));

    // the same inputs in another order give the same bytes
    files.reverse();
    let again = BuildContext::new(&ws, dir, &dir.join("Dockerfile"), &files).unwrap();
    assert_eq!(ctx.tar(), again.tar());

    let mut archive = tar::Archive::new(ctx.tar());
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        assert_eq!(
            (h.mtime().unwrap(), h.uid().unwrap(), h.gid().unwrap()),
            (0, 0, 0)
        );
        seen.push(entry.path().unwrap().display().to_string());
    }
    assert_eq!(
        seen[..4],
        [".dockerignore", "Dockerfile", "data/", "data/keep.txt"]
    );
}

#[test]
fn a_dockerfile_outside_the_context_is_still_sent() {
    let (ws, files) = fixture_files();
    let ctx = BuildContext::new(
        &ws,
        Path::new("tests/fixtures/docker/multistage/data"),
        Path::new("tests/fixtures/docker/multistage/Dockerfile"),
        &files,
    )
    .unwrap();
    assert_eq!(ctx.dockerfile(), ".isect.Dockerfile");
    assert_eq!(
        ctx.entries(),
        [
            ".isect.Dockerfile",
            "keep.txt",
            "secret-ok.txt",
            "secret.txt",
            "sub/deep.txt",
            "sub/notes.tmp"
        ]
    );
    let e =
        BuildContext::new(&ws, Path::new("."), Path::new("nope/Dockerfile"), &files).unwrap_err();
    assert!(e.to_string().contains("nope/Dockerfile"), "{e}");
}
