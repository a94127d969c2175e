"""Parsing real-world model text: fences, prose, trailing commas, truncation, labels."""

from __future__ import annotations

import pytest

from imagejobs.core.parsing import (
    ParseError,
    extract_json,
    parse_items,
    parse_labels,
    parse_model_output,
    parse_text_answer,
    remove_trailing_commas,
)

ITEMS = [{"box_2d": [1, 2, 3, 4], "label": "a"}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"box_2d": [1, 2, 3, 4], "label": "a"}]', ITEMS),
        ('  {"a": 1}  ', {"a": 1}),
        ('```json\n[{"box_2d": [1, 2, 3, 4], "label": "a"}]\n```', ITEMS),
        ('```\n[{"box_2d": [1, 2, 3, 4], "label": "a"}]\n```', ITEMS),
        ('```JSON [{"box_2d": [1, 2, 3, 4], "label": "a"}]```', ITEMS),
        ('Here you go:\n```json\n{"a": 1}\n```\nHope this helps [really].', {"a": 1}),
        ('```python\nprint("x")\n```\ntext\n```json\n{"a": 2}\n```', {"a": 2}),
        ("```json\n[1, 2,]\n```", [1, 2]),
        ('{"a": 1,}', {"a": 1}),
        ('{"a": [1, {"b": 2,},],\n}', {"a": [1, {"b": 2}]}),
        ('The answer is {"labels": ["cat"]} as requested.', {"labels": ["cat"]}),
        ('See [figure 1] then [{"label": "x"}] end', [{"label": "x"}]),
        ('{"a": "line1\nline2"}', {"a": "line1\nline2"}),  # raw newline in a string
        ("42", 42),
        ('Note [see below: {"a": 1}', {"a": 1}),  # stray bracket in prose
    ],
)
def test_extract_json(text: str, expected: object) -> None:
    assert extract_json(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('["a,]", "b,}",]', ["a,]", "b,}"]),
        ('{"k": "x, ]", "q": "\\", ]",}', {"k": "x, ]", "q": '", ]'}),
        ('[{"label": "cup, mug [left]",}, ]', [{"label": "cup, mug [left]"}]),
    ],
)
def test_trailing_comma_repair_leaves_strings_alone(text: str, expected: object) -> None:
    assert extract_json(text) == expected


def test_remove_trailing_commas_direct() -> None:
    assert remove_trailing_commas('[1, "a,]" , ]') == '[1, "a,]"  ]'
    assert remove_trailing_commas("[1,2]") == "[1,2]"
    # A comma with nothing after it (cut-off output) closes nothing: it stays.
    assert remove_trailing_commas("[1, 2, \n") == "[1, 2, \n"
    assert remove_trailing_commas('{"a": [1,\t\r\n]}') == '{"a": [1\t\r\n]}'


def test_parse_error_is_its_own_type_not_a_value_error() -> None:
    # Callers turn a ParseError into a failed job: a ValueError from a bug must not look like one.
    assert not issubclass(ParseError, ValueError)
    with pytest.raises(ValueError, match="unknown ParseError code"):
        ParseError("no_such_code", "x")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("I cannot help with that.", "no_json"),
        ('```json\n[{"box_2d": [1, 2, 3, 4], "label": "a"},\n  {"box_2d": [5, 6', "invalid_json"),
        ('[{"a": 1} {"b": 2}]', "invalid_json"),
        ("{'a': 1}", "invalid_json"),
    ],
)
def test_extract_json_errors(text: str, code: str) -> None:
    with pytest.raises(ParseError) as err:
        extract_json(text)
    assert err.value.code == code
    assert str(err.value)


def test_cut_off_list_never_yields_its_first_item() -> None:
    text = '[{"box_2d": [1, 2, 3, 4], "label": "a"}, {"box_2d": [5, 6, 7, 8], "lab'
    with pytest.raises(ParseError) as err:
        extract_json(text)
    assert err.value.code == "invalid_json"


def test_unclosed_json_message_says_cut_off() -> None:
    with pytest.raises(ParseError, match="never closes"):
        extract_json('[{"a": "unterminated')


def test_parse_model_output_truncated_vs_stop() -> None:
    cut = '```json\n[{"box_2d": [1, 2, 3, 4], "label": "a"}, {"box_2d": [5,'
    with pytest.raises(ParseError) as err:
        parse_model_output(cut, "MAX_TOKENS")
    assert err.value.code == "truncated"
    assert "max output tokens" in str(err.value)
    assert "finishReason MAX_TOKENS" in str(err.value)
    with pytest.raises(ParseError) as err:
        parse_model_output(cut, "STOP")
    assert err.value.code == "invalid_json"


def test_parse_model_output_max_tokens_but_complete_json() -> None:
    assert parse_model_output('[{"a": 1}] and then some cut-off pro', "MAX_TOKENS") == [{"a": 1}]


class _FinishReason:
    name = "MAX_TOKENS"


@pytest.mark.parametrize("reason", ["MAX_TOKENS", "FINISH_REASON_MAX_TOKENS", _FinishReason()])
def test_parse_model_output_empty_at_max_tokens(reason: object) -> None:
    with pytest.raises(ParseError) as err:
        parse_model_output("", reason)  # type: ignore[arg-type]
    assert err.value.code == "truncated"
    assert "thinking" in str(err.value)


@pytest.mark.parametrize("reason", ["SAFETY", "PROHIBITED_CONTENT", "RECITATION", "IMAGE_SAFETY"])
def test_parse_model_output_blocked(reason: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_model_output(None, reason)
    assert err.value.code == "blocked"
    assert reason in str(err.value)


def test_parse_model_output_empty_stop() -> None:
    with pytest.raises(ParseError) as err:
        parse_model_output(None, "STOP")
    assert err.value.code == "empty"


# Items ---------------------------------------------------------------------------------------


def test_parse_items_keeps_duplicates_and_drops_invalid() -> None:
    value = [
        {"box_2d": [10, 20, 30, 40], "label": "cat"},
        {"box_2d": [10, 20, 30, 40], "label": "tabby cat"},
        {"box_2d": [10, 20, 30], "label": "short"},
        {"label": "no box"},
        "not an object",
        {"box_2d": [50, 50, 50, 60], "label": "flat"},
        {"box_2d": [1, 2, 3, 4]},
        {"box_2d": [1, 2, 3, 4], "label": 7},
        {"box_2d": [1, 2, 3, 4], "label": "  "},
        {"box_2d": [40, 30, 20, 10], "label": "inverted", "mask": "data:x"},
    ]
    result = parse_items(value)
    assert [i.label for i in result.items] == [
        "cat",
        "tabby cat",
        "object",
        "7",
        "object",
        "inverted",
    ]
    assert result.items[0].box_2d == result.items[1].box_2d == (10, 20, 30, 40)
    assert result.items[-1].box_2d == (20, 10, 40, 30)
    assert result.items[-1].mask == "data:x"
    assert result.items[0].mask is None
    assert result.dropped == 4
    assert len(result.drop_reasons) == 4
    assert result.drop_reasons[0].startswith("item 2:")
    assert "no box_2d" in result.drop_reasons[1]
    assert "not an object" in result.drop_reasons[2]
    assert "empty" in result.drop_reasons[3]


@pytest.mark.parametrize("key", ["objects", "items", "detections", "masks", "anything"])
def test_parse_items_wrapped_list(key: str) -> None:
    result = parse_items({key: [{"box_2d": [1, 2, 3, 4], "label": "x"}]})
    assert [(i.label, i.box_2d) for i in result.items] == [("x", (1, 2, 3, 4))]


def test_parse_items_single_object_and_empty() -> None:
    assert len(parse_items({"box_2d": [1, 2, 3, 4], "label": "x"}).items) == 1
    empty = parse_items([])
    assert (empty.items, empty.dropped) == ([], 0)


@pytest.mark.parametrize("value", ["text", 5, {"a": 1, "b": 2}, {"mask": [[1, 2], [3, 4]]}])
def test_parse_items_wrong_shape(value: object) -> None:
    with pytest.raises(ParseError) as err:
        parse_items(value)
    assert err.value.code == "wrong_shape"


# Labels --------------------------------------------------------------------------------------

ALLOWED = ["cat", "dog", "Golden Retriever"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"labels": ["cat"]}, ["cat"]),
        ({"labels": [" DOG ", "cat", "dog"]}, ["dog", "cat"]),
        ({"label": "golden retriever"}, ["Golden Retriever"]),
        (["Cat."], ["cat"]),
        ("dog", ["dog"]),
        ("cat, dog", ["cat", "dog"]),
        ({"labels": ["cat", "unicorn"]}, ["cat"]),
        ({"labels": []}, []),
    ],
)
def test_parse_labels(value: object, expected: list[str]) -> None:
    assert parse_labels(value, ALLOWED) == expected


def test_parse_labels_unknown_named() -> None:
    with pytest.raises(ParseError) as err:
        parse_labels({"labels": ["unicorn", "Dragon"]}, ALLOWED)
    assert err.value.code == "unknown_labels"
    assert "unicorn" in str(err.value) and "Dragon" in str(err.value)


def test_parse_labels_wrong_shape() -> None:
    with pytest.raises(ParseError) as err:
        parse_labels({"answer": "cat"}, ALLOWED)
    assert err.value.code == "wrong_shape"


# Text answers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  A cat on a mat.\n", "A cat on a mat."),
        ("```\nA cat on a mat.\n```", "A cat on a mat."),
        ("```text\nTwo lines\nhere\n```", "Two lines\nhere"),
        ("Use `code` inline", "Use `code` inline"),
    ],
)
def test_parse_text_answer(text: str, expected: str) -> None:
    assert parse_text_answer(text) == expected


@pytest.mark.parametrize("text", [None, "", "  ", "```\n\n```"])
def test_parse_text_answer_empty(text: str | None) -> None:
    with pytest.raises(ParseError) as err:
        parse_text_answer(text)
    assert err.value.code == "empty"


# Wrappers and polygon items ------------------------------------------------------------------

POLY = [[325, 411], [327, 471], [332, 523], [397, 534], [403, 492], [408, 426]]


@pytest.mark.parametrize(
    "value",
    [
        {"boxes": [{"box_2d": [1, 2, 3, 4], "label": "x"}]},
        {"result": {"boxes": [{"box_2d": [1, 2, 3, 4], "label": "x"}]}},
        {"response": {"data": {"objects": [{"box_2d": [1, 2, 3, 4], "label": "x"}]}}},
        {"segmentation": {"count": 1, "items": [{"box_2d": [1, 2, 3, 4], "label": "x"}]}},
    ],
)
def test_any_wrapper_object_is_looked_through(value: object) -> None:
    assert [(i.label, i.box_2d) for i in parse_items(value).items] == [("x", (1, 2, 3, 4))]


def test_polygon_item_without_box_gets_the_box_around_its_points() -> None:
    result = parse_items([{"mask": POLY, "label": "cup"}])
    assert [(i.label, i.box_2d) for i in result.items] == [("cup", (325, 411, 408, 534))]
    assert result.items[0].mask == POLY
    assert result.notes == ["item 0: no box_2d; box taken from its polygon read as [y, x]"]
    swapped = parse_items([{"mask": POLY}], axis_default="xy")
    assert swapped.items[0].box_2d == (411, 325, 534, 408)
    assert "read as [x, y]" in swapped.notes[0]


def test_polygon_under_another_key_and_multiple_rings() -> None:
    rings = [POLY, [[10, 10], [10, 20], [20, 20]]]
    result = parse_items({"boxes": [{"box_2d": [10, 10, 408, 534], "polygon": rings}]})
    assert result.items[0].mask == rings and result.items[0].label == "object"
    assert parse_items([{"polygons": rings}]).items[0].box_2d == (10, 10, 408, 534)


def test_item_with_a_two_point_mask_and_no_box_is_dropped() -> None:
    result = parse_items([{"mask": [[1, 2], [3, 4]], "label": "x"}])
    assert result.items == [] and result.drop_reasons == ["item 0: no box_2d"]
