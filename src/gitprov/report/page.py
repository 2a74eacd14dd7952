"""The report's one HTML file: the payload as inert JSON, the page's stylesheet and script
inline, and a Content-Security-Policy that lets only those two (by their hashes) run."""

from __future__ import annotations

import base64
import hashlib
import html
import json
from importlib import resources
from typing import Any


def data_json(payload: Any) -> str:
    """``payload`` as JSON that is safe inside ``<script type="application/json">``: every
    character beyond ASCII escaped (U+2028/2029 included), and ``<``, ``>``, ``&`` too."""
    text = json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    # what ``</script>``, ``<!--`` or an entity would need; JSON.parse reads the escapes back
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _asset(name: str) -> str:
    return resources.files("gitprov.report").joinpath(name).read_text(encoding="utf-8")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def render(payload: dict[str, Any]) -> str:
    """The whole page for ``payload`` (:func:`gitprov.report.payload.collect`)."""
    style, script = _asset("page.css"), _asset("page.js")
    policy = (
        f"default-src 'none'; script-src {_hash(script)}; style-src {_hash(style)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    title = html.escape(f"gitprov report: {payload['repository']}")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<link rel="icon" href="data:,">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        f"<style>{style}</style>\n"
        "</head><body>\n"
        f"<noscript>This report draws its views with JavaScript; the data is in the "
        f"element #gitprov-data as JSON.</noscript>\n"
        f'<script id="gitprov-data" type="application/json">{data_json(payload)}</script>\n'
        f"<script>{script}</script>\n"
        "</body></html>\n"
    )
