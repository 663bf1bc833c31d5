import pytest

from envkit.protocol.context import (
    Consolidated,
    Full,
    PastTurn,
    Window,
    build_messages,
    make_context_builder,
    render_messages,
)
from envkit.protocol.tokens import TokenizerCounter, count_word_pieces


def turns(n):
    return [PastTurn(f"<IS>s{i}</IS><search>q{i}</search>", f"<information>o{i}</information>") for i in range(n)]


def test_retention_rules():
    assert list(Consolidated().retained(0)) == []
    assert list(Consolidated().retained(5)) == [4]
    assert list(Full().retained(5)) == [0, 1, 2, 3, 4]
    assert list(Window(2).retained(5)) == [3, 4]
    assert list(Window(9).retained(3)) == [0, 1, 2]


def test_consolidated_context_holds_prompt_and_latest_turn_only():
    messages = build_messages("PROMPT", turns(4), Consolidated())
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    text = render_messages(messages)
    assert "PROMPT" in text and "q3" in text and "o3" in text
    assert "q2" not in text and "o0" not in text


def test_full_context_keeps_every_turn_in_order():
    text = render_messages(build_messages("P", turns(3), Full()))
    assert text.index("q0") < text.index("o0") < text.index("q1") < text.index("q2")


@pytest.mark.parametrize(
    ("spec", "name"), [("consolidated", "consolidated"), ("full", "full"), ("window(3)", "window(3)")]
)
def test_make_context_builder(spec, name):
    assert make_context_builder(spec).name == name


@pytest.mark.parametrize("spec", ["window(0)", "windows", "latest", ""])
def test_bad_builder_specs(spec):
    with pytest.raises(ValueError):
        make_context_builder(spec)


def test_word_piece_counter():
    assert count_word_pieces("Hello, world!") == 4
    assert count_word_pieces("") == 0


def test_tokenizer_counter_uses_the_tokenizer():
    class Tokenizer:
        def encode(self, text, add_special_tokens=True):
            assert add_special_tokens is False
            return list(text)

    assert TokenizerCounter(Tokenizer())("abc") == 3
