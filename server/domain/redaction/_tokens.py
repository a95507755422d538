"""Provider tokens: every token family of gitleaks' default rules with a shape of its own.

Each family is one row: the kind its marker names, the literal prefixes its tokens
start with, the rest of the token, and why it is there.  All rows are compiled into
one pattern: the prefixes as a trie (so a scan tries one branch per character, not
one per family) with the family found again from the match (``lastgroup``).  The
pattern starts with a one-character look-behind: a token never starts inside a run
of letters and digits, so most positions are refused at once.

Families gitleaks knows only by a key word beside a bare value (Adafruit, Asana,
Twitter, Zendesk, ... ``KW(vendor) OP (value)``) are not here: their values have no
shape, and are caught by the key/value rules (``adafruit_api_token = ...``) and, in
prose, by the random-string rule (:func:`looks_random`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from server.domain.redaction._common import Rule

# (kind, prefixes, rest of the token, reason).  A rest never takes a trailing
# full stop: a token at the end of a sentence keeps its punctuation.
_FAMILIES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # GitHub: classic prefixes (personal, OAuth, user-to-server, server-to-server,
    # refresh) and fine-grained personal access tokens.
    ("github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"[A-Za-z0-9]{36,}+"),
    ("github_token", ("github_pat_",), r"[A-Za-z0-9_]{22,}+"),
    # GitLab: every documented token prefix (personal, pipeline trigger, feed,
    # incoming mail, agent, OAuth app, deploy, runner, CI job, feature flags, SCIM,
    # routable tokens with their ".<crc>" tail) and the runner registration token.
    (
        "gitlab_token",
        ("glpat-", "glptt-", "glft-", "glimt-", "glagent-", "gloas-", "gldt-", "glrt-",
         "glcbt-", "glffct-", "glsoat-", "gltst-"),
        r"[\w\-]{20,}+(?:\.[0-9a-z]{9}\b)?",
    ),
    ("gitlab_token", ("GR1348941",), r"[\w\-]{20,}+"),
    # Slack: bot, user, app, refresh, legacy and config tokens, app-level tokens.
    ("slack_token", ("xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxo-", "xoxe-"),
     r"[A-Za-z0-9\-]{10,}+"),
    ("slack_token", ("xoxe.xoxb-", "xoxe.xoxp-"), r"[A-Za-z0-9\-]{10,}+"),
    ("slack_token", ("xapp-",), r"[0-9]-[A-Za-z0-9\-]{10,}+"),
    # Stripe: secret and restricted keys (live, test, prod), webhook signing
    # secrets.  Publishable keys (pk_) are public by design and kept.
    ("stripe_key", ("sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_"),
     r"[A-Za-z0-9]{10,}+"),
    ("stripe_key", ("whsec_",), r"[A-Za-z0-9]{20,}+"),
    # OpenAI (project, service account, admin) and Anthropic keys; the legacy
    # OpenAI key carries "T3BlbkFJ" (base64 of "OpenAI") in its middle.  A bare
    # "sk-" is too common in names ("sk-deployment-7d9f8b6c5-x2k4q").
    ("api_key", ("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-ant-"), r"[\w\-]{20,}+"),
    ("api_key", ("sk-",), r"[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20,}+"),
    # Google API keys: "AIza" + 35 characters exactly; OAuth access tokens "ya29.".
    ("google_api_key", ("AIza",), r"[\w\-]{35}(?![\w\-])"),
    ("token", ("ya29.",), r"[\w\-]{20,}+"),
    # AWS access key ids (long-term, temporary, STS bearer, context-specific).
    ("aws_access_key_id", ("AKIA", "ASIA", "ABIA", "ACCA"), r"[A-Z0-9]{16}(?![A-Za-z0-9])"),
    ("aws_access_key_id", ("A3T",), r"[A-Z0-9]{17}(?![A-Za-z0-9])"),
    # Amazon Bedrock API keys, long-lived ("ABSK" + base64) and short-lived.
    ("aws_bedrock_key", ("ABSK",), r"[A-Za-z0-9+/]{100,}+={0,2}"),
    ("aws_bedrock_key", ("bedrock-api-key-",), r"[A-Za-z0-9+/=%]{20,}+"),
    # Twilio API key SIDs ("SK" + 32 hex).  Account SIDs ("AC...") are identifiers.
    ("twilio_key", ("SK",), r"[0-9a-fA-F]{32}(?![0-9A-Za-z])"),
    # SendGrid: "SG." + key id + "." + secret; Brevo (Sendinblue) API/SMTP keys.
    ("sendgrid_key", ("SG.",), r"[\w\-]{16,}+\.[\w\-]{16,}+|[\w\-=.]{60,}+"),
    ("sendinblue_key", ("xkeysib-", "xsmtpsib-"), r"[a-f0-9]{64}-[A-Za-z0-9]{16}"),
    # JWT: base64url of '{"' is "eyJ"; header.payload.signature (an unsigned JWT
    # has an empty signature and still leaks its claims).
    ("jwt", ("eyJ",), r"[\w\-]{4,}+\.[\w\-]{4,}+\.[\w\-]*+"),
    # ... and what gitleaks takes for one: two "ey" parts of 17+ characters.
    ("jwt", ("ey",), r"[A-Za-z0-9]{15,}+\.ey[\w\-/\\]{15,}+(?:\.[\w\-/\\=]*+)?"),
    # Grafana: legacy API keys (base64 of '{"k":"'), cloud and service-account tokens.
    ("grafana_token", ("eyJrIjoi",), r"[A-Za-z0-9]{50,}+={0,3}"),
    ("grafana_token", ("glc_",), r"[A-Za-z0-9+/]{32,}+={0,3}"),
    ("grafana_token", ("glsa_",), r"[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
    # DigitalOcean OAuth, personal and refresh tokens.
    ("digitalocean_token", ("doo_v1_", "dop_v1_", "dor_v1_"), r"[a-f0-9]{64}"),
    # Hugging Face user and organisation tokens.
    ("huggingface_token", ("hf_", "api_org_"), r"[A-Za-z]{34}(?![A-Za-z0-9])"),
    # npm and PyPI upload tokens (the PyPI macaroon starts with base64 "pypi.org").
    ("npm_token", ("npm_",), r"[A-Za-z0-9]{36,}+"),
    ("pypi_token", ("pypi-AgE",), r"[\w\-]{50,}+"),
    # HashiCorp Vault service and batch tokens; Terraform Cloud tokens (below).
    ("vault_token", ("hvs.", "hvb.", "hvr."), r"[\w\-]{24,}+"),
    # Sentry organisation and user auth tokens.
    ("sentry_token", ("sntrys_",), r"eyJ[A-Za-z0-9+/=_]{40,}+"),
    ("sentry_token", ("sntryu_",), r"[a-f0-9]{64}"),
    # Shopify access tokens and shared secrets.
    ("shopify_token", ("shpat_", "shpca_", "shppa_", "shpss_"), r"[a-fA-F0-9]{32}"),
    # Databricks personal access tokens.
    ("databricks_token", ("dapi",), r"[a-f0-9]{32}(?:-\d)?(?![A-Za-z0-9])"),
    # Doppler service, personal, service-account, CLI, SCIM and audit tokens.
    ("doppler_token", ("dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."),
     r"[A-Za-z0-9]{40,}+"),
    # 1Password account secret keys and service-account tokens.
    ("onepassword_key", ("A3-",),
     r"[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}"),
    ("onepassword_key", ("ops_eyJ",), r"[A-Za-z0-9+/]{100,}+={0,3}"),
    # Adobe client secrets; age encryption keys; Airtable personal access tokens.
    ("adobe_secret", ("p8e-",), r"[A-Za-z0-9]{32}"),
    ("age_secret_key", ("AGE-SECRET-KEY-1",), r"[0-9A-Z]{58}"),
    ("airtable_token", ("pat",), r"[A-Za-z0-9]{14}\.[a-f0-9]{64}"),
    # Alibaba Cloud access key ids.
    ("alibaba_access_key_id", ("LTAI",), r"[A-Za-z0-9]{20}(?![A-Za-z0-9])"),
    # JFrog Artifactory API keys and reference tokens.
    ("artifactory_token", ("AKCp",), r"[A-Za-z0-9]{69}"),
    ("artifactory_token", ("cmVmd",), r"[A-Za-z0-9]{59}(?![A-Za-z0-9])"),
    # Atlassian API tokens.
    ("atlassian_token", ("ATATT3",), r"[\w\-=]{100,}+"),
    # Authress service client access keys.
    ("authress_key", ("sc_", "ext_", "scauth_", "authress_"),
     r"[A-Za-z0-9]{5,30}\.[A-Za-z0-9]{4,6}\.acc[_\-][A-Za-z0-9\-]{10,32}\.[\w+/=\-]{30,}+"),
    # Beamer API tokens.
    ("beamer_token", ("b_",), r"[a-z0-9=_\-]{44}(?![\w=\-])"),
    # ClickHouse Cloud API secret keys.
    ("clickhouse_key", ("4b1d",), r"[A-Za-z0-9]{38}(?![A-Za-z0-9])"),
    # Clojars deploy tokens.
    ("clojars_token", ("CLOJARS_",), r"[A-Za-z0-9]{60}"),
    # Cloudflare Origin CA keys.
    ("cloudflare_key", ("v1.0-",), r"[a-f0-9]{24}-[a-f0-9]{146}"),
    # Defined Networking API tokens.
    ("definednetworking_token", ("dnkey-",), r"[\w=\-]{60,}+"),
    # Docker Hub personal access tokens.
    ("docker_token", ("dckr_pat_",), r"[\w\-]{20,}+"),
    # Duffel API tokens.
    ("duffel_token", ("duffel_test_", "duffel_live_"), r"[\w\-=]{43}"),
    # Dynatrace API tokens.
    ("dynatrace_token", ("dt0c01.",), r"[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}"),
    # EasyPost production and test API keys.
    ("easypost_token", ("EZAK", "EZTK"), r"[A-Za-z0-9]{54}"),
    # Facebook page access tokens; Square access tokens and secrets.
    ("facebook_token", ("EAAM", "EAAC"), r"[A-Za-z0-9]{100,}+"),
    ("square_token", ("EAAA",), r"[\w\-]{22,60}+"),
    ("square_token", ("sq0atp-", "sq0csp-"), r"[\w\-]{22,}+"),
    # Flutterwave secret, public and encryption keys.
    ("flutterwave_key", ("FLWSECK_TEST-", "FLWPUBK_TEST-", "FLWSECK-", "FLWPUBK-"),
     r"[A-Za-z0-9]{12,}+(?:-X)?"),
    # Fly.io tokens.
    ("flyio_token", ("fo1_",), r"[\w\-]{43}"),
    ("flyio_token", ("fm1a_", "fm1r_", "fm2_"), r"[A-Za-z0-9+/]{100,}+={0,3}"),
    # Frame.io API tokens.
    ("frameio_token", ("fio-u-",), r"[\w\-=]{64}"),
    # GoCardless live tokens (a digit somewhere keeps "live_migration_..." out).
    ("gocardless_token", ("live_",), r"(?=[\w\-=]{0,39}[0-9])[\w\-=]{40}(?![\w\-=])"),
    # Lob live/test secret and publishable keys.
    ("lob_key", ("live_", "test_"), r"(?:pub_)?[a-f0-9]{31,35}(?![\w])"),
    # Harness personal and service-account tokens.
    ("harness_token", ("pat.", "sat."), r"[\w\-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}"),
    # Heroku platform API keys (v2 format; v1 keys are UUIDs, caught by their key).
    ("heroku_key", ("HRKU-AA",), r"[\w\-]{58}"),
    # Infracost API tokens.
    ("infracost_token", ("ico-",), r"[A-Za-z0-9]{32}"),
    # 42 intranet client secrets.
    ("intra42_secret", ("s-s4t2ud-", "s-s4t2af-"), r"[a-f0-9]{64}"),
    # Linear API keys and OAuth tokens.
    ("linear_token", ("lin_api_", "lin_oauth_"), r"[A-Za-z0-9]{40}"),
    # Mailgun private and public keys.
    ("mailgun_key", ("key-", "pubkey-"), r"[a-f0-9]{32}(?![A-Za-z0-9])"),
    # Mapbox public and secret tokens ("pk." / "sk." + JWT-like parts).
    ("mapbox_token", ("pk.", "sk.", "tk."), r"[A-Za-z0-9]{20,}+\.[\w\-]{20,}+"),
    # New Relic browser, insert, user and admin keys.
    ("newrelic_key", ("NRJS-", "NRII-", "NRAK-", "NRAA-", "NRRA-"), r"[A-Za-z0-9\-]{19,}+"),
    # Notion integration tokens (new "ntn_" and legacy "secret_").
    ("notion_token", ("ntn_",), r"[0-9]{11}[A-Za-z0-9]{35}"),
    ("notion_token", ("secret_",), r"[A-Za-z0-9]{43}(?![\w])"),
    # Octopus Deploy API keys.
    ("octopus_key", ("API-",), r"[A-Z0-9]{26}(?![A-Za-z0-9])"),
    # OpenShift user tokens.
    ("openshift_token", ("sha256~",), r"[\w\-]{43}"),
    # Perplexity API keys.
    ("perplexity_key", ("pplx-",), r"[A-Za-z0-9]{48}"),
    # Plaid access tokens.
    ("plaid_token", ("access-sandbox-", "access-development-", "access-production-"),
     r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    # PlanetScale service tokens, OAuth tokens and passwords.
    ("planetscale_token", ("pscale_tkn_", "pscale_oauth_", "pscale_pw_"), r"[\w=.\-]{32,64}"),
    # Postman API keys.
    ("postman_key", ("PMAK-",), r"[a-fA-F0-9]{24}-[a-fA-F0-9]{34}"),
    # Prefect API keys.
    ("prefect_key", ("pnu_",), r"[A-Za-z0-9]{36}"),
    # Pulumi access tokens.
    ("pulumi_token", ("pul-",), r"[a-f0-9]{40}"),
    # ReadMe API keys.
    ("readme_key", ("rdme_",), r"[a-z0-9]{70}"),
    # RubyGems API keys.
    ("rubygems_key", ("rubygems_",), r"[a-f0-9]{48}"),
    # Scalingo API tokens.
    ("scalingo_token", ("tk-us-",), r"[\w\-]{48}"),
    # SettleMint application, personal and service tokens.
    ("settlemint_token", ("sm_aat_", "sm_pat_", "sm_sat_"), r"[A-Za-z0-9]{16}"),
    # Shippo API tokens.
    ("shippo_token", ("shippo_live_", "shippo_test_"), r"[a-fA-F0-9]{40}"),
    # SonarQube/SonarCloud user, project and analysis tokens.
    ("sonar_token", ("squ_", "sqp_", "sqa_"), r"[A-Za-z0-9]{40}"),
    # Sourcegraph access tokens.
    ("sourcegraph_token", ("sgp_",), r"(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}"),
    # Supabase personal access tokens.
    ("supabase_token", ("sbp_",), r"[a-f0-9]{40}"),
    # Terraform Cloud / Enterprise tokens ("<14>.atlasv1.<60+>").
    # (found by their middle, see ATLAS below)
    # Twitter (X) app bearer tokens: 22 "A"s, then the rest.
    ("twitter_token", ("AAAAAAAAAAAAAAAAAAAAA",), r"[A-Za-z0-9%]{60,}+"),
    # Typeform personal tokens.
    ("typeform_token", ("tfp_",), r"[\w\-.=]{59}"),
    # Yandex IAM tokens, API keys and static access keys.
    ("yandex_token", ("t1.",), r"[\w\-]{4,}+={0,2}\.[\w\-]{80,}+={0,2}"),
    ("yandex_token", ("AQVN",), r"[\w\-]{35,38}(?![\w\-])"),
    ("yandex_token", ("YC",), r"[\w\-]{38}(?![\w\-])"),
    # HashiCorp Vault legacy service tokens: "s." + 24 mixed-case letters and digits.
    ("vault_token", ("s.",),
     (r"(?=[A-Za-z]{0,23}[0-9])(?=[A-Z0-9]{0,23}[a-z])(?=[a-z0-9]{0,23}[A-Z])"
     r"[A-Za-z0-9]{24}(?![\w.\-])")),
)


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    ends: list[tuple[str, str]] = field(default_factory=list)  # (rest, group name)


def _trie_pattern(entries: list[tuple[str, str, str]]) -> str:
    """One alternation for (prefix, rest, group name) rows: prefixes share a
    branch per character; each row ends in an empty named group."""
    root = _Node()
    for prefix, rest, name in entries:
        current = root
        for char in prefix:
            current = current.children.setdefault(char, _Node())
        current.ends.append((rest, name))

    def build(node: _Node) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.children.items())]
        branches += [f"(?:{rest})(?P<{name}>)" for rest, name in node.ends]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return build(root)


_GROUP_KINDS: dict[str, str] = {}
_ENTRIES: list[tuple[str, str, str]] = []
for _kind, _prefixes, _rest in _FAMILIES:
    for _prefix in _prefixes:
        _name = f"t{len(_ENTRIES)}"
        _GROUP_KINDS[_name] = _kind
        _ENTRIES.append((_prefix, _rest, _name))



def _token_kind(match: re.Match[str]) -> str | None:
    return _GROUP_KINDS.get(match.lastgroup or "")


TOKEN_RULE = Rule(
    "provider_token",
    re.compile(r"(?<![A-Za-z0-9])" + _trie_pattern(_ENTRIES)),
    # No hints: checking ~150 prefixes one by one costs more than the scan, whose
    # look-behind refuses most positions at once.
    _token_kind,
    # Tokens hold letters, digits and punctuation, never whitespace (tested:
    # tests/domain/test_redaction_linear.py).
    whitespace_free=True,
)

# Families found by a marker in their middle or end rather than a prefix.
SHAPED_RULES: tuple[Rule, ...] = (
    # Azure AD (Entra ID) client secrets: 3 characters, a digit, "Q~", 31-34 more.
    Rule(
        "azure_client_secret",
        re.compile(r"(?<![\w~.\-])[A-Za-z0-9_~.]{3}[0-9]Q~[\w~.\-]{31,34}+"),
        "azure_client_secret",
        hints=("q~",),
    ),
    # Terraform Cloud / Enterprise API tokens: "<14>.atlasv1.<60-70>".
    Rule(
        "terraform_token",
        re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{14}\.atlasv1\.[\w\-=]{60,}+"),
        "terraform_token",
        hints=("atlasv1",),
    ),
    # Mailchimp API keys: 32 hex + "-us" + data-centre number.
    Rule(
        "mailchimp_key",
        re.compile(r"(?<![A-Za-z0-9])[a-f0-9]{32}-us[0-9]{1,2}(?![0-9])"),
        "mailchimp_key",
        hints=("-us",),
    ),
    # MaxMind licence keys: 6 + "_" + 29 + "_mmk".
    Rule(
        "maxmind_key",
        re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk"),
        "maxmind_key",
        hints=("_mmk",),
    ),
    # Telegram bot tokens: bot id, ":", "A" + 34 characters.
    Rule(
        "telegram_token",
        re.compile(r"[0-9](?<![0-9A-Za-z][0-9])[0-9]{4,15}:A[\w\-]{34}(?![\w\-])"),
        "telegram_token",
        hints=(":a",),
    ),
    # Facebook app access tokens: app id, "|" (or %7C), app secret.
    Rule(
        "facebook_token",
        re.compile(r"[0-9](?<![0-9A-Za-z][0-9])[0-9]{14,15}(?:\||%7[Cc])[\w\-]{27,40}+"),
        "facebook_token",
        hints=("|", "%7c"),
    ),
)

# ---------------------------------------------------------------------------
# Random strings without a prefix
# ---------------------------------------------------------------------------

# zlib in base64 (Sentry's grouping enhancements) and Stripe publishable keys.
_PUBLIC_PREFIXES = ("eJ", "pk_live_", "pk_test_")
_HEXISH = frozenset("0123456789abcdefABCDEF-_")
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
_SEPARATORS = re.compile(r"[\-_./+]")
_DROP_DIGITS = str.maketrans("", "", "0123456789")
_LOWER_RUN = re.compile(r"[a-z]{5}")
_PREFIXED_HEX = re.compile(r"[A-Za-z]{1,4}[_\-]?(?:[0-9a-f\-]{16,}|[0-9A-F\-]{16,})")


def _entropy(text: str) -> float:
    counts = Counter(text)
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def _class_changes(text: str) -> int:
    """How often the text switches between letters and digits ("a1b2" -> 3)."""
    changes = 0
    previous = text[0].isdigit()
    for char in text:
        digit = char.isdigit()
        if digit != previous:
            changes += 1
            previous = digit
    return changes


# Compact and ISO 8601 date-times, as ids embed them.
_TIMESTAMP = re.compile(r"\d{8}T\d{4,6}Z?|\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?Z?")


def looks_random(run: str) -> bool:
    """A credential-like random string: long, letters and digits mixed, no words.

    Kept: hex of any length (git SHAs, trace and span ids, digests, UUIDs), numbers,
    ULIDs, zlib in base64 ("eJ...", Sentry's grouping data), and strings whose
    longest separator-free part is short or reads as words with a number
    (pod and host names, metric names, paths, versions).
    """
    # A timestamp in an id ("heartbeat-20261204T185339Z") is not randomness:
    # what is left must look random on its own.
    run = run.rstrip("=")
    if "T" in run:  # both forms hold one; most runs do not, and skip the scan
        run = _TIMESTAMP.sub("", run)
    if len(run) < 14 or run.startswith(_PUBLIC_PREFIXES):
        return False
    has_upper = run != run.lower()
    has_lower = run != run.upper()
    if set(run) <= _HEXISH and not (has_upper and has_lower):
        return False  # hex in one case: SHAs, trace ids, digests, UUIDs
    if _PREFIXED_HEX.fullmatch(run):
        return False  # an id with a type prefix: Twilio "AC<hex>", "evt_<hex>"
    digits = len(run) - len(run.translate(_DROP_DIGITS))
    if digits < 2 or not (has_upper or has_lower):
        return False
    if has_upper and has_lower:
        # Mixed case (base64 and friends): few separators, high entropy; a short
        # one also no run of 5 lower-case letters (CamelCase words have them).
        separators = len(_SEPARATORS.findall(run))
        if separators * 8 > len(run):
            return False
        if len(run) >= 20:
            return _entropy(run) >= 3.8
        return len(run) >= 14 and not _LOWER_RUN.search(run) and _entropy(run) >= 3.4
    if _ULID.fullmatch(run):
        return False
    # One case only: one part without separators must look random on its own.
    part = max(_SEPARATORS.split(run), key=len)
    if len(part) < 16 or set(part) <= _HEXISH:
        return False
    part_digits = len(part) - len(part.translate(_DROP_DIGITS))
    return (
        3 <= part_digits <= len(part) - 3
        and _class_changes(part) >= (4 if len(part) >= 24 else 5)
        and _entropy(part) >= 3.3
    )
