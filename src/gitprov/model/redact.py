"""Secret redaction: nothing that looks like a credential is written into a record.

Records travel with ``git push`` and stay in history for good, so a leaked token cannot be
taken back: values are masked before a record is ever written. Only the credential part
goes; what says where and what (the host, the key, the option) stays readable.

- A value is judged by the key that names it, wherever that key appears: a mapping key at
  any depth, ``key=value`` inside a string (Kedro records its command line, ``kedro run
  --params api_key=...``, as one string), an option followed by its value in an argument
  list (``["--pass", "x"]``), a URL's query or fragment (``#access_token=...``). Keys are
  read as words and judged by the last one: ``db_password`` is a password, ``token_count``
  a count.
- A URL's user information (``user:password@``, or a bare user, which over HTTP is how a
  token is passed) becomes ``***@`` wherever the URL stands: ``postgresql://***@h/db``.
  The host and path stay; a bare ``ssh://git@`` user, which is no secret, stays too.
- A remote's URL, wherever one is named (``git.remotes``, sync's messages), loses its
  user information whole (:func:`scrub_url`), by the same key rules for its query.
- A credential with a shape of its own (``ghp_...``, ``xoxb-...``, ``sk-...``, Slack
  webhooks, private keys: :mod:`gitprov.model.secret_patterns`, the rules snapshots are screened
  with) is masked wherever it stands, named by a key or not.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from gitprov.model import secret_patterns

MASK = "***"

#: Words that make a key secret, also as the end of a longer word (``githubtoken``,
#: ``dbpassword``). ``token`` has no plural on purpose: ``max_tokens`` and ``num_tokens``
#: are model parameters, not credentials.
DEFAULT_SECRET_KEYS = (
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "secret",
    "secrets",
    "secret_key",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "account_key",
    "private_key",
    "credential",
    "credentials",
    "authorization",
    "cookie",
    "ssh_key",
)

#: Words that make a key secret only as a word of their own: inside a longer one they are
#: something else (``bypass``, ``oauth``, ``design``).
WHOLE_SECRET_WORDS = ("pass", "pwd", "auth", "sig", "signature")

#: Keys naming a connection. A URL there keeps everything but its credentials; any other
#: value (a keyword DSN, ``host=h password=pw``) is masked whole.
CONNECTION_KEYS = (
    "dsn",
    "database_url",
    "database_uri",
    "db_url",
    "db_uri",
    "connection_string",
    "conn_string",
    "conn_str",
    "connection_url",
    "connection_uri",
    "broker_url",
    "redis_url",
    "mongo_url",
    "mongo_uri",
    "mongodb_uri",
    "amqp_url",
)

#: Last words that name a form rather than a thing, so the word before them decides:
#: ``client_secret_value`` and ``secret_key_base`` are secrets.
_FORM_WORDS = (
    "value",
    "val",
    "str",
    "string",
    "text",
    "data",
    "raw",
    "plain",
    "plaintext",
    "cleartext",
    "b64",
    "base64",
    "hex",
    "bytes",
    "enc",
    "encoded",
    "pem",
    "base",
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

#: Where a URL starts: its scheme and ``//``.
_SCHEME = re.compile(r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")

#: A URL inside a string. It ends at a ``,`` or ``;`` too: Kedro's ``--params a=1,b=2``
#: and JDBC's ``;password=...`` continue with pairs that are judged on their own.
_URL = re.compile(rf"{_SCHEME.pattern}[^\s\"'<>`,;]*")

#: A URL's authority (as ``urlsplit`` reads it) and the run of text it is part of.
_AUTHORITY = re.compile(r"[^\s/?#\"'<>`]*")
_RUN = re.compile(r"[^\s\"'<>`]*")

#: ``key=value`` in a URL's path, query or fragment.
_PAIR = re.compile(r"(?P<key>[^/?#&;=]+)=(?P<value>[^&;#]*)")

#: An HTTP authentication scheme in front of a masked value stays: it says what was there.
_AUTH_SCHEME = re.compile(
    r"(?P<quote>[\"']?)(?P<scheme>Bearer|Basic|Token|Digest|Negotiate|Bot)\s+\S", re.IGNORECASE
)


def _normalise(key: str) -> str:
    """``apiKey``, ``API-KEY``, ``--api.key`` -> ``api_key``: one spelling to match."""
    key = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    key = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", key)
    return re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")


def _alternatives(words: Iterable[str]) -> str:
    spelled = {_normalise(w) for w in words if _normalise(w)}
    return "|".join(re.escape(w) for w in sorted(spelled, key=len, reverse=True))


@functools.lru_cache(maxsize=32)
def _matchers(extra: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(secret, connection) key patterns, over normalised keys.

    A key is judged by its last word, form words aside: it is secret when that word ends
    with a secret word (``db_password``, ``githubtoken``, ``aws_secret_access_key``) or is
    a whole one (``db_pass``), not when a secret word only starts or precedes it
    (``tokenizer``, ``token_count``, ``ssh_private_key_path``).
    """
    forms = rf"(?:_(?:{_alternatives(_FORM_WORDS)}))*$"
    compound = _alternatives((*DEFAULT_SECRET_KEYS, *extra))
    whole = _alternatives(WHOLE_SECRET_WORDS)
    secret = re.compile(rf"(?:^|_)(?:[a-z0-9]*(?:{compound})|(?:{whole})){forms}")
    connection = re.compile(rf"(?:^|_)[a-z0-9]*(?:{_alternatives(CONNECTION_KEYS)}){forms}")
    return secret, connection


def secret_words(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The configured extra words: ``extra`` plus those in :data:`ENV_VAR`."""
    from_env = [w.strip() for w in os.environ.get(ENV_VAR, "").split(",")]
    return tuple(sorted({w for w in (*extra, *from_env) if w}))


def _masked(value: Any) -> str:
    """The mask of a secret value; ``Bearer ***`` when an auth scheme leads it."""
    scheme = _AUTH_SCHEME.match(value) if isinstance(value, str) else None
    if scheme is None:
        return MASK
    return f"{scheme['quote']}{scheme['scheme']} {MASK}{scheme['quote']}"


def _quoted_end(text: str, key_start: int, value: re.Match[str]) -> int:
    """Where a secret value ends: at the quote that closes a quoted ``key: value``
    (``-H 'Authorization: Bearer x' -v``), else where :data:`_VALUE` ends it."""
    quote = text[key_start - 1 : key_start]
    if quote in ("'", '"') and quote in value[0] and not value[0].startswith(("'", '"')):
        return value.start() + value[0].index(quote)
    return value.end()


def _userinfo_end(text: str, start: int, scheme: str) -> int:
    """Where the user information of the URL whose authority starts at ``start`` ends
    (its ``@``), or -1 when it has none to mask.

    The last ``@`` of the authority, as ``urlsplit`` reads it; failing that, the first
    ``@`` of the run after a ``user:`` whose password holds an unencoded ``/``, ``?`` or
    ``#`` (``u:pa/ss@h``): a URL no client reads right can still leak its password.
    """
    authority = _AUTHORITY.match(text, start)
    run = _RUN.match(text, start)
    if authority is None or run is None:
        return -1
    at = authority[0].rfind("@")
    if at < 0:
        _, colon, rest = authority[0].rpartition(":")
        if not colon or rest.isdigit() or "@" not in run[0]:  # no password, or a port
            return -1
        at = run[0].index("@")
    userinfo = text[start : start + at]
    if scheme.lower().startswith(("ssh", "git+ssh")) and ":" not in userinfo:
        return -1  # ``ssh://git@host``: a user name, not a secret
    return start + at


def _mask_userinfo(text: str) -> str:
    """``text`` with every URL's user information replaced by ``***``."""
    out: list[str] = []
    pos = 0
    for found in _SCHEME.finditer(text):
        if found.start() < pos:
            continue  # inside user information already masked
        end = _userinfo_end(text, found.end(), found["scheme"])
        if end >= 0:
            out += [text[pos : found.end()], MASK]
            pos = end
    out.append(text[pos:])
    return "".join(out)


class _Redactor:
    def __init__(self, extra: Iterable[str], *, remote: bool = False) -> None:
        """``remote``: the text names remotes (git's messages about one, a remote's URL),
        whose query keys are judged by :data:`URL_SECRET_WORDS` too."""
        self._secret, self._connection = _matchers(secret_words(extra))
        self._remote = remote

    def secret(self, key: str) -> bool:
        normal = _normalise(key)
        return not normal.startswith("no_") and bool(self._secret.search(normal))

    def hides(self, key: str, value: Any) -> bool:
        """Whether ``key``'s value is masked whole: the key is secret, or names a
        connection and the value is not a URL (a URL loses only its credentials)."""
        if self.secret(key):
            return True
        if not self._connection.search(_normalise(key)):
            return False
        return not (isinstance(value, str) and _SCHEME.match(value.strip("\"' ")))

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            masked: dict[Any, Any] = {}
            for k, v in value.items():
                shown = self.key(k, masked)
                hidden = v is not None and self.hides(str(k), v)
                masked[shown] = _masked(v) if hidden else self.value(v)
            return masked
        if isinstance(value, list):
            return self.sequence(value)
        if isinstance(value, str):
            return self.text(value)
        return value

    def key(self, key: Any, taken: dict[Any, Any]) -> Any:
        """``key`` with a credential of a known shape masked (a token used as a parameter's
        name is still a token); kept apart from the keys ``taken`` already, so that two
        masked keys never overwrite each other's values."""
        if not isinstance(key, str):
            return key
        shown = secret_patterns.mask(key, MASK)
        n = 1
        while shown != key and shown in taken:
            n += 1
            shown = f"{secret_patterns.mask(key, MASK)}#{n}"
        return shown

    def sequence(self, items: list[Any]) -> list[Any]:
        """A list, read as an argument list too: ``--token`` masks the item after it."""
        out: list[Any] = []
        option = None
        for item in items:
            if option is not None and self.hides(option, item):
                out.append(_masked(item))
            else:
                out.append(self.value(item))
            is_option = isinstance(item, str) and item.startswith("-") and "=" not in item
            option = item if is_option else None
        return out

    def text(self, text: str) -> str:
        text = _mask_userinfo(text)
        out: list[str] = []
        pos = 0
        key = _KEY.search(text)
        url = _URL.search(text)
        while key is not None or url is not None:
            if url is not None and (key is None or url.start() <= key.start()):
                out += [text[pos : url.start()], self.url(url[0])]
                pos = url.end()
            elif key is not None:
                out.append(text[pos : key.end()])
                pos = key.end()
                value = _VALUE.match(text, pos)
                if value is not None and self.hides(key["key"], value[0]):
                    out.append(_masked(value[0]))
                    pos = _quoted_end(text, key.start(), value)
            key = key if key is None or key.start() >= pos else _KEY.search(text, pos)
            url = url if url is None or url.start() >= pos else _URL.search(text, pos)
        out.append(text[pos:])

        def option(m: re.Match[str]) -> str:
            if not self.hides(m["option"], m["value"]):
                return m[0]
            return f"{m['option']}{m['space']}{_masked(m['value'])}"

        return secret_patterns.mask(_OPTION.sub(option, "".join(out)), MASK)

    def url(self, url: str) -> str:
        """A URL (its user information already masked) with the secret ``key=value``
        pairs of its path, query and fragment masked."""
        authority = _AUTHORITY.match(url, url.index("://") + 3)
        start = authority.end() if authority is not None else len(url)

        def pair(m: re.Match[str]) -> str:
            return f"{m['key']}={MASK}" if self.hides_in_url(m["key"], m["value"]) else m[0]

        return url[:start] + _PAIR.sub(pair, url[start:])

    def hides_in_url(self, key: str, value: str) -> bool:
        """Whether a URL's ``key=value`` is masked: as a record's key is, and for a
        remote's URL also when the key holds one of :data:`URL_SECRET_WORDS`."""
        if self.hides(key, value):
            return True
        return self._remote and URL_SECRET_WORDS.search(key) is not None


def redact(value: Any, extra_keys: Iterable[str] = ()) -> Any:
    """``value`` (plain YAML types) with every secret-looking value replaced by ``***``.

    ``extra_keys`` adds secret words to the defaults and to :data:`ENV_VAR`'s. A ``None``
    value stays ``None``: it hides nothing and says that no secret was set.
    """
    return _Redactor(extra_keys).value(value)


def redact_text(text: str) -> str:
    """``text`` (a message from git about a remote, say) masked as a record's string is:
    what is shown must not leak what a record may not hold."""
    return _Redactor((), remote=True).text(text)


#: RFC 3986's own splitting pattern (appendix B), for URLs with a scheme. Unlike
#: ``urlsplit``, which rejects ``https://u:p@host]/x`` ("Invalid IPv6 URL"), it splits
#: anything: one malformed remote must not cost every run its record, nor keep its password.
_URI = re.compile(r"([^:/?#]+)://([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?", re.DOTALL)


def scrub_url(url: str) -> str:
    """A remote URL without credentials, to show or write wherever a remote is named;
    never raises.

    HTTP(S) user info is dropped whole (a bare user is often a token); for ssh only a
    password goes (``git@`` is not a secret). Values of the query and of a ``#key=value``
    fragment (``#access_token=...``) are masked when their key is secret, as a record's are,
    and so is a credential with a shape of its own (:mod:`gitprov.model.secret_patterns`)
    anywhere in the URL.
    """
    match = _URI.fullmatch(url)
    if match is None:  # scp-like ``git@host:path`` or a local path: no password syntax
        return secret_patterns.mask(url, MASK)
    scheme, authority, path, query, fragment = match.groups()
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        if scheme.startswith(("ssh", "git+ssh")):
            authority = f"{userinfo.split(':', 1)[0]}@{host}"
        else:
            authority = host
    if query:
        query = _scrub_pairs(query)
    if fragment and "=" in fragment:
        fragment = "#" + _scrub_pairs(fragment[1:])
    clean = f"{scheme}://{authority}{path}{'?' + query if query else ''}{fragment or ''}"
    return secret_patterns.mask(clean, MASK)


#: A URL's query key holding one of these (``key``, ``sig``, ``X-Amz-Credential``,
#: ``passkey``) is masked too: in a query, ``key=`` is an API key far more often than in a
#: record, and a remote URL travels to every clone.
URL_SECRET_WORDS = re.compile(r"token|secret|key|pass|sig|auth(?!or)|cred", re.IGNORECASE)


def _scrub_pairs(pairs: str) -> str:
    """``a=1&token=x`` with the secret values masked (:meth:`_Redactor.hides_in_url`)."""
    judge = _Redactor((), remote=True)
    parsed = parse_qsl(pairs, keep_blank_values=True)
    return urlencode([(k, MASK if judge.hides_in_url(k, v) else v) for k, v in parsed])
