"""Pure tests of the emulator state (no HTTP)."""

from __future__ import annotations

import pytest

from bot.emulator.state import EmulatorError, EmulatorState, UploadedFile, image_size

from ._support import BOT_ID, PNG_2X3


@pytest.fixture
def state() -> EmulatorState:
    s = EmulatorState(bot_id=BOT_ID, bot_username="bukittinggi_asn_bot", seed=7)
    s.create_user(10, "Ani")
    s.create_user(20, "Budi")
    return s


def _inline(*data: str) -> dict:
    return {"inline_keyboard": [[{"text": d or "x", "callback_data": d} for d in data]]}


def test_offset_semantics(state: EmulatorState) -> None:
    ids = [state.user_send_text(10, f"m{i}")[0] for i in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert [u["update_id"] for u in state.get_updates()] == ids
    # Without a new offset nothing is confirmed.
    assert len(state.get_updates()) == 5
    assert [u["update_id"] for u in state.get_updates(offset=ids[2])] == ids[2:]
    # Confirmed updates are forgotten even if a lower offset is used later.
    assert [u["update_id"] for u in state.get_updates(offset=ids[0])] == ids[2:]
    assert [u["update_id"] for u in state.get_updates(limit=1)] == [ids[2]]
    # Negative offset: only the last N are kept.
    assert [u["update_id"] for u in state.get_updates(offset=-1)] == [ids[4]]
    assert state.get_updates(offset=ids[4] + 1) == []
    new_id, _ = state.user_send_text(10, "later")
    assert new_id == ids[4] + 1


def test_update_ids_survive_reset(state: EmulatorState) -> None:
    first, _ = state.user_send_text(10, "a")
    state.reset()
    state.create_user(10, "Ani")
    second, msg = state.user_send_text(10, "b")
    assert second == first + 1
    assert msg.message_id == 1


def test_allowed_updates_filter(state: EmulatorState) -> None:
    state.user_send_text(10, "hello")
    state.send_message(10, "pick", reply_markup=_inline("a"))
    state.press_button(10, 2, "a")
    updates = state.get_updates(allowed_updates=["callback_query"])
    assert [next(k for k in u if k != "update_id") for u in updates] == ["callback_query"]


def test_message_ids_per_chat_shared_by_both_directions(state: EmulatorState) -> None:
    _, m1 = state.user_send_text(10, "/start")
    m2 = state.send_message(10, "hi")
    _, m3 = state.user_send_text(10, "thanks")
    other = state.send_message(20, "hello Budi")
    assert (m1.message_id, m2.message_id, m3.message_id) == (1, 2, 3)
    assert other.message_id == 1
    history = state.chat_messages(10)
    assert [(m["message_id"], m["from_bot"]) for m in history] == [
        (1, False),
        (2, True),
        (3, False),
    ]


def test_bot_command_entities(state: EmulatorState) -> None:
    _, msg = state.user_send_text(10, "/start payload_123")
    assert msg.entities == [{"type": "bot_command", "offset": 0, "length": 6}]
    _, msg = state.user_send_text(10, "/help@bukittinggi_asn_bot now")
    assert msg.entities == [{"type": "bot_command", "offset": 0, "length": 25}]
    _, msg = state.user_send_text(10, "no command here")
    assert msg.entities == []


def test_callback_data_byte_limit_multibyte(state: EmulatorState) -> None:
    state.send_message(10, "ok", reply_markup=_inline("x" * 64))
    with pytest.raises(EmulatorError, match="BUTTON_DATA_INVALID"):
        state.send_message(10, "too long", reply_markup=_inline("x" * 65))
    # "é" is 2 bytes: 32 of them = 64 bytes is fine, plus one ASCII char = 65 bytes is not.
    state.send_message(10, "ok", reply_markup=_inline("é" * 32))
    with pytest.raises(EmulatorError, match="BUTTON_DATA_INVALID"):
        state.send_message(10, "bad", reply_markup=_inline("é" * 32 + "x"))
    # A 4-byte emoji straddling the boundary: 15 * 4 = 60 bytes + "abcd" = 64 ok; +"e" = 65.
    state.send_message(10, "ok", reply_markup=_inline("😀" * 15 + "abcd"))
    with pytest.raises(EmulatorError, match="BUTTON_DATA_INVALID"):
        state.send_message(10, "bad", reply_markup=_inline("😀" * 16 + "a"))
    with pytest.raises(EmulatorError, match="BUTTON_DATA_INVALID"):
        state.send_message(10, "empty", reply_markup=_inline(""))


def test_inline_button_needs_exactly_one_action(state: EmulatorState) -> None:
    with pytest.raises(EmulatorError, match="text buttons are unallowed"):
        state.send_message(10, "x", reply_markup={"inline_keyboard": [[{"text": "a"}]]})
    both = {"text": "a", "url": "https://example.org", "callback_data": "a"}
    with pytest.raises(EmulatorError, match="exactly one"):
        state.send_message(10, "x", reply_markup={"inline_keyboard": [[both]]})
    with pytest.raises(EmulatorError, match="Wrong HTTP URL"):
        state.send_message(
            10, "x", reply_markup={"inline_keyboard": [[{"text": "a", "url": "not a url"}]]}
        )
    ok = {"inline_keyboard": [[{"text": "Situs", "url": "https://example.org/a"}]]}
    assert state.send_message(10, "x", reply_markup=ok).inline_markup == ok


def test_text_limits_are_after_entity_parsing(state: EmulatorState) -> None:
    state.send_message(10, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(EmulatorError, match="message is too long"):
        state.send_message(10, "a" * 4097)
    with pytest.raises(EmulatorError, match="message text is empty"):
        state.send_message(10, "<b></b>", parse_mode="HTML")
    with pytest.raises(EmulatorError, match="can't parse entities"):
        state.send_message(10, "1 < 2", parse_mode="HTML")
    with pytest.raises(EmulatorError, match="chat not found"):
        state.send_message(999, "hi")


def test_edit_history_and_not_modified(state: EmulatorState) -> None:
    msg = state.send_message(10, "<b>v1</b>", parse_mode="HTML", reply_markup=_inline("a"))
    with pytest.raises(EmulatorError, match="message is not modified"):
        state.edit_message_text(10, msg.message_id, "<b>v1</b>", "HTML", _inline("a"))
    # Same text, markup removed: that is a modification.
    state.edit_message_text(10, msg.message_id, "<b>v1</b>", "HTML")
    state.edit_message_text(10, msg.message_id, "v2")
    view = state.chat_messages(10)[0]
    assert view["plain_text"] == "v2" and view["reply_markup"] is None
    assert view["original"]["text"] == "<b>v1</b>"
    assert [e["plain_text"] for e in view["edits"]] == ["v1", "v2"]
    with pytest.raises(EmulatorError, match="message to edit not found"):
        state.edit_message_text(10, 99, "x")
    _, user_msg = state.user_send_text(10, "mine")
    with pytest.raises(EmulatorError, match="message can't be edited"):
        state.edit_message_text(10, user_msg.message_id, "x")


def test_delete_and_callback_answer(state: EmulatorState) -> None:
    msg = state.send_message(10, "pick", reply_markup=_inline("yes", "no"))
    _, record = state.press_button(10, msg.message_id, "yes")
    with pytest.raises(EmulatorError, match="no button"):
        state.press_button(10, msg.message_id, "maybe")
    _, forged = state.press_button(10, msg.message_id, "admin:drop", forge=True)
    assert forged.forged
    assert state.answer_callback_query(record.id, "Oke") is True
    with pytest.raises(EmulatorError, match="query is too old"):
        state.answer_callback_query(record.id)
    with pytest.raises(EmulatorError, match="query is too old"):
        state.answer_callback_query("nope")
    assert state.delete_message(10, msg.message_id) is True
    with pytest.raises(EmulatorError, match="message to delete not found"):
        state.delete_message(10, msg.message_id)
    assert state.chat_messages(10)[0]["deleted"] is True
    assert state.chat_messages(10, include_deleted=False) == []


def test_blocked_user_gets_403(state: EmulatorState) -> None:
    state.set_blocked(10)
    with pytest.raises(EmulatorError) as exc:
        state.send_message(10, "hi")
    assert exc.value.error_code == 403
    assert exc.value.description == "Forbidden: bot was blocked by the user"
    state.set_blocked(10, False)
    state.send_message(10, "hi")


def test_files_and_image_size(state: EmulatorState) -> None:
    assert image_size(PNG_2X3) == (2, 3)
    jpeg = b"\xff\xd8\xff\xe0\x00\x04ab\xff\xc0\x00\x0b\x08\x00\x07\x00\x05\x01\x01\x11\x00"
    assert image_size(jpeg) == (5, 7)
    msg = state.send_media("photo", 10, UploadedFile("p.png", "image/png", PNG_2X3))
    assert msg.photo is not None and (msg.photo.width, msg.photo.height) == (2, 3)
    again = state.send_media("photo", 10, msg.photo.file_id)
    assert again.photo is msg.photo
    with pytest.raises(EmulatorError, match="wrong file identifier"):
        state.send_media("document", 10, "unknown-id")
    doc = state.send_media("document", 10, UploadedFile("data.csv", None, b"a,b\n"))
    assert doc.document is not None and doc.document.mime_type == "text/csv"
    assert state.get_file(doc.document.file_id).file_path.endswith(".csv")


def test_get_file_size_limit(state: EmulatorState) -> None:
    _, msg = state.user_send_document(10, "big.bin", b"\0" * (20 * 1024 * 1024 + 1))
    assert msg.document is not None
    with pytest.raises(EmulatorError, match="file is too big"):
        state.get_file(msg.document.file_id)
    with pytest.raises(EmulatorError, match="invalid file_id"):
        state.get_file("nope")


def test_commands_scope_and_language(state: EmulatorState) -> None:
    cmds = [{"command": "start", "description": "Mulai"}]
    state.set_my_commands(cmds)
    state.set_my_commands(
        [{"command": "status", "description": "Status"}], {"type": "chat", "chat_id": 10}, "id"
    )
    assert state.get_my_commands() == cmds
    assert state.get_my_commands({"type": "chat", "chat_id": "10"}, "id")[0]["command"] == "status"
    assert state.get_my_commands({"type": "chat", "chat_id": 10}) == []
    assert state.visible_commands(10, "id")[0]["command"] == "status"
    assert state.visible_commands(20) == cmds
    for bad in ("Start", "with space", "a" * 33, ""):
        with pytest.raises(EmulatorError, match="BOT_COMMAND_INVALID"):
            state.set_my_commands([{"command": bad, "description": "x"}])
    with pytest.raises(EmulatorError, match="chat not found"):
        state.set_my_commands(cmds, {"type": "chat", "chat_id": 999})


def test_faults_count_probability_and_rate_limit() -> None:
    now = [100.0]
    state = EmulatorState(seed=1, monotonic=lambda: now[0])
    state.add_fault("429", count=2, retry_after=7)
    assert state.match_fault("getUpdates", None) is None  # not a sending method by default
    assert state.match_fault("sendMessage", 1) is not None
    assert state.match_fault("editMessageText", 1) is not None
    assert state.match_fault("sendMessage", 1) is None  # count exhausted
    state.clear_faults()
    state.add_fault("500", probability=0.5)
    fired = sum(state.match_fault("sendMessage", 1) is not None for _ in range(400))
    assert 140 < fired < 260
    state.clear_faults()
    state.set_rate_limit(per_chat_per_second=2)
    assert state.check_rate_limit("sendMessage", 1) is None
    assert state.check_rate_limit("sendMessage", 1) is None
    assert state.check_rate_limit("sendMessage", 2) is None  # other chat
    assert state.check_rate_limit("sendMessage", 1) == 1
    assert state.check_rate_limit("getMe", 1) is None
    now[0] += 1.01
    assert state.check_rate_limit("sendMessage", 1) is None
