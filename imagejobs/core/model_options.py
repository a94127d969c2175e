"""Which model answers a job, and which of its options that model takes: decided once, at intake.

:func:`choose_model` takes the task, the model asked for (or none), the job's options and the
configured defaults (:class:`ModelDefaults`), and answers a :class:`ModelChoice`:

* the model: the one asked for, else the task's default (``IMAGEJOBS_TASK_MODELS``, then the
  segmentation model for ``segment`` when one is configured, else the general default);
* options the model refuses are refused, naming the field and the model (``thinking_budget`` on a
  model that takes levels, a level it does not accept, a media resolution it does not take);
* sampling options (``temperature``) a model ignores are dropped, and a note says so;
* a ``segment`` job on a model that cannot segment is routed to the segmentation model (options
  that model does not take are dropped, with a note), or refused when none is configured.

Applying it to an already-chosen job changes nothing, so every way in may apply it. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from imagejobs.core.jobspec import JobSpec
from imagejobs.core.models import (
    ModelInfo,
    UnknownModel,
    media_resolution_problem,
    model_info,
    thinking_problem,
)

SAMPLING_OPTIONS = ("temperature",)


class ModelRefused(Exception):
    """The model, or an option for it, cannot be used; ``field`` names what was wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ModelSettings(Protocol):
    """What :class:`ModelDefaults` reads of ``imagejobs.settings.Settings``."""

    model: str
    segment_model: str | None
    task_models: dict[str, str]


@dataclass(frozen=True)
class ModelDefaults:
    """The configured models: ``per_task`` where a task has its own default, else ``general``;
    ``segment`` answers segmentation (None: none configured, and segment jobs on a model that
    cannot segment are refused)."""

    general: str
    segment: str | None = None
    per_task: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: ModelSettings) -> ModelDefaults:
        """The defaults the settings configure (``IMAGEJOBS_MODEL``, ``_SEGMENT_MODEL``,
        ``_TASK_MODELS``)."""
        return cls(settings.model, settings.segment_model, dict(settings.task_models))

    def for_task(self, task: str) -> str:
        """The model a job of ``task`` runs on when it names none."""
        if task in self.per_task:
            return self.per_task[task]
        if task == "segment" and self.segment is not None:
            return self.segment
        return self.general


@dataclass(frozen=True)
class ModelChoice:
    model: str  # the model that will answer
    requested_model: str | None  # the model asked for, when the job was routed elsewhere
    options: dict[str, Any]  # the options as the answering model takes them
    notes: tuple[str, ...] = ()  # what was dropped or routed, and why


def choose_model(
    task: str, requested: str | None, options: dict[str, Any], defaults: ModelDefaults
) -> ModelChoice:
    """The model and options a job runs with; raises :class:`ModelRefused`."""
    name = requested or defaults.for_task(task)
    info = _info(name, "" if requested else "the configured default model: ")
    kept = dict(options)
    problems = option_problems(info, kept)
    if problems:
        field, message = problems[0]
        raise ModelRefused(field, message)
    notes: list[str] = []
    if not info.family.sampling_honoured:
        for option in SAMPLING_OPTIONS:
            if kept.pop(option, None) is not None:
                notes.append(
                    f"options.{option} dropped: {info.name} ignores sampling parameters "
                    "(Gemini 3.x: leave them at their defaults)"
                )
    if task != "segment" or info.can_segment:
        return ModelChoice(info.name, None, kept, tuple(notes))
    if defaults.segment is None:
        raise ModelRefused(
            "model",
            f"{info.name} cannot segment (Gemini 3.x models do not support segmentation) and no "
            "segmentation model is configured (IMAGEJOBS_SEGMENT_MODEL); ask for a model that "
            "can segment, such as gemini-2.5-flash-lite",
        )
    target = _info(defaults.segment, "the configured segmentation model: ")
    if not target.can_segment:
        raise ModelRefused(
            "model",
            f"{info.name} cannot segment, and neither can the configured segmentation model "
            f"{target.name} (IMAGEJOBS_SEGMENT_MODEL)",
        )
    notes.append(f"segment routed from {info.name} (cannot segment) to {target.name}")
    for field, message in option_problems(target, kept):
        kept.pop(field.removeprefix("options."), None)
        notes.append(f"{field} dropped after routing: {message}")
    return ModelChoice(target.name, info.name, kept, tuple(notes))


def option_problems(info: ModelInfo, options: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, message)`` for each option ``info``'s model refuses (levels normalised)."""
    problems: list[tuple[str, str]] = []
    model, thinking = info.name, info.thinking
    level, budget = options.get("thinking_level"), options.get("thinking_budget")
    if level is not None and budget is not None:
        problems.append(
            ("options.thinking_level", "give thinking_level or thinking_budget, not both")
        )
    elif level is not None:
        if thinking.control == "none":
            problems.append(("options.thinking_level", f"{model} does not think"))
        elif thinking.control != "level":
            problems.append(
                (
                    "options.thinking_level",
                    f"thinking_level is not accepted by {model}: use thinking_budget",
                )
            )
        elif level not in thinking.levels:
            accepted = ", ".join(thinking.levels)
            problems.append(
                (
                    "options.thinking_level",
                    f"thinking_level {level} is not accepted by {model}; it accepts {accepted}",
                )
            )
    elif budget is not None:
        if thinking.control == "level":
            accepted = ", ".join(thinking.levels)
            problems.append(
                (
                    "options.thinking_budget",
                    f"thinking_budget is not accepted by {model}: use thinking_level ({accepted})",
                )
            )
        elif problem := thinking_problem(info, None, budget):
            problems.append(("options.thinking_budget", f"{model}: {problem}"))
    resolution = options.get("media_resolution")
    if resolution is not None and (
        problem := media_resolution_problem(info, resolution, per_part=True)
    ):
        problems.append(("options.media_resolution", f"{model}: {problem}"))
    return problems


def prompt_thinking_budget(model: str, budget: int | None) -> int | None:
    """The prompt's default ``thinking_budget`` (0: thinking off, as the image guide advises for
    boxes and masks) where ``model`` takes it, else None (the model's own default): a model that
    is steered by levels, or one that cannot switch thinking off, would refuse it."""
    if budget is None:
        return None
    try:
        thinking = model_info(model).thinking
    except UnknownModel:
        return budget
    if thinking.control != "budget" or (budget == 0 and not thinking.can_disable):
        return None
    return budget


def apply_model_choice(spec: JobSpec, defaults: ModelDefaults) -> JobSpec:
    """``spec`` with its model chosen and options checked (see :func:`choose_model`); the notes
    and the routing go with it (:meth:`JobSpec.params`). Raises :class:`ModelRefused`."""
    options = spec.options.model_dump(exclude_none=True)
    choice = choose_model(spec.task, spec.model, options, defaults)
    fallbacks = []
    for index, name in enumerate(spec.fallback_models):
        info = _info(name, "", field=f"fallback_models[{index}]")
        if spec.task not in info.family.tasks:
            raise ModelRefused(
                f"fallback_models[{index}]", f"{info.name} cannot do {spec.task} jobs"
            )
        if info.name != choice.model and info.name not in fallbacks:
            fallbacks.append(info.name)
    chosen = spec.model_copy(
        update={
            "model": choice.model,
            "options": type(spec.options)(**choice.options),
            "fallback_models": fallbacks,
        }
    )
    chosen.set_model_choice(
        choice.requested_model or spec.requested_model(), [*spec.model_notes(), *choice.notes]
    )
    return chosen


def _info(name: str, role: str, *, field: str = "model") -> ModelInfo:
    try:
        return model_info(name)
    except UnknownModel as exc:
        raise ModelRefused(field, f"{role}{exc}") from None


def options_for(model: str, options: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``options`` as ``model`` takes them when a job falls back to it: each option it refuses
    or ignores is dropped, with a note (the job's own model was checked at intake)."""
    try:
        info = model_info(model)
    except UnknownModel:
        return dict(options), []
    kept = dict(options)
    notes = []
    for field_name, message in option_problems(info, kept):
        kept.pop(field_name.removeprefix("options."), None)
        notes.append(f"{field_name} dropped on fallback: {message}")
    if not info.family.sampling_honoured:
        for option in SAMPLING_OPTIONS:
            if kept.pop(option, None) is not None:
                notes.append(f"options.{option} dropped on fallback: {info.name} ignores it")
    return kept, notes
