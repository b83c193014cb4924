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


#: The translating functions, as Babel reads their arguments: `pgettext(context, message)`,
#: `npgettext(context, singular, plural, n)`.
KEYWORDS = {
    "_": None,
    "N_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
}


def used_keys() -> dict[tuple[str, str | None], str]:
    """(msgid, context) -> where it is used (first place); a plural message by its singular."""
    return {key: where for key, (where, _plural) in _extracted().items()}


def used_plurals() -> set[tuple[str, str | None]]:
    return {key for key, (_where, plural) in _extracted().items() if plural is not None}


def _extracted() -> dict[tuple[str, str | None], tuple[str, str | None]]:
    """(msgid, context) -> (where, the plural msgid of a plural message)."""
    found: dict[tuple[str, str | None], tuple[str, str | None]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        str(ROOT), METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            plural = message[1] if isinstance(message, tuple) else None
            found.setdefault((msgid, context), (f"{filename}:{lineno}", plural))
    return found


def used_messages() -> dict[str, str]:
    """msgid -> where it is used (first place)."""
    found: dict[str, str] = {}
    for (msgid, _context), where in used_keys().items():
        found.setdefault(msgid, where)
    return found


def missing(locale: str = "fr") -> dict[str, str]:
    """The messages without a translation, each as `msgid` or `context | msgid`."""
    translated, plurals = i18n.CATALOGS[locale], i18n.PLURALS[locale]
    return {
        (f"{key[1]} | {key[0]}" if key[1] else key[0]): where
        for key, (where, plural) in _extracted().items()
        if key not in translated or (plural is not None and key not in plurals)
    }


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


if __name__ == "__main__":
    # The missing entries as .po text to paste: with their context, plural ones with both forms.
    translated, plurals = i18n.CATALOGS["fr"], i18n.PLURALS["fr"]
    gaps = 0
    for (msgid, context), (where, plural) in sorted(_extracted().items(), key=lambda kv: kv[1][0]):
        if (msgid, context) in translated and (plural is None or (msgid, context) in plurals):
            continue
        gaps += 1
        print(f"#: {where}")
        if context:
            print(f"msgctxt {_quoted(context)}")
        print(f"msgid {_quoted(msgid)}")
        print(f'msgid_plural {_quoted(plural)}\nmsgstr[0] ""\nmsgstr[1] ""\n' if plural else 'msgstr ""\n')
    sys.exit(1 if gaps else 0)
