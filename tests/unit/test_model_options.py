"""The model choice at intake: defaults per task, options checked against the model, routing."""

from __future__ import annotations

import pytest

from imagejobs.core.jobspec import JobSpec
from imagejobs.core.model_options import (
    ModelDefaults,
    ModelRefused,
    apply_model_choice,
    choose_model,
    prompt_thinking_budget,
)
from imagejobs.settings import DEFAULT_MODEL, DEFAULT_SEGMENT_MODEL

DEFAULTS = ModelDefaults("gemini-3.8-flash", "gemini-2.5-flash-lite")


def test_defaults_are_current_ga_models_that_suit_their_task() -> None:
    from imagejobs.core.models import model_info

    general, segment = model_info(DEFAULT_MODEL), model_info(DEFAULT_SEGMENT_MODEL)
    assert general.family.status == "ga" and general.family.retirement is None
    assert segment.family.status == "ga" and segment.can_segment


@pytest.mark.parametrize(
    ("task", "model", "answers"),
    [
        ("caption", None, "gemini-3.8-flash"),
        ("segment", None, "gemini-2.5-flash-lite"),
        ("detect", "models/Gemini-3.5-Flash", "gemini-3.5-flash"),
        ("segment", "gemini-2.5-pro", "gemini-2.5-pro"),
    ],
)
def test_the_model_that_answers(task: str, model: str | None, answers: str) -> None:
    choice = choose_model(task, model, {}, DEFAULTS)
    assert (choice.model, choice.requested_model, choice.notes) == (answers, None, ())


def test_unknown_model_is_refused_naming_model() -> None:
    with pytest.raises(ModelRefused) as err:
        choose_model("caption", "gpt-4o", {}, DEFAULTS)
    assert err.value.field == "model" and "gpt-4o" in err.value.message
    with pytest.raises(ModelRefused, match="configured default model"):
        choose_model("caption", None, {}, ModelDefaults("nonsense-1"))


@pytest.mark.parametrize(
    ("model", "options", "field", "words"),
    [
        (
            "gemini-3.8-flash",
            {"thinking_budget": 512},
            "options.thinking_budget",
            "thinking_budget is not accepted by gemini-3.8-flash: use thinking_level",
        ),
        (
            "gemini-3.8-flash",
            {"thinking_level": "MINIMAL"},
            "options.thinking_level",
            "thinking_level MINIMAL is not accepted by gemini-3.8-flash; it accepts LOW, MEDIUM",
        ),
        (
            "gemini-2.5-flash-lite",
            {"thinking_level": "LOW"},
            "options.thinking_level",
            "thinking_level is not accepted by gemini-2.5-flash-lite: use thinking_budget",
        ),
        (
            "gemini-2.5-pro",
            {"thinking_budget": 0},
            "options.thinking_budget",
            "gemini-2.5-pro: Budget 0 is invalid",
        ),
        (
            "gemini-3.5-flash",
            {"thinking_level": "LOW", "thinking_budget": 0},
            "options.thinking_level",
            "not both",
        ),
        (
            "gemini-2.5-flash-lite",
            {"media_resolution": "HIGH"},
            "options.media_resolution",
            "gemini-2.5-flash-lite: Per-part media resolution is not supported",
        ),
    ],
)
def test_options_the_model_refuses(
    model: str, options: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(ModelRefused) as err:
        choose_model("caption", model, options, DEFAULTS)
    assert err.value.field == field
    assert words in err.value.message


def test_options_the_model_accepts_are_kept() -> None:
    options = {"thinking_level": "LOW", "media_resolution": "ULTRA_HIGH", "max_output_tokens": 9}
    choice = choose_model("caption", "gemini-3.8-flash", options, DEFAULTS)
    assert choice.options == options and choice.notes == ()
    budget = choose_model("detect", "gemini-2.5-flash", {"thinking_budget": 0}, DEFAULTS)
    assert budget.options == {"thinking_budget": 0}


def test_sampling_dropped_where_ignored_and_said_so() -> None:
    ignored = choose_model("caption", "gemini-3.8-flash", {"temperature": 0.2}, DEFAULTS)
    assert ignored.options == {}
    assert ignored.notes == (
        "options.temperature dropped: gemini-3.8-flash ignores sampling parameters "
        "(Gemini 3.x: leave them at their defaults)",
    )
    honoured = choose_model("caption", "gemini-2.5-flash-lite", {"temperature": 0.2}, DEFAULTS)
    assert honoured.options == {"temperature": 0.2} and honoured.notes == ()


def test_segment_on_a_model_that_cannot_is_routed() -> None:
    options = {"thinking_level": "LOW", "media_resolution": "HIGH", "max_output_tokens": 99}
    choice = choose_model("segment", "gemini-3.5-flash", options, DEFAULTS)
    assert choice.model == "gemini-2.5-flash-lite"
    assert choice.requested_model == "gemini-3.5-flash"
    assert choice.options == {"max_output_tokens": 99}  # what 2.5 Flash-Lite takes
    assert choice.notes[0] == "segment routed from gemini-3.5-flash (cannot segment) to " + (
        "gemini-2.5-flash-lite"
    )
    assert [note.split(" ")[0] for note in choice.notes[1:]] == [
        "options.thinking_level",
        "options.media_resolution",
    ]


def test_segment_without_a_segmentation_model_is_refused() -> None:
    with pytest.raises(ModelRefused) as err:
        choose_model("segment", "gemini-3.8-flash", {}, ModelDefaults("gemini-3.8-flash"))
    assert err.value.field == "model"
    assert "gemini-3.8-flash cannot segment" in err.value.message
    assert "IMAGEJOBS_SEGMENT_MODEL" in err.value.message
    # With no segmentation model, a segment job without a model takes the general default.
    with pytest.raises(ModelRefused, match="cannot segment"):
        choose_model("segment", None, {}, ModelDefaults("gemini-3.8-flash"))
    with pytest.raises(ModelRefused, match="neither can the configured"):
        choose_model("segment", None, {}, ModelDefaults("gemini-3.8-flash", "gemini-3.5-flash"))


def test_apply_records_the_routing_in_params_and_is_idempotent() -> None:
    spec = JobSpec(task="segment", model="gemini-3.5-flash", options={"temperature": 1.0})
    chosen = apply_model_choice(spec, DEFAULTS)
    assert chosen.model == "gemini-2.5-flash-lite"
    assert chosen.options.temperature is None  # 3.5 Flash ignores it: dropped before routing
    params = chosen.params()
    assert params["requested_model"] == "gemini-3.5-flash"
    assert params["model_notes"][0].startswith("options.temperature dropped")
    again = apply_model_choice(chosen, DEFAULTS)
    assert again.model == chosen.model and again.params() == params
    assert "requested_model" not in apply_model_choice(JobSpec(task="caption"), DEFAULTS).params()


def test_thinking_level_is_normalised_and_checked_by_the_spec() -> None:
    assert JobSpec(task="caption", options={"thinking_level": "low"}).options.thinking_level == (
        "LOW"
    )
    with pytest.raises(ValueError, match="unknown thinking_level"):
        JobSpec(task="caption", options={"thinking_level": "lots"})


def test_a_task_may_have_its_own_default_model() -> None:
    defaults = ModelDefaults(
        "gemini-3.8-flash", "gemini-2.5-flash-lite", {"caption": "gemini-3.5-flash"}
    )
    assert choose_model("caption", None, {}, defaults).model == "gemini-3.5-flash"
    assert choose_model("detect", None, {}, defaults).model == "gemini-3.8-flash"
    assert choose_model("segment", None, {}, defaults).model == "gemini-2.5-flash-lite"
    assert choose_model("caption", "gemini-3.8-flash", {}, defaults).model == "gemini-3.8-flash"


def test_a_segment_default_per_task_wins_over_the_segmentation_model() -> None:
    defaults = ModelDefaults("gemini-3.8-flash", "gemini-2.5-flash-lite", {"segment": "x-1"})
    with pytest.raises(ModelRefused, match="configured default model"):
        choose_model("segment", None, {}, defaults)


@pytest.mark.parametrize(
    ("model", "budget", "sent"),
    [
        ("gemini-2.5-flash-lite", 0, 0),  # a budget model that can switch thinking off
        ("gemini-2.5-flash-lite", 512, 512),
        ("gemini-3.8-flash", 0, None),  # steered by levels: its own default
        ("gemini-2.5-pro", 0, None),  # cannot switch thinking off
        ("gemini-2.5-flash-lite", None, None),
    ],
)
def test_the_prompts_default_budget_goes_only_where_the_model_takes_it(
    model: str, budget: int | None, sent: int | None
) -> None:
    assert prompt_thinking_budget(model, budget) == sent
