"""The messages the pages use, extracted from the templates and the page modules (Babel's extractors):
what the French catalogues must translate. `python -m web.catalog` lists the missing ones."""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.extract import extract_from_dir

from web import i18n

ROOT = Path(__file__).parent
METHODS = [
    ("templates/**.html", "jinja2.ext:babel_extract"),
    ("**.py", "python"),
]
OPTIONS = {
    "templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}
}


def used_messages() -> dict[str, str]:
    """msgid -> where it is used (first place)."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, options_map=OPTIONS, keywords={"_": None, "gettext": None, "ngettext": (1, 2)}
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def missing(locale: str = "fr") -> dict[str, str]:
    catalog = i18n.CATALOGS[locale]
    return {m: where for m, where in used_messages().items() if m not in catalog}


if __name__ == "__main__":
    gaps = missing()
    for msgid, where in sorted(gaps.items(), key=lambda kv: kv[1]):
        escaped = msgid.replace("\\", "\\\\").replace('"', '\\"')
        print(f'#: {where}\nmsgid "{escaped}"\nmsgstr ""\n')
    sys.exit(1 if gaps else 0)
