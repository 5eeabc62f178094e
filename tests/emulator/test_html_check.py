"""Pure tests of the Telegram-HTML validator."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.emulator.html_check import HtmlParseError, parse_html, utf16_len, validate_html


def test_valid_nesting_produces_plain_text_and_entities() -> None:
    parsed = parse_html("<b>Halo <i>Ani</i></b>, <u>ok</u>")
    assert parsed.text == "Halo Ani, ok"
    assert parsed.entities == [
        {"offset": 0, "length": 8, "type": "bold"},
        {"offset": 5, "length": 3, "type": "italic"},
        {"offset": 10, "length": 2, "type": "underline"},
    ]


def test_all_supported_tags_are_accepted() -> None:
    text = (
        "<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins><s>s</s>"
        '<strike>k</strike><del>d</del><span class="tg-spoiler">p</span>'
        '<tg-spoiler>q</tg-spoiler><a href="https://example.org/?a=1&amp;b=2">l</a>'
        '<code>c</code><pre><code class="language-python">x = 1</code></pre>'
        "<blockquote>q</blockquote><blockquote expandable>e</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    parsed = parse_html(text)
    types = [e["type"] for e in parsed.entities]
    assert "text_link" in types and "spoiler" in types and "expandable_blockquote" in types
    link = next(e for e in parsed.entities if e["type"] == "text_link")
    assert link["url"] == "https://example.org/?a=1&b=2"
    pre = next(e for e in parsed.entities if e["type"] == "pre")
    assert pre["language"] == "python"
    # The <code> inside <pre> is merged into the pre entity.
    assert not any(e["type"] == "code" and e["offset"] == pre["offset"] for e in parsed.entities)


def test_unknown_tag_reports_byte_offset_like_telegram() -> None:
    # "é" is two bytes in UTF-8: the offset counts bytes, not characters.
    with pytest.raises(HtmlParseError) as exc:
        parse_html("héllo <foo>x</foo>")
    assert exc.value.reason == 'Unsupported start tag "foo" at byte offset 7'
    assert exc.value.description.startswith("Bad Request: can't parse entities: ")


def test_unclosed_tag() -> None:
    assert validate_html("<b>bold") == 'Can\'t find end tag corresponding to start tag "b"'


def test_misnested_tags() -> None:
    assert validate_html("<b><i>x</b></i>") == (
        'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'
    )


def test_unexpected_end_tag_and_unclosed_start_tag() -> None:
    assert validate_html("x</b>") == "Unexpected end tag at byte offset 1"
    assert validate_html("a <b") == "Unclosed start tag at byte offset 2"


def test_bare_less_than_is_rejected() -> None:
    assert validate_html("umur < 30") == 'Unsupported start tag "" at byte offset 5'


def test_bare_ampersand_strict_and_lenient() -> None:
    reason = validate_html("Tom & Jerry")
    assert reason is not None and "byte offset 4" in reason
    assert parse_html("Tom & Jerry", strict_ampersand=False).text == "Tom & Jerry"
    # An unknown named entity is not an entity either.
    assert validate_html("&nbsp;") is not None


def test_entities_are_decoded() -> None:
    parsed = parse_html("&lt;b&gt; &amp; &quot;x&quot; &#65;&#x42; &#128077;")
    assert parsed.text == '<b> & "x" AB 👍'
    assert parsed.entities == []


def test_span_requires_spoiler_class_and_attribute_syntax() -> None:
    assert validate_html('<span class="x">a</span>') == (
        'Tag "span" must have class "tg-spoiler" at byte offset 0'
    )
    assert validate_html("<a href>x</a>") is not None
    assert validate_html("<a href=https://x.org>x</a>") is not None  # "/" ends a name token
    assert validate_html("<a href='https://x.org'>x</a>") is None


def test_entity_offsets_are_utf16() -> None:
    parsed = parse_html("👍 <b>ok</b>")
    assert parsed.entities == [{"offset": 3, "length": 2, "type": "bold"}]
    assert utf16_len("👍") == 2


def test_empty_entities_are_dropped_and_end_tag_may_be_empty() -> None:
    assert parse_html("<b></b>x").entities == []
    assert parse_html("<b>x</>").entities == [{"offset": 0, "length": 1, "type": "bold"}]


@settings(database=None)
@given(st.text(max_size=200))
def test_escaped_text_always_valid_and_round_trips(s: str) -> None:
    escaped = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert parse_html(f"<b>{escaped}</b>").text == s
