//! Fake secrets in each published format, and the passwords people type. Every value is
//! random and belongs to nobody; the formats follow the vendors' documentation.

use super::rng::Rng;

/// A planted fake: its kind (the label) and value.
pub(crate) struct Fake {
    pub(crate) kind: &'static str,
    pub(crate) value: String,
}

fn fake(kind: &'static str, value: String) -> Fake {
    Fake { kind, value }
}

/// The structured kinds, each with its generator.
pub(crate) const STRUCTURED: &[&str] = &[
    "aws-access-key-id",
    "gcp-api-key",
    "azure-storage-key",
    "azure-client-secret",
    "github-pat",
    "github-oauth",
    "github-app",
    "github-fine-grained",
    "gitlab-pat",
    "bitbucket-app-password",
    "slack-bot",
    "slack-user",
    "slack-webhook",
    "stripe-live",
    "stripe-restricted",
    "twilio-api-key",
    "sendgrid",
    "mailgun",
    "npm",
    "pypi",
    "jwt",
];

/// A structured token of `kind` (one of [`STRUCTURED`]).
pub(crate) fn token(rng: &mut Rng, kind: &'static str) -> Fake {
    let v = match kind {
        "aws-access-key-id" => format!("AKIA{}", rng.upper_digits(16)),
        "gcp-api-key" => format!("AIza{}", rng.b64url(35)),
        "azure-storage-key" => format!("{}==", rng.b64(86)),
        "azure-client-secret" => format!("{}{}Q~{}", rng.alnum(3), rng.below(10), rng.alnum(34)),
        "github-pat" => format!("ghp_{}", rng.alnum(36)),
        "github-oauth" => format!("gho_{}", rng.alnum(36)),
        "github-app" => format!("ghs_{}", rng.alnum(36)),
        "github-fine-grained" => format!("github_pat_{}_{}", rng.alnum(22), rng.alnum(59)),
        "gitlab-pat" => format!("glpat-{}", rng.alnum(20)),
        "bitbucket-app-password" => format!("ATBB{}", rng.alnum(32)),
        "slack-bot" => format!(
            "xoxb-{}-{}-{}",
            rng.digits(12),
            rng.digits(13),
            rng.alnum(24)
        ),
        "slack-user" => format!(
            "xoxp-{}-{}-{}-{}",
            rng.digits(12),
            rng.digits(12),
            rng.digits(13),
            rng.hex(32)
        ),
        "slack-webhook" => format!(
            "https://hooks.slack.com/services/T{}/B{}/{}",
            rng.upper_digits(10),
            rng.upper_digits(10),
            rng.alnum(24)
        ),
        "stripe-live" => format!("sk_live_{}", {
            let n = 24 + rng.below(60);
            rng.alnum(n)
        }),
        "stripe-restricted" => format!("rk_live_{}", {
            let n = 24 + rng.below(60);
            rng.alnum(n)
        }),
        "twilio-api-key" => format!("SK{}", rng.hex(32)),
        "sendgrid" => format!("SG.{}.{}", rng.b64url(22), rng.b64url(43)),
        "mailgun" => format!("key-{}", rng.hex(32)),
        "npm" => format!("npm_{}", rng.alnum(36)),
        "pypi" => format!("pypi-AgEIcHlwaS5vcmc{}", rng.b64url(70)),
        _ => jwt(rng),
    };
    fake(kind, v)
}

fn jwt(rng: &mut Rng) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = format!(
        r#"{{"sub":"{}","iat":{},"exp":{},"role":"{}","jti":"{}"}}"#,
        rng.pick(&["alice", "svc-report", "deploy-bot", "j.doe"]),
        1_700_000_000 + rng.below(50_000_000),
        1_760_000_000 + rng.below(50_000_000),
        rng.pick(&["admin", "reader", "ops"]),
        rng.hex(16)
    );
    format!(
        "{header}.{}.{}",
        URL_SAFE_NO_PAD.encode(claims),
        rng.b64url(43)
    )
}

/// An AWS secret access key (40 base64 characters).
pub(crate) fn aws_secret(rng: &mut Rng) -> Fake {
    fake("aws-secret-access-key", rng.b64(40))
}

/// A PEM private key block with real line breaks, or with `\n` escapes for a JSON key file.
pub(crate) fn pem(rng: &mut Rng, json: bool) -> Fake {
    let (label, nl) = if json {
        ("", "\\n")
    } else {
        (rng.pick(&["RSA ", "EC ", "OPENSSH ", ""]), "\n")
    };
    let mut v = format!("-----BEGIN {label}PRIVATE KEY-----{nl}");
    for _ in 0..(4 + rng.below(10)) {
        v.push_str(&rng.b64(64));
        v.push_str(nl);
    }
    v.push_str(&rng.b64(20));
    v.push_str("==");
    v.push_str(nl);
    v.push_str(&format!("-----END {label}PRIVATE KEY-----"));
    if json {
        v.push_str(nl);
    }
    fake(
        if json {
            "gcp-service-account"
        } else {
            "pem-private-key"
        },
        v,
    )
}

const WORDS: &[&str] = &[
    "Falcon", "harbor", "Orchid", "maple", "Copper", "velvet", "Glacier", "tundra", "Sparrow",
    "cobalt", "Juniper", "quartz", "Meadow", "lantern", "Breeze", "summit", "Raven", "willow",
];
const SYMBOLS: &[u8] = b"!@#$%^&*-_+=?~<>";

/// A password a person would choose: a word with digits and a symbol, or a random string.
pub(crate) fn password(rng: &mut Rng) -> String {
    let sym = |rng: &mut Rng| char::from(SYMBOLS[rng.below(SYMBOLS.len())]);
    match rng.below(4) {
        0 => format!("{}{}{}", rng.pick(WORDS), sym(rng), {
            let n = 2 + rng.below(3);
            rng.digits(n)
        }),
        1 => format!(
            "{}{}{}{}",
            rng.pick(WORDS),
            rng.digits(4),
            sym(rng),
            rng.pick(WORDS).to_lowercase()
        ),
        2 => {
            let mut s = {
                let n = 10 + rng.below(8);
                rng.alnum(n)
            };
            s.insert(rng.below(s.len()), sym(rng));
            s.push_str(&rng.digits(1));
            s
        }
        _ => format!(
            "{}{}{}{}",
            rng.alnum(4),
            sym(rng),
            rng.alnum(5),
            rng.digits(2)
        ),
    }
}

/// A random API key for a generic `key = value` line: hex or base64-like.
pub(crate) fn generic_key(rng: &mut Rng) -> String {
    if rng.chance(50) {
        let n = 32 + rng.below(2) * 8;
        rng.hex(n)
    } else {
        {
            let n = 24 + rng.below(16);
            rng.alnum(n)
        }
    }
}
