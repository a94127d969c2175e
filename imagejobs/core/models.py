"""The model registry: which Gemini family a model id belongs to, and what it accepts.

The facts (with their date and source) live in ``imagejobs.core.model_facts``; this module only
looks them up. A model id resolves in three ways, recorded in ``ModelInfo.match``:

* ``exact``: an id the table lists (``gemini-2.5-flash``, ``models/gemini-3.5-flash``);
* ``variant``: a listed id plus a version or release tag (``gemini-2.5-flash-preview-09-2025``,
  ``gemini-2.0-flash-001``, ``gemini-2.5-pro-exp-03-25``), never another model name (``-lite``);
* ``pattern``: an unlisted id of a known generation and tier (``gemini-3.9-flash``) takes the rule
  of the nearest listed family of that tier (same major version, closest minor).

Anything else raises ``UnknownModel`` naming the id. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imagejobs.core.model_facts import FAMILIES, Family, Thinking

_VERSION_TAG = re.compile(r"(?:[-@](?:\d+|preview|exp|experimental|latest|stable)\b).*")
_TIER_NAME = re.compile(r"gemini-(\d+)(?:\.(\d+))?-(flash-lite|flash|pro)(?:-.*)?")
_ROBOTICS_NAME = re.compile(r"gemini-robotics-er-(\d+)(?:\.(\d+))?(?:-.*)?")


class UnknownModel(ValueError):
    """The id names no known Gemini model or family."""

    def __init__(self, name: str) -> None:
        known = ", ".join(served_models())
        super().__init__(
            f"unknown model {name!r}: not a known Gemini model, nor a known family's id with a "
            f"version tag; known models: {known}"
        )
        self.name = name


@dataclass(frozen=True)
class ModelInfo:
    """A model id and the family whose rules apply to it."""

    name: str  # without the "models/" prefix
    family: Family
    match: str  # "exact" | "variant" | "pattern"

    @property
    def resource_name(self) -> str:
        return "models/" + self.name

    @property
    def can_segment(self) -> bool:
        return "segment" in self.family.tasks

    @property
    def thinking(self) -> Thinking:
        return self.family.thinking

    @property
    def uses_media_resolution(self) -> bool:
        return self.family.token_rule == "media_resolution"


def normalise_name(name: str) -> str:
    """``models/Gemini-2.5-Flash `` -> ``gemini-2.5-flash``."""
    return name.strip().lower().removeprefix("models/")


_BY_ID: dict[str, Family] = {model: fam for fam in FAMILIES for model in fam.models}


def served_models() -> list[str]:
    """Every model id the table lists, in table order."""
    return [model for fam in FAMILIES for model in fam.models]


def family(key: str) -> Family:
    """The family with ``key`` (``gemini-2.5-flash``); KeyError names the known keys."""
    for fam in FAMILIES:
        if fam.key == key:
            return fam
    raise KeyError(f"no model family {key!r}; known: {[f.key for f in FAMILIES]}")


def model_info(name: str) -> ModelInfo:
    """The family rules for ``name``; raises ``UnknownModel`` when none applies."""
    model = normalise_name(name)
    if not model:
        raise UnknownModel(name)
    if model in _BY_ID:
        return ModelInfo(model, _BY_ID[model], "exact")
    best: str | None = None
    for known in _BY_ID:
        if (
            model.startswith(known)
            and _VERSION_TAG.fullmatch(model[len(known) :])
            and (best is None or len(known) > len(best))
        ):
            best = known
    if best is not None:
        return ModelInfo(model, _BY_ID[best], "variant")
    fallback = _nearest_family(model)
    if fallback is None:
        raise UnknownModel(name)
    return ModelInfo(model, fallback, "pattern")


def _nearest_family(model: str) -> Family | None:
    """The listed family of the same tier and major version with the closest minor version."""
    if match := _TIER_NAME.fullmatch(model):
        major, minor, tier = int(match.group(1)), int(match.group(2) or 0), match.group(3)
        candidates = [f for f in FAMILIES if _tier(f) == tier and f.generation[0] == major]
    elif match := _ROBOTICS_NAME.fullmatch(model):
        major, minor = int(match.group(1)), int(match.group(2) or 0)
        candidates = [f for f in FAMILIES if f.key.startswith("gemini-robotics-er-")]
        candidates = [f for f in candidates if _robotics_version(f)[0] == major]
        return min(candidates, key=lambda f: _distance(_robotics_version(f), (major, minor)))
    else:
        return None
    if not candidates:
        return None
    return min(candidates, key=lambda f: _distance(f.generation, (major, minor)))


def _distance(have: tuple[int, int], want: tuple[int, int]) -> tuple[int, int]:
    # Prefer the closest older-or-equal family, then the closest newer one.
    gap = (want[0] - have[0]) * 100 + want[1] - have[1]
    return (0, gap) if gap >= 0 else (1, -gap)


def _tier(fam: Family) -> str | None:
    for tier in ("flash-lite", "flash", "pro"):
        if fam.key.endswith("-" + tier):
            return tier
    return None


def _robotics_version(fam: Family) -> tuple[int, int]:
    major, _, minor = fam.key.removeprefix("gemini-robotics-er-").partition(".")
    return int(major), int(minor or 0)


# Request checks (messages as the real API words them) -----------------------------------------


def thinking_problem(info: ModelInfo, level: str | None, budget: int | None) -> str | None:
    """Why the API refuses this thinking config for the model, or None when it accepts it.

    ``level`` must already be normalised. Wording follows real 400 answers where one was seen
    (sources in model_facts: LEVEL_ERRORS, THINKING_GUIDE, PRO_BUDGET_ZERO); the wording for
    both fields set and for out-of-range budgets is the closest seen.
    """
    thinking = info.thinking
    if level is not None and budget is not None:
        return "thinking_budget and thinking_level cannot be set at the same time."
    if level is not None:
        if thinking.control != "level":
            return "Thinking level is not supported for this model."
        if level not in thinking.levels:
            return (
                f"Thinking level {level} is not supported for this model. "
                "Please retry with other thinking level."
            )
        return None
    if budget is None or budget == -1:
        return None
    if thinking.control == "none" or not thinking.accepts_budget:
        return "Thinking is not supported for this model."
    if budget == 0:
        if thinking.can_disable:
            return None
        return "Budget 0 is invalid. This model only works in thinking mode."
    low = thinking.budget_min or 1
    high = thinking.budget_max or 32768
    if budget < 0 or not low <= budget <= high:
        return f"The thinking budget ({budget}) is invalid."
    return None


def media_resolution_problem(info: ModelInfo, level: str, per_part: bool) -> str | None:
    """Why the API refuses a media resolution ``level`` (LOW..ULTRA_HIGH), or None."""
    allowed = info.family.part_resolutions if per_part else info.family.global_resolutions
    if per_part and not allowed:
        return "Per-part media resolution is not supported for this model."
    if level not in allowed:
        where = "per part" if per_part else "in generation_config"
        return f"Media resolution {level} is not supported {where} for this model."
    return None
