"""The model registry: lookup by id, variant and family pattern, facts with sources, checks."""

from __future__ import annotations

import re

import pytest

from imagejobs.core.model_facts import FAMILIES
from imagejobs.core.models import (
    UnknownModel,
    family,
    media_resolution_problem,
    model_info,
    served_models,
    thinking_problem,
)
from imagejobs.core.thinking_level import normalise_level


@pytest.mark.parametrize(
    ("name", "key", "match"),
    [
        ("gemini-2.5-flash", "gemini-2.5-flash", "exact"),
        ("models/Gemini-2.5-Flash ", "gemini-2.5-flash", "exact"),
        ("gemini-2.5-flash-preview-09-2025", "gemini-2.5-flash", "variant"),
        ("gemini-2.5-flash-lite-preview-06-17", "gemini-2.5-flash-lite", "variant"),
        ("gemini-2.5-pro-exp-03-25", "gemini-2.5-pro", "variant"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash", "exact"),
        ("gemini-3-flash-preview", "gemini-3-flash", "exact"),
        ("gemini-3.1-flash-lite", "gemini-3.1-flash-lite", "exact"),
        ("gemini-3.9-flash", "gemini-3.8-flash", "pattern"),
        ("gemini-3.4-flash-lite", "gemini-3.1-flash-lite", "pattern"),
        ("gemini-3.2-pro-preview", "gemini-3.1-pro", "pattern"),
        ("gemini-robotics-er-2.1-preview", "gemini-robotics-er-2", "pattern"),
    ],
)
def test_lookup(name: str, key: str, match: str) -> None:
    info = model_info(name)
    assert (info.family.key, info.match) == (key, match)
    assert info.resource_name == "models/" + info.name


@pytest.mark.parametrize("name", ["", "imagen-4.0-generate-001", "gpt-4o", "gemini-9-flash", "x"])
def test_unknown_models_are_refused_by_name(name: str) -> None:
    with pytest.raises(UnknownModel, match=re.escape(repr(name))) as err:
        model_info(name)
    assert "gemini-2.5-flash" in str(err.value)  # the message lists what is known


def test_another_model_name_is_not_a_version_tag() -> None:
    # "-lite" names a different model: gemini-2.5-flash-lite is its own family, not a variant.
    assert model_info("gemini-2.5-flash-lite").family.key == "gemini-2.5-flash-lite"
    assert model_info("gemini-3.5-flash-lite").family.key == "gemini-3.5-flash-lite"


def test_every_family_is_sourced_and_consistent() -> None:
    ids = served_models()
    assert len(ids) == len(set(ids))
    for fam in FAMILIES:
        assert fam.sources.get("family"), fam.key
        for source in fam.sources.values():
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", source.read), (fam.key, source)
            assert source.url and source.says
        assert fam.token_rule in ("tiles", "media_resolution")
        assert fam.mask_shape in (None, "png", "polygon")
        assert fam.polygon_axis_default in ("yx", "xy")
        assert fam.status in ("ga", "preview", "retired")
        if fam.thinking.control == "level":
            assert fam.thinking.default_level in fam.thinking.levels, fam.key
        if fam.part_resolutions:
            assert "ULTRA_HIGH" in fam.part_resolutions
        assert "ULTRA_HIGH" not in fam.global_resolutions  # ultra-high is per part only
        if fam.prices:
            assert fam.prices.output >= fam.prices.input > 0
            assert fam.prices.batch_discount == 0.5


def test_generation_facts_from_the_docs() -> None:
    # Segmentation: 2.5 yes (PNG maps), 3.x no (release notes); 2.0 detection only.
    assert model_info("gemini-2.5-flash").can_segment
    assert model_info("gemini-2.5-flash").family.mask_shape == "png"
    assert not model_info("gemini-2.0-flash").can_segment
    for name in ("gemini-3-flash-preview", "gemini-3.5-flash", "gemini-3.8-flash"):
        info = model_info(name)
        assert not info.can_segment and info.family.mask_shape == "polygon"
        assert info.uses_media_resolution and not info.family.sampling_honoured
        assert info.thinking.control == "level"
    assert model_info("gemini-2.5-pro").thinking.control == "budget"
    assert not model_info("gemini-2.5-pro").thinking.can_disable
    assert model_info("gemini-3.5-flash").thinking.default_level == "MEDIUM"
    assert model_info("gemini-3.1-pro-preview").thinking.levels == ("LOW", "MEDIUM", "HIGH")
    assert family("gemini-2.5-flash").retirement == "2026-12-01"
    assert family("gemini-2.5-flash-lite").retirement is None


@pytest.mark.parametrize(
    ("model", "level", "budget", "problem"),
    [
        ("gemini-2.5-flash", None, 0, None),
        ("gemini-2.5-flash", None, -1, None),
        ("gemini-2.5-flash", None, 24576, None),
        ("gemini-2.5-flash", None, 24577, "The thinking budget (24577) is invalid."),
        ("gemini-2.5-flash", "LOW", None, "Thinking level is not supported for this model."),
        ("gemini-2.5-pro", None, 0, "Budget 0 is invalid. This model only works in thinking mode."),
        ("gemini-2.5-pro", None, 100, "The thinking budget (100) is invalid."),
        ("gemini-2.5-flash-lite", None, 100, "The thinking budget (100) is invalid."),
        ("gemini-3-flash-preview", "MINIMAL", None, None),
        ("gemini-3-flash-preview", None, 0, None),  # budget kept for backwards compatibility
        ("gemini-3.1-pro-preview", None, 0, "Budget 0 is invalid."),
        ("gemini-3.8-flash", "MINIMAL", None, "Thinking level MINIMAL is not supported"),
        ("gemini-3-pro-preview", "MEDIUM", None, "Thinking level MEDIUM is not supported"),
        ("gemini-3.5-flash", "XHIGH", None, "Thinking level XHIGH is not supported"),
        ("gemini-3.5-flash", "LOW", 100, "cannot be set at the same time"),
        ("gemini-2.0-flash", None, 10, "Thinking is not supported for this model."),
    ],
)
def test_thinking_checks(model: str, level: str | None, budget: int | None, problem: str | None):
    found = thinking_problem(model_info(model), level, budget)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found, found


def test_levels_and_media_resolution_checks() -> None:
    assert normalise_level("low") == "LOW" == normalise_level("THINKING_LEVEL_LOW")
    with pytest.raises(ValueError, match="unknown thinking_level 'huge'"):
        normalise_level("huge")
    g25, g35 = model_info("gemini-2.5-flash"), model_info("gemini-3.5-flash")
    assert media_resolution_problem(g25, "LOW", per_part=False) is None
    assert "Per-part" in (media_resolution_problem(g25, "LOW", per_part=True) or "")
    assert media_resolution_problem(g35, "ULTRA_HIGH", per_part=True) is None
    assert "ULTRA_HIGH" in (media_resolution_problem(g35, "ULTRA_HIGH", per_part=False) or "")
