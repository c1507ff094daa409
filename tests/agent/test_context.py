import pytest

from agent.context import (MAX_MESSAGE_CHARS, MessageRejected, check_user_text, fit_to_context)


def words(text: str) -> int:
    return len(text.split())


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_messages_are_rejected(text):
    with pytest.raises(MessageRejected, match="empty"):
        check_user_text(text)


def test_huge_messages_are_rejected_with_the_limit():
    with pytest.raises(MessageRejected, match="100,000"):
        check_user_text("x" * (MAX_MESSAGE_CHARS + 1))
    assert check_user_text("  ok  ") == "ok"


def test_everything_fits_in_a_roomy_context():
    history = [("user", "one two"), ("assistant", "three four")]
    fitted = fit_to_context("sys", history, "five", words, n_ctx=1000, max_tokens=100)
    assert [m["content"] for m in fitted.messages] == ["sys", "one two", "three four", "five"]
    assert fitted.dropped_messages == 0 and not fitted.truncated_user_message
    assert fitted.prompt_tokens + fitted.max_tokens <= 1000


def test_oldest_history_is_dropped_first_and_answer_room_is_kept():
    history = [("user", "old " * 50), ("assistant", "older reply " * 20), ("user", "recent " * 10),
               ("assistant", "recent reply " * 5)]
    fitted = fit_to_context("sys", history, "new question", words, n_ctx=128, max_tokens=48)
    contents = [m["content"] for m in fitted.messages]
    assert contents[0] == "sys" and contents[-1] == "new question"
    assert "old " * 50 not in contents
    assert contents[-2] == "recent reply " * 5
    assert fitted.dropped_messages >= 2
    assert fitted.prompt_tokens + fitted.max_tokens <= 128


def test_no_gap_in_the_kept_history():
    # A long middle message that does not fit must not let an older short one slip back in.
    history = [("user", "tiny"), ("assistant", "huge " * 500), ("user", "last")]
    fitted = fit_to_context("sys", history, "q", words, n_ctx=100, max_tokens=20)
    assert [m["content"] for m in fitted.messages] == ["sys", "last", "q"]


def test_a_message_longer_than_the_context_is_shortened_in_the_middle():
    text = "start " + "filler " * 2000 + "the end"
    fitted = fit_to_context("sys", [], text, words, n_ctx=256, max_tokens=64)
    user = fitted.messages[-1]["content"]
    assert fitted.truncated_user_message
    assert user.startswith("start") and user.endswith("the end") and "left out" in user
    assert fitted.prompt_tokens + fitted.max_tokens <= 256
