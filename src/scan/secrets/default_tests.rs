//! Every built-in rule against generated true positives and false positives. Secrets are
//! built at test time (a seeded generator, string concatenation) so that no real-looking
//! secret is committed, and so that the repository's own scan stays clean.

#![allow(clippy::unwrap_used)]

use super::{RuleSet, scan_bytes};

const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALNUM: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const BASE32_UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
const HEX: &str = "0123456789abcdef";
const DIGITS: &str = "0123456789";

/// xorshift64*: deterministic "random" characters, so a test never flakes.
pub(super) struct Gen(u64);

impl Gen {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(super) fn pick(&mut self, alphabet: &str, n: usize) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..n)
            .map(|_| chars[(self.next() % chars.len() as u64) as usize])
            .collect()
    }
}

fn rule_ids(path: &str, text: &str) -> Vec<String> {
    scan_bytes(path, text.as_bytes(), RuleSet::builtin())
        .into_iter()
        .map(|f| f.rule_id)
        .collect()
}

/// One rule: texts it must find, texts it must not (each with the file path).
struct Case {
    rule: &'static str,
    hits: Vec<(&'static str, String)>,
    misses: Vec<(&'static str, String)>,
}

fn case(rule: &'static str, hits: Vec<String>, misses: Vec<String>) -> Case {
    Case {
        rule,
        hits: hits.into_iter().map(|t| ("src/app.txt", t)).collect(),
        misses: misses.into_iter().map(|t| ("src/app.txt", t)).collect(),
    }
}

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    let mut g = Gen::new(7);
    let mut p = |alphabet: &str, n: usize| g.pick(alphabet, n);
    let pem_body = format!("{}\n{}\n{}", p(B64, 64), p(B64, 64), p(B64, 40));
    let begin = |kind: &str| format!("-----BEGIN {kind}-----");
    let end = |kind: &str| format!("-----END {kind}-----");
    let rsa = format!("RSA {} KEY", "PRIVATE");
    let mut all = vec![
        case(
            "aws-access-token",
            vec![format!("aws_key = \"{}{}\"", "AKIA", p(BASE32_UPPER, 16))],
            vec![
                format!("id: {}{}{}", "AKIA", "IOSFODNN7", "EXAMPLE"),
                format!("id: {}{}", "AKIA", "A".repeat(16)),
                format!("id: {}{}", "AKIB", p(BASE32_UPPER, 16)),
            ],
        ),
        case(
            "aws-secret-access-key",
            vec![
                format!("aws_secret_access_key = \"{}\"", p(B64, 40)),
                format!("AWS_SECRET: {}\n", p(B64, 40)),
            ],
            vec![
                format!(
                    "aws_secret_access_key = {}{}",
                    "wJalrXUtnFEMI/K7MDENG/bPxRfiCY", "EXAMPLEKEY"
                ),
                format!("aws_secret_access_key = \"{}\"", "ab".repeat(20)),
                format!("aws_secret_access_key = \"{}\"", p(B64, 39)),
            ],
        ),
        case(
            "gcp-api-key",
            vec![format!("key: \"{}{}\"", "AIza", p(URLSAFE, 35))],
            vec![
                format!("key: \"{}{}\"", "AIza", "a".repeat(35)),
                format!("key: \"{}{}\"", "AIZA", p(UPPER_ALNUM, 35)),
                format!("{}{}", "AIza", "Syabcdefghijklmnopqrstuvwxyz1234567"),
            ],
        ),
        case(
            "gcp-service-account-key",
            vec![format!("{{\n  \"private_key_id\": \"{}\",\n}}", p(HEX, 40))],
            vec![
                format!("\"private_key_id\": \"{}\"", "0".repeat(40)),
                "\"private_key_id\": \"<your key id>\"".to_string(),
            ],
        ),
        case(
            "azure-storage-account-key",
            vec![
                format!(
                    "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={}==;EndpointSuffix=core.windows.net",
                    p(B64, 86)
                ),
                format!("azure_storage_key = \"{}==\"", p(B64, 86)),
            ],
            vec![
                format!("AccountKey={}==;", "A".repeat(86)),
                format!("AccountKey={}==;", p(B64, 40)),
            ],
        ),
        case(
            "azure-ad-client-secret",
            vec![format!(
                "client_secret={}{}Q~{}\n",
                p(ALNUM, 3),
                p(DIGITS, 1),
                p(&format!("{ALNUM}_~.-"), 34)
            )],
            vec![
                format!("client_secret=bP88{}{}\n", "Q~", "x".repeat(34)),
                "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~".to_string(),
            ],
        ),
        case(
            "digitalocean-pat",
            vec![format!("DO_TOKEN={}{}\n", "dop_v1_", p(HEX, 64))],
            vec![format!("DO_TOKEN={}{}\n", "dop_v1_", "0".repeat(64))],
        ),
        case(
            "vault-service-token",
            vec![format!("VAULT_TOKEN={}{}\n", "hvs.", p(URLSAFE, 100))],
            vec![format!("VAULT_TOKEN={}{}\n", "hvs.", p(ALNUM, 20))],
        ),
        case(
            "github-pat",
            vec![format!("token: {}{}", "ghp_", p(ALNUM, 36))],
            vec![
                format!("token: {}{}", "ghp_", "x".repeat(36)),
                format!("token: {}{}", "ghp_", p(ALNUM, 20)),
            ],
        ),
        case(
            "github-fine-grained-pat",
            vec![format!("{}{}", "github_pat_", p(&format!("{ALNUM}_"), 82))],
            vec![format!("{}{}", "github_pat_", "A".repeat(82))],
        ),
        case(
            "github-oauth",
            vec![format!("{}{}", "gho_", p(ALNUM, 36))],
            vec![format!("{}{}", "gho_", "0".repeat(36))],
        ),
        case(
            "github-refresh-token",
            vec![format!("{}{}", "ghr_", p(ALNUM, 36))],
            vec![format!("{}{}", "ghr_", "r".repeat(36))],
        ),
        case(
            "gitlab-pat",
            vec![format!("GITLAB_TOKEN={}{}", "glpat-", p(URLSAFE, 20))],
            vec![format!("GITLAB_TOKEN={}{}", "glpat-", "x".repeat(20))],
        ),
        case(
            "gitlab-runner-authentication-token",
            vec![format!("{}{}", "glrt-", p(URLSAFE, 20))],
            vec![format!("{}{}", "glrt-", "a".repeat(20))],
        ),
        case(
            "slack-bot-token",
            vec![format!(
                "{}{}-{}-{}",
                "xoxb-",
                p(DIGITS, 12),
                p(DIGITS, 13),
                p(ALNUM, 24)
            )],
            vec![format!("{}{}-{}", "xoxb-", "0".repeat(12), "0".repeat(12))],
        ),
        case(
            "slack-user-token",
            vec![format!(
                "{}{}-{}-{}-{}",
                "xoxp-",
                p(DIGITS, 12),
                p(DIGITS, 12),
                p(DIGITS, 12),
                p(LOWER_ALNUM, 32)
            )],
            vec![format!("{}{}-{}", "xoxp-", p(DIGITS, 3), p(DIGITS, 3))],
        ),
        case(
            "slack-app-token",
            vec![format!(
                "{}1-A{}-{}-{}",
                "xapp-",
                p(UPPER_ALNUM, 10),
                p(DIGITS, 13),
                p(LOWER_ALNUM, 64)
            )],
            vec!["see the xapp-1 docs".to_string()],
        ),
        case(
            "slack-webhook-url",
            vec![format!(
                "https://{}/services/T{}/B{}/{}",
                "hooks.slack.com",
                p(UPPER_ALNUM, 8),
                p(UPPER_ALNUM, 10),
                p(ALNUM, 24)
            )],
            vec![format!("https://{}/services/T000/B000", "hooks.slack.com")],
        ),
        case(
            "stripe-access-token",
            vec![format!("STRIPE_KEY={}{}\n", "sk_live_", p(ALNUM, 24))],
            vec![
                format!("STRIPE_KEY={}{}\n", "sk_live_", "0".repeat(24)),
                format!("STRIPE_PUBLISHABLE={}{}\n", "pk_live_", p(ALNUM, 24)),
            ],
        ),
        case(
            "twilio-api-key",
            vec![format!("twilio: {}{}", "SK", p(HEX, 32))],
            vec![
                format!("twilio: {}{}", "SK", "0".repeat(32)),
                format!("risk{}", p(HEX, 32)),
            ],
        ),
        case(
            "sendgrid-api-token",
            vec![format!("{}{}.{}\n", "SG.", p(URLSAFE, 22), p(URLSAFE, 43))],
            vec![format!("{}{}\n", "SG.", "a".repeat(66))],
        ),
        case(
            "npm-access-token",
            vec![format!(
                "//registry.npmjs.org/:_authToken={}{}\n",
                "npm_",
                p(ALNUM, 36)
            )],
            vec![format!("_authToken={}{}\n", "npm_", "a".repeat(36))],
        ),
        case(
            "pypi-upload-token",
            vec![format!(
                "password = {}{}\n",
                "pypi-AgEIcHlwaS5vcmc",
                p(URLSAFE, 60)
            )],
            vec![format!("password = {}{}\n", "pypi-", p(ALNUM, 60))],
        ),
        case(
            "openai-api-key",
            vec![format!(
                "OPENAI_API_KEY={}{}{}{}\n",
                "sk-proj-",
                p(URLSAFE, 74),
                "T3Blbk",
                format!("FJ{}", p(URLSAFE, 74))
            )],
            vec![format!("OPENAI_API_KEY={}{}\n", "sk-", p(ALNUM, 48))],
        ),
        case(
            "anthropic-api-key",
            vec![format!("{}{}AA\n", "sk-ant-api03-", p(URLSAFE, 93))],
            vec![format!("{}{}AA\n", "sk-ant-api03-", p(URLSAFE, 20))],
        ),
        case(
            "private-key",
            vec![
                format!("{}\n{pem_body}\n{}\n", begin(&rsa), end(&rsa)),
                format!(
                    "{{\"private_key\": \"{}\\n{}\\n{}\\n\"}}",
                    begin(&format!("{} KEY", "PRIVATE")),
                    p(B64, 120),
                    end(&format!("{} KEY", "PRIVATE"))
                ),
            ],
            vec![
                format!(
                    "{}\n{pem_body}\n{}\n",
                    begin("PUBLIC KEY"),
                    end("PUBLIC KEY")
                ),
                format!("{}\nshort\n{}\n", begin(&rsa), end(&rsa)),
            ],
        ),
        case(
            "jwt",
            vec![format!(
                "Authorization: Bearer {}{}.{}{}.{}\n",
                "eyJ",
                p(ALNUM, 30),
                "eyJ",
                p(ALNUM, 40),
                p(URLSAFE, 43)
            )],
            vec![format!(
                "{}{}.{}{}.{}\n",
                "ey",
                "A".repeat(18),
                "ey",
                "A".repeat(20),
                "A".repeat(12)
            )],
        ),
        case(
            "generic-api-key",
            vec![
                format!("password = \"{}\"\n", p(ALNUM, 24)),
                format!("  api_key: {}\n", p(ALNUM, 32)),
                format!("DB_SECRET='{}'\n", p(B64, 40)),
            ],
            vec![
                "password = \"changeme\"\n".to_string(),
                "token = \"aaaaaaaaaaaaaaaaaaaa\"\n".to_string(),
                "secret = my_cache_value_here\n".to_string(),
                "auth = get_token_value\n".to_string(),
                format!("public_key = \"{}\"\n", p(ALNUM, 24)),
                "api_key = \"${API_KEY}\"\n".to_string(),
                format!("RUN --mount=type=secret,id=npm token={}\n", p(ALNUM, 24)),
            ],
        ),
    ];
    // Path rules, and path allowlists, need their own file names.
    let app = format!("{}{}", "ghs_", p(ALNUM, 36));
    all.push(Case {
        rule: "github-app-token",
        hits: vec![("src/app.txt", app.clone())],
        misses: vec![
            ("vendor/@octokit/auth-token/README.md", app),
            ("src/app.txt", format!("{}{}", "ghu_", "u".repeat(36))),
        ],
    });
    all.push(Case {
        rule: "pkcs12-file",
        hits: vec![
            ("certs/client.p12", String::new()),
            ("certs/Server.PFX", "x".to_string()),
        ],
        misses: vec![
            ("certs/client.pem", String::new()),
            ("docs/p12.md", "client.p12".to_string()),
        ],
    });
    all
}

#[test]
fn every_builtin_rule_has_true_and_false_positive_cases() {
    let cases = cases();
    for rule in RuleSet::builtin().rules() {
        let c = cases.iter().find(|c| c.rule == rule.id);
        let c = c.unwrap_or_else(|| panic!("no test case for built-in rule {}", rule.id));
        assert!(!c.hits.is_empty() && !c.misses.is_empty(), "{}", rule.id);
    }
    for c in &cases {
        for (path, text) in &c.hits {
            let ids = rule_ids(path, text);
            assert!(
                ids.iter().any(|id| id == c.rule),
                "{} missed {path}: {text:?} (found {ids:?})",
                c.rule
            );
        }
        for (path, text) in &c.misses {
            let ids = rule_ids(path, text);
            assert!(
                !ids.iter().any(|id| id == c.rule),
                "{} false positive {path}: {text:?}",
                c.rule
            );
        }
    }
}

#[test]
fn global_allowlist_skips_lockfiles_and_placeholders() {
    let mut g = Gen::new(11);
    let pat = format!("{}{}", "ghp_", g.pick(ALNUM, 36));
    assert!(rule_ids("web/package-lock.json", &pat).is_empty());
    assert!(rule_ids("svc/go.sum", &pat).is_empty());
    assert!(rule_ids("node_modules/x/index.js", &pat).is_empty());
    assert_eq!(rule_ids("svc/main.go", &pat), ["github-pat"]);
    // Template placeholders are not secrets (global regexes, tested on the secret).
    assert!(rule_ids("a.yml", "password: ${{ secrets.DEPLOY_PASSWORD }}\n").is_empty());
    assert!(rule_ids("a.env", "API_TOKEN=${API_TOKEN_FROM_VAULT}\n").is_empty());
}

#[test]
fn a_specific_rule_wins_over_the_generic_one_on_the_same_secret() {
    let mut g = Gen::new(12);
    let text = format!("aws_secret_access_key = \"{}\"\n", g.pick(B64, 40));
    assert_eq!(rule_ids("creds.ini", &text), ["aws-secret-access-key"]);
}

#[test]
fn synthetic_source_has_no_findings() {
    let text = "    auth token = secret rule 42 ;\nfn key ( ) { return cache_store.get(id) }\n\
                let api = ApiClient::new(config.endpoint);\npassword_field = form.password\n";
    assert!(
        rule_ids("src/lib.rs", text).is_empty(),
        "{:?}",
        rule_ids("src/lib.rs", text)
    );
}
