"""One send budget for the whole application: replies and progress edits take slots of the
outbox sender's pacer (``Sender.take_slot``, ``SharedBudgetRateLimiter``). Assertions are on
the pacer's bookkeeping, never on timings."""

from __future__ import annotations

from typing import Any

import pytest

from bot.delivery import Sender, SharedBudgetRateLimiter, _counts_as_message

CHAT = 4410001


def sender(global_rate: float = 30.0) -> Sender:
    # take_slot only books; the database is never touched.
    return Sender(None, global_rate=global_rate, per_chat_rate=1.0)  # type: ignore[arg-type]


async def test_a_slot_counts_in_the_window_and_for_the_chat():
    outbox = sender()
    assert await outbox.take_slot(CHAT)
    assert len(outbox.pacer._sends) == 1
    assert outbox.pacer.chat_delay(CHAT) > 0.5
    # Without a chat only the window counts.
    assert await outbox.take_slot(None)
    assert len(outbox.pacer._sends) == 2


async def test_no_slot_within_the_timeout_books_nothing():
    outbox = sender(global_rate=1.0)
    assert await outbox.take_slot(None)
    # The window (1 per second) is full: 10 ms are not enough.
    assert not await outbox.take_slot(None, timeout=0.01)
    assert len(outbox.pacer._sends) == 1
    # The chat's pace: a progress edit does not go within a second of the last message there.
    chatty = sender()
    assert await chatty.take_slot(CHAT)
    assert not await chatty.take_slot(CHAT, timeout=0.01)


async def test_a_reply_does_not_wait_for_its_chat_but_the_next_push_does():
    outbox = sender()
    assert await outbox.take_slot(CHAT)
    # A reply in the conversation goes at once (the window has room) …
    assert await outbox.take_slot(CHAT, timeout=0.5, wait_for_chat=False)
    # … and a push to that chat waits for the chat again, after the reply.
    assert outbox.pacer.chat_delay(CHAT) > 0.5
    assert len(outbox.pacer._sends) == 2


@pytest.mark.parametrize(
    ("endpoint", "counts"),
    [
        ("sendMessage", True),
        ("sendDocument", True),
        ("sendPhoto", True),
        ("editMessageText", True),
        ("copyMessage", True),
        ("forwardMessage", True),
        ("sendChatAction", False),
        ("answerCallbackQuery", False),
        ("getUpdates", False),
        ("setMyCommands", False),
    ],
)
def test_which_calls_take_a_slot(endpoint, counts):
    assert _counts_as_message(endpoint) is counts


class FakeApplication:
    def __init__(self, outbox: Sender | None) -> None:
        self.bot_data = type("Data", (), {"extras": {"sender": outbox} if outbox else {}})()


async def test_the_limiter_books_messages_and_edits_but_not_the_rest():
    outbox = sender()
    limiter = SharedBudgetRateLimiter(lambda: FakeApplication(outbox))  # type: ignore[arg-type,return-value]
    await limiter.initialize()
    calls: list[str] = []

    async def callback(*args: Any, **kwargs: Any) -> bool:
        calls.append(kwargs["endpoint"])
        return True

    async def call(endpoint: str, data: dict[str, Any]) -> None:
        await limiter.process_request(callback, (), {"endpoint": endpoint}, endpoint, data, None)

    await call("sendMessage", {"chat_id": CHAT, "text": "Halo"})
    await call("answerCallbackQuery", {"callback_query_id": "1"})
    await call("sendChatAction", {"chat_id": CHAT, "action": "typing"})
    await call("editMessageText", {"chat_id": CHAT + 1, "message_id": 5, "text": "x"})
    assert calls == ["sendMessage", "answerCallbackQuery", "sendChatAction", "editMessageText"]
    assert len(outbox.pacer._sends) == 2  # the message and the edit
    assert outbox.pacer.chat_delay(CHAT) > 0 and outbox.pacer.chat_delay(CHAT + 1) > 0
    await limiter.shutdown()


async def test_without_a_running_sender_it_is_a_plain_limiter():
    limiter = SharedBudgetRateLimiter(lambda: FakeApplication(None))  # type: ignore[arg-type,return-value]
    await limiter.initialize()

    async def callback(*args: Any, **kwargs: Any) -> bool:
        return True

    assert await limiter.process_request(
        callback, (), {}, "sendMessage", {"chat_id": CHAT, "text": "x"}, None
    )
    await limiter.shutdown()
