"""The string tables themselves: every key in both languages, defined once, and used by some page.

The browser crawl (tests/demo/test_translations.py) checks what pages show; this checks the tables against the
sources, so a key added for a page that was later removed, or written in one language only, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "web" / "static"
ENTRY = re.compile(r"^\s*'([A-Za-z0-9_.]+)':\s*\[(.*)\],\s*$")
PAIR = re.compile(r"^\s*'((?:[^'\\]|\\.)*)'\s*,\s*'((?:[^'\\]|\\.)*)'\s*$")
FAMILY = re.compile(r"[`]([A-Za-z0-9_.]+)\$\{")  # t(`state.${s}`): every key starting with "state." is used


def tables() -> dict[str, tuple[str, str, str]]:
    """key → (zh, en, module) from web/static/i18n/*.js (one key per line, [zh, en])."""
    out: dict[str, tuple[str, str, str]] = {}
    seen: dict[str, list[str]] = {}
    for path in sorted((STATIC / "i18n").glob("*.js")):
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = ENTRY.match(line)
            if not entry:
                continue
            key, rest = entry.groups()
            pair = PAIR.match(rest)
            assert pair, f"{path.name}: {key} is not ['中文', 'English']: {rest}"
            seen.setdefault(key, []).append(path.name)
            out[key] = (pair.group(1), pair.group(2), path.name)
    twice = {k: v for k, v in seen.items() if len(v) > 1}
    assert not twice, f"keys defined twice: {twice}"
    return out


def sources() -> str:
    files = [p for p in STATIC.rglob("*") if p.suffix in (".js", ".html") and p.parent.name not in ("i18n", "vendor")]  # vendor: third-party builds
    return "\n".join(p.read_text(encoding="utf-8") for p in files)


def test_every_module_is_registered() -> None:
    registry = (STATIC / "i18n.js").read_text(encoding="utf-8")
    for path in (STATIC / "i18n").glob("*.js"):
        assert f"'./i18n/{path.name}'" in registry, f"i18n/{path.name} is not imported in i18n.js"


def test_every_key_has_both_languages() -> None:
    found = tables()
    assert len(found) > 300
    one_language = [k for k, (zh, en, _) in found.items() if not zh.strip() or not en.strip()]
    assert not one_language, f"keys with one language only: {one_language}"
    # English that is still Chinese is an untranslated string
    chinese_in_english = [k for k, (_, en, _) in found.items()
                          if re.search(r"[\u4e00-\u9fff]", en) and k != "lang.switch"]  # the switch names the other language
    assert not chinese_in_english, f"English strings in Chinese: {chinese_in_english}"
    placeholders = [k for k, (zh, en, _) in found.items() if set(re.findall(r"\{(\w+)\}", zh)) != set(re.findall(r"\{(\w+)\}", en))]
    assert not placeholders, f"keys whose placeholders differ between the languages: {placeholders}"


def test_every_key_is_used_by_a_page() -> None:
    code = sources()
    families = set(FAMILY.findall(code))
    unused = [
        key for key in tables()
        if f"'{key}'" not in code and f'"{key}"' not in code and not any(key.startswith(f) for f in families)
    ]
    assert not unused, f"keys no page uses (remove them, or use them): {unused}"


def test_every_literal_key_exists() -> None:
    keys = set(tables())
    code = sources()
    asked = set(re.findall(r"\bt\(\s*['\"]([A-Za-z0-9_.]+)['\"]", code))
    missing_keys = sorted(asked - keys - {"key"})  # i18n.js's own comment shows t('key')
    assert not missing_keys, f"t('…') of keys that no table defines: {missing_keys}"
