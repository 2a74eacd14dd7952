"""Credentials recognised by their own shape, wherever they stand: one list for every screen.

Record values (:mod:`gitprov.model.redact`) are masked by these rules on every save, so they
cost microseconds: importing ``detect-secrets``, which screens snapshot files
(:mod:`gitprov.state.screen`), takes hundreds of milliseconds. They cover every token format of
detect-secrets' pattern plugins (a test holds the two to that) and newer ones it lacks
(``sk-proj-``, Hugging Face, Google API keys); its keyword and entropy plugins are left
out on purpose: keys are judged by :mod:`gitprov.model.redact`, and guessing by entropy would
mask the commit ids and digests that records are full of.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

#: Not part of a token on either side, so ``task-...`` never reads as an ``sk-`` key.
_B = r"(?<![A-Za-z0-9_-])"
_E = r"(?![A-Za-z0-9_-])"


@dataclass(frozen=True)
class Rule:
    """A credential format: ``name`` says which (``slack-webhook``); ``pattern``'s group
    ``secret``, when it has one, is the credential part, else the whole match is."""

    name: str
    pattern: re.Pattern[str]

    def span(self, match: re.Match[str]) -> tuple[int, int]:
        """Where the credential part of ``match`` stands."""
        return match.span("secret") if "secret" in self.pattern.groupindex else match.span()


def _rule(name: str, pattern: str) -> Rule:
    return Rule(name, re.compile(pattern))


RULES: tuple[Rule, ...] = (
    _rule(
        "private-key",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?P<secret>[\s\S]*?)(?=-----END |\Z)",
    ),
    _rule("github-token", rf"{_B}(?:gh[pousr]_[A-Za-z0-9]{{36,}}|github_pat_\w{{22,}}){_E}"),
    _rule("gitlab-token", rf"{_B}gl(?:pat|dt|rt|ptt)-[A-Za-z0-9_-]{{20,}}{_E}"),
    _rule("slack-token", rf"{_B}(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]{{10,}}{_E}"),
    _rule(
        "slack-webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9_/-]+)",
    ),
    _rule(
        "discord-webhook",
        r"discord(?:app)?\.com/api/webhooks/(?P<secret>[A-Za-z0-9_/-]+)",
    ),
    _rule(
        "openai-or-anthropic-key",
        rf"{_B}sk-(?:(?:proj|svcacct|admin|ant-[a-z]+\d*)-[A-Za-z0-9_-]{{20,}}|[A-Za-z0-9]{{32,}}){_E}",
    ),
    _rule("artifactory-token", rf"{_B}AKC[A-Za-z0-9]{{10,}}{_E}"),
    _rule("stripe-key", rf"{_B}[sr]k_(?:live|test)_[A-Za-z0-9]{{16,}}{_E}"),
    _rule("aws-access-key-id", r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"),
    _rule("google-api-key", rf"{_B}AIza[A-Za-z0-9_-]{{35}}{_E}"),
    _rule("huggingface-token", rf"{_B}hf_[A-Za-z0-9]{{30,}}{_E}"),
    _rule("npm-token", rf"{_B}npm_[A-Za-z0-9]{{36}}{_E}"),
    _rule("pypi-token", rf"{_B}pypi-AgE[A-Za-z0-9_-]{{50,}}{_E}"),
    _rule("sendgrid-key", rf"{_B}SG\.[A-Za-z0-9_-]{{22}}\.[A-Za-z0-9_-]{{43}}{_E}"),
    _rule("square-oauth-secret", rf"{_B}sq0csp-[A-Za-z0-9_-]{{43}}{_E}"),
    _rule("twilio-api-key", rf"{_B}SK[0-9a-f]{{32}}{_E}"),
    _rule("mailchimp-key", rf"{_B}[0-9a-f]{{32}}-us\d{{1,2}}{_E}"),
    _rule("telegram-bot-token", rf"(?<![\w:-])\d{{8,10}}:[A-Za-z0-9_-]{{35}}{_E}"),
    _rule(
        "discord-bot-token",
        rf"{_B}[MNO][A-Za-z0-9_-]{{23,25}}\.[A-Za-z0-9_-]{{6}}\.[A-Za-z0-9_-]{{27}}{_E}",
    ),
    _rule("jwt", rf"{_B}eyJ[A-Za-z0-9_-]{{8,}}\.eyJ[A-Za-z0-9_-]{{8,}}\.[A-Za-z0-9_-]{{8,}}{_E}"),
    # an HTTP bearer credential standing alone ("Bearer <token>"); a digit and 16 characters
    # keep "Bearer authentication" prose readable
    _rule(
        "bearer-token",
        r"\bBearer\s+(?P<secret>(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{16,}=*)",
    ),
)


def matches(text: str) -> Iterator[tuple[Rule, re.Match[str]]]:
    """Every credential in ``text``, rule by rule (a screen needs only the first)."""
    for rule in RULES:
        for match in rule.pattern.finditer(text):
            yield rule, match


def mask(text: str, replacement: str) -> str:
    """``text`` with the credential part of every match replaced by ``replacement``."""
    for rule in RULES:
        if rule.pattern.search(text) is None:
            continue

        def masked(match: re.Match[str], rule: Rule = rule) -> str:
            start, end = rule.span(match)
            base = match.start()
            return f"{match[0][: start - base]}{replacement}{match[0][end - base :]}"

        text = rule.pattern.sub(masked, text)
    return text
