//! Unit tests: Dockerfile parsing, ARG substitution in FROM, syntax errors, approval.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::image::docker::check_bases;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn stages_names_scratch_and_continuations() {
    let text = "# syntax=docker/dockerfile:1\n\
                # a comment\n\
                FROM scratch AS Files\n\
                COPY a.txt \\\n\
                  # dropped comment\n\
                  /a.txt\n\
                \n\
                FROM --platform=linux/amd64 files AS final\n\
                RUN <<EOF\n\
                FROMAGE not an instruction\n\
                EOF\n\
                LABEL x=y\n";
    let df = parse_dockerfile(text).unwrap();
    let kw: Vec<_> = df
        .instructions
        .iter()
        .map(|i| (i.line, i.keyword.as_str()))
        .collect();
    assert_eq!(
        kw,
        vec![
            (3, "FROM"),
            (4, "COPY"),
            (8, "FROM"),
            (9, "RUN"),
            (12, "LABEL")
        ]
    );
    assert_eq!(df.instructions[1].args, "a.txt  /a.txt");
    assert_eq!(df.stages.len(), 2);
    assert_eq!(df.stages[0].base, Base::Scratch);
    assert_eq!(df.stages[0].name.as_deref(), Some("files"));
    assert_eq!(df.stages[1].base, Base::Stage(0));
    assert_eq!(df.stages[1].platform.as_deref(), Some("linux/amd64"));
}

#[test]
fn image_refs() {
    let r = ImageRef::parse("registry:5000/team/py:3.11@sha256:AB");
    assert_eq!(r.name, "registry:5000/team/py");
    assert_eq!(r.tag.as_deref(), Some("3.11"));
    assert_eq!(r.digest.as_deref(), Some("sha256:ab"));
    let r = ImageRef::parse("registry:5000/py");
    assert_eq!((r.name.as_str(), r.tag), ("registry:5000/py", None));
    let r = ImageRef::parse(DIGEST);
    assert_eq!((r.name.as_str(), r.digest.as_deref()), ("", Some(DIGEST)));
}

#[test]
fn from_substitutes_args_and_build_args_override() {
    let text = format!(
        "ARG BASE=py@{DIGEST}\nARG SUFFIX\nFROM ${{BASE}}$SUFFIX AS a\nFROM ${{OTHER:-scratch}}\n"
    );
    let df = parse_dockerfile(&text).unwrap();
    let Base::Image(image) = &df.stages[0].base else {
        panic!("{:?}", df.stages[0].base)
    };
    assert_eq!(image.raw, format!("py@{DIGEST}"));
    assert_eq!(df.stages[1].base, Base::Scratch);

    let args = BTreeMap::from([("BASE".to_string(), "evil:latest".to_string())]);
    let df = parse_dockerfile_with_args(&text, &args).unwrap();
    let Base::Image(image) = &df.stages[0].base else {
        panic!()
    };
    assert_eq!(image.raw, "evil:latest");
}

#[test]
fn syntax_errors_name_the_line() {
    let e = parse_dockerfile("FROM scratch\nRUNN echo hi\n").unwrap_err();
    assert_eq!((e.line, e.text.as_str()), (2, "RUNN echo hi"));
    assert!(
        e.message
            .contains("unknown instruction RUNN (did you mean RUN?)"),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("Dockerfile:2: unknown instruction"),
        "{e}"
    );

    let e = parse_dockerfile("# only a comment\nCOPY a b\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("before the first FROM"), "{e}");

    let e = parse_dockerfile("ARG X=1\n").unwrap_err();
    assert!(e.message.contains("no FROM"), "{e}");
    let e = parse_dockerfile("").unwrap_err();
    assert!(e.message.contains("no FROM"), "{e}");

    let e = parse_dockerfile("FROM scratch AS\n").unwrap_err();
    assert!(e.message.contains("FROM takes one image"), "{e}");
    let e = parse_dockerfile("FROM scratch AS a\nFROM scratch AS A\n").unwrap_err();
    assert_eq!(e.line, 2);
    let e = parse_dockerfile("FROM --pull=always scratch\n").unwrap_err();
    assert!(e.message.contains("--pull"), "{e}");
}

#[test]
fn the_fixture_dockerfiles_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docker");
    let df = read_dockerfile(&dir.join("multistage/Dockerfile"), &BTreeMap::new()).unwrap();
    assert!(df.path.ends_with("multistage/Dockerfile"));
    assert_eq!(df.stages.len(), 3);
    let e = read_dockerfile(&dir.join("syntax-error/Dockerfile"), &BTreeMap::new()).unwrap_err();
    assert!(
        e.to_string()
            .contains("syntax-error/Dockerfile:3: unknown instruction COPPY (did you mean COPY?)"),
        "{e}"
    );
}

#[test]
fn bases_must_be_pinned_and_approved() {
    let approved = vec![format!("isect/python-base@{DIGEST}")];
    // scratch and earlier stages need no approval
    check_bases(
        &parse_dockerfile("FROM scratch AS a\nFROM a\n").unwrap(),
        &approved,
    )
    .unwrap();
    // pinned by digest, under any name or as a bare image id
    check_bases(
        &parse_dockerfile(&format!("FROM isect/python-base@{DIGEST}\n")).unwrap(),
        &approved,
    )
    .unwrap();
    check_bases(
        &parse_dockerfile(&format!("FROM {DIGEST} AS b\n")).unwrap(),
        &approved,
    )
    .unwrap();
    let bare = vec![DIGEST.to_string()];
    check_bases(
        &parse_dockerfile(&format!("FROM x:1@{DIGEST}\n")).unwrap(),
        &bare,
    )
    .unwrap();

    // a tag alone is refused, even for the approved name
    let df =
        parse_dockerfile("FROM scratch AS a\n\nFROM isect/python-base:latest\nCOPY --from=a / /\n")
            .unwrap();
    let e = check_bases(&df, &approved).unwrap_err();
    assert_eq!(
        (e.line, e.text.as_str()),
        (3, "FROM isect/python-base:latest")
    );
    let msg = e.to_string();
    assert!(msg.contains("Dockerfile:3: base image not approved: isect/python-base:latest is not pinned by digest"), "{msg}");
    assert!(msg.contains(&approved[0]), "{msg}");

    // another digest is refused; so is a build arg that swaps the base
    let other = format!("FROM debian@sha256:{}\n", "f".repeat(64));
    let e = check_bases(&parse_dockerfile(&other).unwrap(), &approved).unwrap_err();
    assert!(e.reason.contains("not in the approved list"), "{e}");
    let text = format!("ARG BASE=isect/python-base@{DIGEST}\nFROM $BASE\n");
    let args = BTreeMap::from([("BASE".to_string(), "debian:12".to_string())]);
    let e = check_bases(
        &parse_dockerfile_with_args(&text, &args).unwrap(),
        &approved,
    )
    .unwrap_err();
    assert_eq!(e.line, 2);

    // nothing approved: the message says how to approve
    let e = check_bases(&parse_dockerfile("FROM debian:12\n").unwrap(), &[]).unwrap_err();
    assert!(e.to_string().contains("no base is approved"), "{e}");
}
