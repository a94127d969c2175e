"""The shape of a model family's facts, and the values several families share."""

from __future__ import annotations

from dataclasses import dataclass, field

from imagejobs.core.jobspec import TASKS
from imagejobs.core.media_resolution import GLOBAL_MEDIA_RESOLUTIONS, MEDIA_RESOLUTIONS

TASKS_ALL = frozenset(TASKS)
TASKS_NO_SEGMENT = TASKS_ALL - {"segment"}

LEVELS_ALL = ("MINIMAL", "LOW", "MEDIUM", "HIGH")
LEVELS_NO_MINIMAL = ("LOW", "MEDIUM", "HIGH")
GLOBAL_RESOLUTIONS = GLOBAL_MEDIA_RESOLUTIONS
PART_RESOLUTIONS = MEDIA_RESOLUTIONS

MIB = 1024 * 1024
FILE_LIMIT_BYTES = 2 * 1024 * MIB  # Files API: 2 GB per file, kept 48 h
INLINE_LIMIT_BYTES = 100_000_000  # whole request, base64 included (was 20 MB until 2026-01)
MAX_IMAGES = 3600


@dataclass(frozen=True)
class Source:
    """Where a fact comes from: ``url`` as read on ``read`` (ISO date), and what it says."""

    url: str
    read: str
    says: str


@dataclass(frozen=True)
class Thinking:
    """How thinking is controlled: a token budget (2.x) or named levels (3.x)."""

    control: str  # "none" | "budget" | "level"
    levels: tuple[str, ...] = ()  # thinking_level values the model accepts
    default_level: str | None = None
    budget_min: int | None = None  # smallest positive budget; 0 is "off" when can_disable
    budget_max: int | None = None
    can_disable: bool = False  # thinking_budget 0 accepted
    accepts_budget: bool = True  # 3.x keeps thinking_budget for backwards compatibility


@dataclass(frozen=True)
class Prices:
    """USD per million tokens, standard paid tier, prompts <= 200k tokens."""

    input: float
    output: float  # output includes thinking tokens
    batch_discount: float = 0.5  # Batch API: 50% of standard
    flex_discount: float | None = None  # no flex tier found in the sources read


@dataclass(frozen=True)
class Family:
    """One model family: a set of ids that behave alike."""

    key: str
    display_name: str
    generation: tuple[int, int]
    models: tuple[str, ...]  # ids the API serves (first = canonical)
    tasks: frozenset[str]
    mask_shape: str | None  # segmentation answer shape: "png" | "polygon" | None
    thinking: Thinking
    sampling_honoured: bool  # False: leave temperature/top_p/top_k at their defaults
    global_resolutions: tuple[str, ...]  # generationConfig.mediaResolution levels
    part_resolutions: tuple[str, ...]  # per-part mediaResolution levels (() = not per part)
    token_rule: str  # "tiles" (258 per tile) | "media_resolution" (flat per level)
    input_token_limit: int
    output_token_limit: int
    prices: Prices | None
    released: str | None
    retirement: str | None  # shutdown date (ISO), None when none is announced
    status: str  # "ga" | "preview" | "retired"
    polygon_axis_default: str = "yx"  # reading of [a, b] polygon points when the box can't tell
    inline_limit_bytes: int = INLINE_LIMIT_BYTES
    file_limit_bytes: int = FILE_LIMIT_BYTES
    max_images: int = MAX_IMAGES
    replacement: str | None = None
    sources: dict[str, Source] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
