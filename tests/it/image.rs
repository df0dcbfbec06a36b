//! The image stage through the binary: daemonless images are reproducible and cached, run
//! in the Docker Engine, go to a real registry signed, and a re-tagged image fails
//! verification; Dockerfile bases must be approved; errors say what to do.
//!
//! Tests that need the Docker Engine or Debian's docker-registry skip with a printed reason
//! where those are missing, unless ISECT_REQUIRE_DOCKER / ISECT_REQUIRE_REGISTRY is set
//! (as .ci/run does), where a skip fails.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::common::{
    TestWorkspace, docker_available, healthz_of_image, http_get, load_image, required,
};

const SERVER_GO: &str = r#"package main

import (
	"net/http"
	"os"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok web\n"))
	})
	http.ListenAndServe(":"+port, nil)
}
"#;

/// A workspace with one Go HTTP service `web` whose image stage is `image_steps`.
fn web_workspace(config: &str, image_steps: &str) -> TestWorkspace {
    web_workspace_with(config, image_steps, "")
}

/// `web_workspace` with more stages (Rhai map entries).
fn web_workspace_with(config: &str, image_steps: &str, stages: &str) -> TestWorkspace {
    let ws = TestWorkspace::new();
    ws.file("isect.toml", config)
        .file("services/web/go.mod", "module example.com/web\n\ngo 1.19\n")
        .file("services/web/main.go", SERVER_GO)
        .file(
            "pipelines/web.rhai",
            &format!(
                "import \"isect/golang\" as golang;\n#{{\n    build: [golang::build()],\n    image: stage(#{{ needs: [\"build\"] }}, [\n        image::from_files(#{{ files: #{{ \"/server\": \"//.isect/out/web/bin/web\" }}, entrypoint: [\"/server\"], env: #{{ PORT: \"8080\" }}, ports: [8080], user: \"65532:65532\" }}),\n{image_steps}    ]),\n{stages}}}\n"
            ),
        );
    ws
}

fn manifest_digest(ws: &TestWorkspace, service: &str) -> String {
    let index: serde_json::Value =
        serde_json::from_str(&ws.read(&format!(".isect/out/{service}/image/oci/index.json")))
            .unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Debian's docker-registry on a free loopback port, killed when dropped.
struct Registry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start(test: &str) -> Option<Self> {
        let binary = Path::new("/usr/bin/docker-registry");
        if !binary.exists() {
            assert!(
                !required("ISECT_REQUIRE_REGISTRY"),
                "{test}: docker-registry is not installed, and ISECT_REQUIRE_REGISTRY=1"
            );
            eprintln!(
                "skipped {test}: docker-registry not installed (apt-get install docker-registry)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\nlog:\n  level: warn\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(binary)
            .args(["serve", config.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let registry = Self {
            child,
            addr,
            _dir: dir,
        };
        let started = Instant::now();
        while http_get(&registry.addr, "/v2/").is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(registry)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn git(ws: &TestWorkspace, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(ws.root())
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_daemonless_image_is_byte_identical_in_two_workspaces_and_cached() {
    let first = web_workspace("", "");
    let second = web_workspace("", "");
    first.run(["image", "web"]).assert_success();
    second.run(["image", "web"]).assert_success();
    let digest = manifest_digest(&first, "web");
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert_eq!(
        digest,
        manifest_digest(&second, "web"),
        "the same inputs in two folders gave two images"
    );
    // The SBOM is beside it.
    let sbom: serde_json::Value =
        serde_json::from_str(&first.read(".isect/out/web/image/sbom.cdx.json")).unwrap();
    assert_eq!(sbom["specVersion"], "1.5");

    let again = first.run(["image", "web"]);
    again.assert_success();
    assert_eq!(again.status("web:image:image"), "cached");
    assert_eq!(manifest_digest(&first, "web"), digest);

    // A changed source is a new binary and a new image.
    first.file(
        "services/web/main.go",
        &SERVER_GO.replace("ok web", "ok web v2"),
    );
    first.run(["image", "web"]).assert_success();
    assert_ne!(manifest_digest(&first, "web"), digest);
}

#[test]
fn a_go_image_runs_in_the_docker_engine_and_answers_on_healthz() {
    if !docker_available("a_go_image_runs_in_the_docker_engine_and_answers_on_healthz") {
        return;
    }
    let ws = web_workspace("", "");
    ws.run(["image", "web"]).assert_success();
    let tag = load_image(&ws, "web");
    let answer = healthz_of_image(&tag, "isect-it-web")
        .unwrap_or_else(|log| panic!("the container did not answer on /healthz; its log:\n{log}"));
    assert!(answer.contains("ok web"), "{answer}");
}

#[test]
fn pushed_images_are_signed_and_a_retagged_image_fails_verification() {
    let Some(registry) =
        Registry::start("pushed_images_are_signed_and_a_retagged_image_fails_verification")
    else {
        return;
    };
    let config = format!(
        "[environments.dev]\n[image]\nregistry = \"{}/team\"\nsigning_key = \"keys/cosign.key\"\nverify_key = \"keys/cosign.key.pub\"\n",
        registry.addr
    );
    let ws = web_workspace_with(
        &config,
        "        image::push(),\n",
        "    deploy: |svc| { sh(\"echo rolling out\"); },\n",
    );
    std::fs::write(ws.path(".gitignore"), ".isect/\nkeys/\n").unwrap();
    std::fs::create_dir_all(ws.path("keys")).unwrap();
    ws.run(["image", "keygen", "keys/cosign.key"])
        .assert_success();
    git(&ws, &["init", "-q"]);
    git(&ws, &["add", "."]);
    git(&ws, &["commit", "-qm", "web"]);
    let commit: String = git(&ws, &["rev-parse", "HEAD"]).chars().take(12).collect();

    let pushed = ws.run(["image", "web"]);
    pushed.assert_success();
    let note = pushed.row("web:image:push").note;
    assert!(note.contains("pushed") && note.contains("signed"), "{note}");
    ws.run(["image", "verify", "web"])
        .assert_success()
        .assert_stdout_contains("signed by key");
    let by_tag = format!("{}/team/web:{commit}", registry.addr);
    ws.run(["image", "verify", &by_tag]).assert_success();
    // A deploy checks the signature first, whatever the deploy stage says.
    let deployed = ws.run(["deploy", "web", "--env", "dev"]);
    deployed.assert_success();
    assert_eq!(deployed.status("web:deploy:verify_image"), "ok");
    assert_eq!(deployed.status("web:deploy:sh"), "ok");

    // Pushing the same image again uploads nothing.
    let again = ws.run(["image", "web"]);
    again.assert_success();
    assert!(
        again.row("web:image:push").note.contains("already there"),
        "{}",
        again.dump()
    );

    // The commit's tag moved to other content that nobody signed: verification fails.
    ws.file(
        "services/web/main.go",
        &SERVER_GO.replace("ok web", "tampered"),
    )
    .file(
        "isect.toml",
        &format!(
            "[environments.dev]\n[image]\nregistry = \"{}/team\"\nverify_key = \"keys/cosign.key.pub\"\n",
            registry.addr
        ),
    );
    let unsigned = ws.run(["image", "web"]);
    unsigned.assert_success();
    assert!(
        unsigned.row("web:image:push").note.contains("unsigned"),
        "{}",
        unsigned.dump()
    );
    let failed = ws.run([
        "image",
        "verify",
        &by_tag,
        "--key",
        ws.path("keys/cosign.key.pub").to_str().unwrap(),
    ]);
    failed.assert_failure(1);
    failed.assert_stderr_contains("image::verify_failed");
    // ...and nothing unsigned is deployed.
    let refused = ws.run(["deploy", "web", "--env", "dev"]);
    refused.assert_failure(1);
    assert_eq!(refused.status("web:deploy:verify_image"), "failed");
    refused.assert_stderr_contains("refusing to deploy");
    assert_ne!(refused.status("web:deploy:sh"), "ok");

    // A stopped registry: the push fails and says which registry and where it is set.
    drop(registry);
    let down = ws.run(["image", "web"]);
    down.assert_failure(1);
    down.assert_stderr_contains("registry");
}

#[test]
fn a_missing_signing_key_names_the_file_and_the_setting() {
    let Some(registry) = Registry::start("a_missing_signing_key_names_the_file_and_the_setting")
    else {
        return;
    };
    let config = format!(
        "[image]\nregistry = \"{}/team\"\nsigning_key = \"keys/missing.key\"\n",
        registry.addr
    );
    let ws = web_workspace(&config, "        image::push(),\n");
    let out = ws.run(["image", "web"]);
    out.assert_failure(1);
    out.assert_stderr_contains("keys/missing.key");
    out.assert_stderr_contains("signing_key");
}

#[test]
fn verifying_without_a_public_key_says_where_to_set_one() {
    // No registry is needed: the key is looked for before anything is fetched.
    let ws = web_workspace(
        "[image]\nregistry = \"127.0.0.1:9/team\"\n",
        "        image::push(),\n",
    );
    let out = ws.run(["image", "verify", "web"]);
    out.assert_failure(1);
    out.assert_stderr_contains("no public key to verify with");
    out.assert_stderr_contains("[image] verify_key");
    out.assert_stderr_contains("--key FILE");
}

#[test]
fn a_dockerfile_must_start_from_an_approved_base() {
    if !docker_available("a_dockerfile_must_start_from_an_approved_base") {
        return;
    }
    let ws = TestWorkspace::new();
    ws.file("isect.toml", "")
        .file("services/site/index.html", "<h1>site</h1>\n")
        .file(
            "services/site/Dockerfile",
            "FROM scratch AS files\nCOPY index.html /srv/index.html\n\nFROM scratch\nCOPY --from=files /srv /srv\n",
        )
        .file(
            "pipelines/site.rhai",
            "#{ image: stage(#{ needs: [] }, [image::dockerfile()]) }\n",
        );
    let built = ws.run(["image", "site"]);
    built.assert_success();
    assert!(manifest_digest(&ws, "site").starts_with("sha256:"));

    ws.file(
        "services/site/Dockerfile",
        "FROM scratch AS files\nCOPY index.html /srv/index.html\n\nFROM nginx:1.27\nCOPY --from=files /srv /usr/share/nginx/html\n",
    );
    let refused = ws.run(["image", "site"]);
    refused.assert_failure(1);
    refused.assert_stderr_contains("Dockerfile:4");
    refused.assert_stderr_contains("nginx:1.27");

    ws.file(
        "services/site/Dockerfile",
        "FROM scratch\nCOPPY index.html /\n",
    );
    let typo = ws.run(["image", "site"]);
    typo.assert_failure(1);
    typo.assert_stderr_contains("Dockerfile:2");
}

#[test]
fn an_unreachable_docker_engine_says_how_to_fix_it() {
    let ws = web_workspace("", "");
    ws.run(["image", "web"]).assert_success();
    let out = ws.run_with(["image", "load", "web"], |cmd| {
        cmd.env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    });
    out.assert_failure(1);
    out.assert_stderr_contains("not reachable");
    out.assert_stderr_contains("DOCKER_HOST");
}
