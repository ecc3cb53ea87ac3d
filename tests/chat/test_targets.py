"""Boundaries of a comparison's target list (llmchat.chat.targets): both sides of the count and
length caps, every class of character a name may not hold, the provider prefix and the
misspelt-provider hint, and the order in which problems are reported."""

from __future__ import annotations

import unicodedata

import pytest

from llmchat.chat.targets import MAX_NAME, MAX_TARGETS, Target, TargetError, parse_targets

PROVIDERS = ("openai", "anthropic", "ollama", "mistral", "work")


def parse(spec: str | list[str], default: str = "openai") -> list[Target]:
    return parse_targets(spec, PROVIDERS, default)


def refused(spec: str | list[str]) -> str:
    with pytest.raises(TargetError) as caught:
        parse(spec)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_exactly_the_most_targets_is_accepted_and_one_more_is_not() -> None:
    # DESIGN: "compare at most 8 at once"
    assert MAX_TARGETS == 8
    names = [f"m{i}" for i in range(8)]
    assert [t.model for t in parse(",".join(names))] == names
    assert "9 models: compare at most 8 at once" in refused(",".join([*names, "m8"]))


def test_a_name_of_exactly_the_longest_length_is_accepted_and_one_more_is_not() -> None:
    assert MAX_NAME == 200
    assert parse("m" * 200) == [Target("openai", "m" * 200)]
    # the length counts the provider and the colon too
    assert parse("work:" + "m" * 195) == [Target("work", "m" * 195)]
    assert "model 1 of the list is longer than 200 characters" in refused("m" * 201)
    assert "model 2 of the list is longer than 200 characters" in refused("a,work:" + "m" * 196)


@pytest.mark.parametrize(("char", "what"), [
    ("\x00", "a control or invisible character (U+0000)"),
    ("\x7f", "a control or invisible character (U+007F)"),
    ("\x85", "a control or invisible character (U+0085)"),  # C1 control
    ("\u00ad", "a control or invisible character (U+00AD)"),  # soft hyphen (Cf)
    ("\u034f", "a control or invisible character (U+034F)"),  # combining grapheme joiner (Mn)
    ("\u061c", "a control or invisible character (U+061C)"),  # Arabic letter mark
    ("\u200d", "a control or invisible character (U+200D)"),
    ("\u2066", "a control or invisible character (U+2066)"),  # isolate
    ("\ufeff", "a control or invisible character (U+FEFF)"),
    ("\ue000", "a control or invisible character (U+E000)"),  # private use (Co)
    ("\U000e0041", "a control or invisible character (U+E0041)"),  # tag A
    ("\U000e0100", "a control or invisible character (U+E0100)"),  # variation selector 17 (Mn)
    ("\U000e01ef", "a control or invisible character (U+E01EF)"),  # variation selector 256
    (" ", "a space (U+0020)"),
    ("\u00a0", "a space (U+00A0)"),
    ("\u3000", "a space (U+3000)"),
    ("\u2028", "a space (U+2028)"),  # line separator (Zl)
    ("\u2029", "a space (U+2029)"),  # paragraph separator (Zp)
])
def test_every_class_of_hidden_or_space_character_is_refused(char: str, what: str) -> None:
    message = refused(f"good,gpt{char}x")
    assert f"model 2 of the list (" in message and f"holds {what}; provider and model names are plain text" in message
    if unicodedata.category(char) not in ("Co", "Zs", "Zl", "Zp"):  # shown as a stand-in, never raw
        assert char not in message


@pytest.mark.parametrize("name", [
    "gpt-4o", "llama3:8b", "claude-3.5", "модель", "模型", "gpt\ufe0f",  # U+FE0F (VS16) is allowed
    "a_b/c@d", "é",
])
def test_plain_names_in_any_script_are_accepted(name: str) -> None:
    assert parse(name) == [Target("openai", name)]


def test_the_prefix_names_the_provider_only_when_it_is_one() -> None:
    assert parse("anthropic:claude") == [Target("anthropic", "claude")]
    assert parse("ollama:llama3:8b") == [Target("ollama", "llama3:8b")]
    assert parse("work:") == [Target("work", None)]  # the profile's configured model
    assert parse("llama3:8b", "ollama") == [Target("ollama", "llama3:8b")]
    assert parse("plain", "mistral") == [Target("mistral", "plain")]
    assert parse(":x") == [Target("openai", ":x")]  # an empty prefix names no provider


@pytest.mark.parametrize(("prefix", "near"), [
    ("antropic", "anthropic"),
    ("antropc", "anthropic"),  # similarity 0.875: over the 0.86 cut-off
    ("ANTHROPIC", "anthropic"),  # the same name in another case
    ("Ollama", "ollama"),
    ("mistrl", "mistral"),
])
def test_a_misspelt_provider_prefix_is_refused_with_the_hint(prefix: str, near: str) -> None:
    message = refused(f"{prefix}:model-x")
    assert f"unknown provider {prefix!r} in '{prefix}:model-x' (did you mean {near!r}?" in message
    assert f"for a model of that name write openai:{prefix}:model-x)" in message


@pytest.mark.parametrize("prefix", [
    "anthropicxyz",  # similarity 0.857: under the 0.86 cut-off
    "mistr",  # 0.833
    "ft",
    "gpt-4o-mini",
])
def test_a_prefix_far_from_every_provider_is_part_of_the_model_name(prefix: str) -> None:
    assert parse(f"{prefix}:v1") == [Target("openai", f"{prefix}:v1")]


def test_problems_are_reported_for_the_first_bad_item_in_order() -> None:
    assert "model 1 of the list is empty" in refused(",a")
    assert "model 3 of the list is empty" in refused("a,b,")
    # an empty item is reported before a later bad character, and the number counts items
    assert "model 2 of the list is empty" in refused("a,,b c")
    assert "model 3 of the list (b c) holds a space" in refused("a,x,b c")


def test_a_target_named_twice_in_any_spelling_is_refused() -> None:
    assert "openai/a is in the list twice" in refused("a,openai:a")
    assert "work is in the list twice" in refused("work:,work:")
    # twice beats too many: the duplicate is found while reading
    assert "twice" in refused(",".join(["m0", *(f"m{i}" for i in range(9))]))
    # the same model under two providers is two targets
    assert parse("openai:a,work:a") == [Target("openai", "a"), Target("work", "a")]


def test_several_strings_are_items_and_spaces_around_items_are_dropped() -> None:
    assert parse([" a ", "b , c"]) == [Target("openai", "a"), Target("openai", "b"), Target("openai", "c")]
    assert "no model to compare" in refused([])
    assert "no model to compare" in refused(["", " "])


def test_the_label_is_provider_and_model_or_the_provider_alone() -> None:
    assert Target("ollama", "llama3:8b").label == "ollama/llama3:8b"
    assert Target("work").label == "work"
    assert Target("work", "").label == "work"


def shown(width: int, text: str) -> str:
    """`text` as an error message shows it in `width` characters (cut with an ellipsis)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def test_error_messages_show_at_most_so_many_characters_of_a_name() -> None:
    assert refused("p" * 100 + "\x07") == (
        f"model 1 of the list ({shown(60, 'p' * 100)}) holds a control or invisible character (U+0007); "
        "provider and model names are plain text")
    name = "Anthropic:" + "m" * 120
    assert refused(name) == (f"unknown provider 'Anthropic' in {shown(80, name)!r} (did you mean "
                             f"'anthropic'? for a model of that name write openai:{shown(80, name)})")
    profile = "work-" + "p" * 45  # a profile's long name, given in capitals
    with pytest.raises(TargetError) as caught:
        parse_targets(f"{profile.upper()}:m", [profile], "openai")
    assert str(caught.value).startswith(f"unknown provider {shown(40, profile.upper())!r} in ")
    twice = "w" * 90
    assert refused(f"{twice},{twice}") == f"{shown(80, 'openai/' + twice)} is in the list twice"
    assert refused("") == "no model to compare: give a list such as gpt-4o-mini,anthropic:claude-3-5-haiku"


def test_the_target_named_twice_is_the_one_reported() -> None:
    assert refused("x,y,z,w,openai:z") == "openai/z is in the list twice"
    assert refused("x,y,z,openai:x") == "openai/x is in the list twice"
