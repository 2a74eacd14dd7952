"""Secret redaction: nothing that looks like a credential is written into a record.

Records travel with ``git push`` and stay in history for good, so a leaked token cannot be
taken back: values are masked before a record is ever written. A value is judged by the key
that names it, wherever that key appears: a mapping key at any depth, ``key=value`` inside a
string (Kedro records its command line, ``kedro run --params api_key=...``, as one string),
or an option followed by its value in an argument list (``["--password", "x"]``).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from typing import Any

MASK = "***"

#: Words that make a key secret. ``token`` has no plural on purpose: ``max_tokens`` and
#: ``num_tokens`` are model parameters, not credentials.
DEFAULT_SECRET_KEYS = (
    "password",
    "passwords",
    "passwd",
    "secret",
    "secrets",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "credential",
    "credentials",
)

#: Extra secret words, comma-separated, for every entry point (the Kedro store also takes
#: ``secret_keys`` in ``SESSION_STORE_ARGS``). They add to the defaults, never replace them.
ENV_VAR = "GITPROV_SECRET_KEYS"

#: ``key=`` (or ``key:``) inside a string; what follows is the value (:data:`_VALUE`).
_KEY = re.compile(r"""(?<![\w.-])(?P<key>[A-Za-z_-][\w.-]*)["']?\s*[=:]\s*""")

#: A value inside a string: quoted, or up to the next ``,``, ``;`` or ``&`` (parameter
#: lists, URL queries), the next `` -option``, or the end. A secret containing spaces is
#: masked whole, at the price of sometimes masking a little more than the secret.
_VALUE = re.compile(r""""[^"]*"|'[^']*'|.*?(?=\s+-|\s*[,;&\n]|\s*$)""")

#: ``--password value`` inside a string: the option's next word is its value.
_OPTION = re.compile(r"(?P<option>(?<!\S)--?[A-Za-z][\w.-]*)(?P<space>\s+)(?P<value>[^\s-]\S*)")


def _normalise(key: str) -> str:
    """``apiKey``, ``API-KEY``, ``--api.key`` -> ``api_key``: one spelling to match."""
    key = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    key = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", key)
    return re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")


@functools.lru_cache(maxsize=32)
def _matcher(extra: tuple[str, ...]) -> re.Pattern[str]:
    """A key is secret when a secret word ends one of its words (``db_password``,
    ``githubtoken``, ``aws_secret_access_key``) but not when it only starts one
    (``tokenizer``, ``secretary``)."""
    words = {_normalise(w) for w in (*DEFAULT_SECRET_KEYS, *extra) if _normalise(w)}
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?:^|_)[a-z0-9]*(?:{alternatives})(?:_|$)")


def secret_words(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The configured extra words: ``extra`` plus those in :data:`ENV_VAR`."""
    from_env = [w.strip() for w in os.environ.get(ENV_VAR, "").split(",")]
    return tuple(sorted({w for w in (*extra, *from_env) if w}))


class _Redactor:
    def __init__(self, extra: Iterable[str]) -> None:
        self._pattern = _matcher(secret_words(extra))

    def secret(self, key: str) -> bool:
        return bool(self._pattern.search(_normalise(key)))

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: MASK if v is not None and self.secret(str(k)) else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return self.sequence(value)
        if isinstance(value, str):
            return self.text(value)
        return value

    def sequence(self, items: list[Any]) -> list[Any]:
        """A list, read as an argument list too: ``--token`` masks the item after it."""
        out: list[Any] = []
        mask_next = False
        for item in items:
            if mask_next:
                out.append(MASK)
                mask_next = False
                continue
            out.append(self.value(item))
            if isinstance(item, str) and item.startswith("-") and "=" not in item:
                mask_next = self.secret(item)
        return out

    def text(self, text: str) -> str:
        out: list[str] = []
        pos = 0
        while found := _KEY.search(text, pos):
            out.append(text[pos : found.end()])
            pos = found.end()
            if self.secret(found["key"]):
                value = _VALUE.match(text, pos)
                out.append(MASK)
                pos = value.end() if value else pos
        out.append(text[pos:])

        def option(m: re.Match[str]) -> str:
            if not self.secret(m["option"]):
                return m[0]
            return f"{m['option']}{m['space']}{MASK}"

        return _OPTION.sub(option, "".join(out))


def redact(value: Any, extra_keys: Iterable[str] = ()) -> Any:
    """``value`` (plain YAML types) with every secret-looking value replaced by ``***``.

    ``extra_keys`` adds secret words to the defaults and to :data:`ENV_VAR`'s. A ``None``
    value stays ``None``: it hides nothing and says that no secret was set.
    """
    return _Redactor(extra_keys).value(value)
