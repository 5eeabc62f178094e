"""Pure validator/parser for Telegram's ``parse_mode=HTML`` dialect.

It follows the algorithm of tdlib's ``parse_html`` (what the Bot API server runs), so errors
read like Telegram's, e.g. ``Unsupported start tag "foo" at byte offset 12``. Byte offsets are
UTF-8 byte offsets into the original text; entity offsets/lengths are UTF-16 code units, like
the Bot API's ``MessageEntity``.

One deliberate difference: real Telegram keeps a bare ``&`` that does not start a known entity
as a literal character. By default (``strict_ampersand=True``) this validator rejects it, because
an unescaped ``&`` in a bot's HTML is almost always a missing ``html.escape`` that would break on
the next ``<``. Pass ``strict_ampersand=False`` for Telegram's lenient behaviour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "SUPPORTED_TAGS",
    "HtmlParseError",
    "ParsedText",
    "parse_html",
    "strip_html",
    "utf16_len",
    "validate_html",
]

SUPPORTED_TAGS: frozenset[str] = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)

_SIMPLE_ENTITY_TYPES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}

#: Tags whose entity needs their argument: tag -> (entity type, field holding the argument).
_ARGUMENT_ENTITY_TYPES: dict[str, tuple[str, str]] = {
    "a": ("text_link", "url"),
    "tg-emoji": ("custom_emoji", "custom_emoji_id"),
}

_NAMED_ENTITIES: dict[str, str] = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_NUMERIC_ENTITY = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")
_NAMED_ENTITY = re.compile(r"&([a-zA-Z]{1,10});")
_SPACE = " \t\r\n\f\v"


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML. ``str(err)`` is the reason as Telegram words it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def description(self) -> str:
        """The full Bot API error description."""
        return f"Bad Request: can't parse entities: {self.reason}"


@dataclass
class ParsedText:
    """Result of parsing: the plain text users see and its entities (UTF-16 offsets)."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_start: int
    byte_offset: int


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (what Telegram entity offsets count)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """Decode an HTML entity starting at ``text[i] == '&'``; return (char, end index) or None."""
    m = _NUMERIC_ENTITY.match(text, i)
    if m:
        code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
        if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            return chr(code), m.end()
        return None
    m = _NAMED_ENTITY.match(text, i)
    if m and m.group(1) in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[m.group(1)], m.end()
    return None


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in _SPACE:
        i += 1
    return i


def _scan_tag_name(text: str, i: int) -> int:
    while i < len(text) and text[i] not in _SPACE and text[i] != ">":
        i += 1
    return i


def parse_html(text: str, *, strict_ampersand: bool = True) -> ParsedText:
    """Parse Telegram HTML into plain text + entities, raising :class:`HtmlParseError`."""
    out: list[str] = []
    utf16_offset = 0
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                ch, i = decoded
                out.append(ch)
                utf16_offset += utf16_len(ch)
                continue
            if strict_ampersand:
                raise HtmlParseError(
                    f'Unescaped "&" at byte offset {_byte_offset(text, i)}; '
                    'use "&amp;" for a literal ampersand'
                )
        if c != "<":
            out.append(c)
            utf16_offset += utf16_len(c)
            i += 1
            continue

        begin = i
        begin_bytes = _byte_offset(text, begin)
        unclosed_start = f"Unclosed start tag at byte offset {begin_bytes}"
        i += 1
        if i < n and text[i] == "/":
            # End tag.
            if not stack:
                raise HtmlParseError(f"Unexpected end tag at byte offset {begin_bytes}")
            name_start = i + 1
            i = _scan_tag_name(text, name_start)
            end_name = text[name_start:i].lower()
            i = _skip_space(text, i)
            if i >= n or text[i] != ">":
                raise HtmlParseError(f"Unclosed end tag at byte offset {begin_bytes}")
            i += 1
            open_tag = stack.pop()
            if end_name and end_name != open_tag.name:
                raise HtmlParseError(
                    f'Unmatched end tag at byte offset {begin_bytes}, expected "</{open_tag.name}>"'
                    f', found "</{end_name}>"'
                )
            _close_entity(open_tag, utf16_offset, entities)
            continue

        # Start tag.
        name_start = i
        i = _scan_tag_name(text, name_start)
        if i >= n:
            raise HtmlParseError(unclosed_start)
        tag_name = text[name_start:i].lower()
        if tag_name not in SUPPORTED_TAGS:
            raise HtmlParseError(f'Unsupported start tag "{tag_name}" at byte offset {begin_bytes}')
        argument = ""
        while True:
            i = _skip_space(text, i)
            if i >= n:
                raise HtmlParseError(unclosed_start)
            if text[i] == ">":
                i += 1
                break
            attr_start = i
            while i < n and text[i] not in _SPACE and text[i] not in "=>":
                i += 1
            attr_name = text[attr_start:i].lower()
            if not attr_name:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{tag_name}" at byte offset {begin_bytes}'
                )
            i = _skip_space(text, i)
            if i >= n:
                raise HtmlParseError(unclosed_start)
            if text[i] != "=":
                if tag_name == "blockquote" and attr_name == "expandable":
                    argument = "1"
                    continue
                raise HtmlParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{tag_name}" at byte offset {begin_bytes}'
                )
            i += 1
            i = _skip_space(text, i)
            if i >= n:
                raise HtmlParseError(unclosed_start)
            if text[i] not in "'\"":
                token_start = i
                while i < n and (text[i].isalnum() or text[i] in ".-"):
                    i += 1
                value = text[token_start:i].lower()
                if i >= n or (text[i] not in _SPACE and text[i] != ">"):
                    raise HtmlParseError(
                        "Unexpected end of name token at byte offset "
                        f"{_byte_offset(text, token_start)}"
                    )
            else:
                quote = text[i]
                i += 1
                chars: list[str] = []
                while i < n and text[i] != quote:
                    if text[i] == "&":
                        decoded = _decode_entity(text, i)
                        if decoded is not None:
                            chars.append(decoded[0])
                            i = decoded[1]
                            continue
                    chars.append(text[i])
                    i += 1
                if i >= n:
                    raise HtmlParseError(unclosed_start)
                i += 1
                value = "".join(chars)
            if tag_name == "a" and attr_name == "href":
                argument = value
            elif tag_name == "code" and attr_name == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif tag_name == "span" and attr_name == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif tag_name == "tg-emoji" and attr_name == "emoji-id":
                argument = value
            elif tag_name == "blockquote" and attr_name == "expandable":
                argument = "1"
        if tag_name == "span" and argument != "spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin_bytes}'
            )
        stack.append(_OpenTag(tag_name, argument, utf16_offset, begin_bytes))

    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText("".join(out), entities)


def _close_entity(tag: _OpenTag, utf16_end: int, entities: list[dict[str, Any]]) -> None:
    length = utf16_end - tag.utf16_start
    if length <= 0:
        return
    entity: dict[str, Any] = {"offset": tag.utf16_start, "length": length}
    if tag.name in _SIMPLE_ENTITY_TYPES:
        entity["type"] = _SIMPLE_ENTITY_TYPES[tag.name]
    elif tag.name in _ARGUMENT_ENTITY_TYPES:
        if not tag.argument:
            return
        entity["type"], argument_field = _ARGUMENT_ENTITY_TYPES[tag.name]
        entity[argument_field] = tag.argument
    elif tag.name == "blockquote":
        entity["type"] = "expandable_blockquote" if tag.argument else "blockquote"
    elif tag.name == "code":
        entity["type"] = "code"
        if tag.argument:
            entity["language"] = tag.argument
    elif tag.name == "pre":
        entity["type"] = "pre"
        # <pre><code class="language-x">...</code></pre> becomes one pre entity with a language.
        if entities:
            last = entities[-1]
            if (
                last["type"] == "code"
                and last["offset"] == entity["offset"]
                and last["length"] == entity["length"]
            ):
                entities.pop()
                if "language" in last:
                    entity["language"] = last["language"]
    entities.append(entity)


def validate_html(text: str, *, strict_ampersand: bool = True) -> str | None:
    """Return ``None`` if ``text`` is valid Telegram HTML, else the reason (Telegram wording)."""
    try:
        parse_html(text, strict_ampersand=strict_ampersand)
    except HtmlParseError as err:
        return err.reason
    return None


def strip_html(text: str, *, strict_ampersand: bool = True) -> str:
    """The plain text of valid Telegram HTML (tags removed, entities decoded)."""
    return parse_html(text, strict_ampersand=strict_ampersand).text
