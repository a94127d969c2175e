"""What we know about each Gemini model family, with the date and source of every fact.

Data only: ``imagejobs.core.models`` holds the lookup logic. Each ``Family`` names its sources per
field (``sources["thinking"]`` and so on); a field without its own entry relies on the family's
``"family"`` source. Sources disagree over time (the deprecations page moved its dates three
times in 2026); the newest primary source read wins and the others are kept in ``notes``.
Where nothing could be read, the field says so (``None`` or a note marked UNVERIFIED) rather
than guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

TASKS_ALL = frozenset({"caption", "ask", "classify", "detect", "segment", "compare"})
TASKS_NO_SEGMENT = TASKS_ALL - {"segment"}

LEVELS_ALL = ("MINIMAL", "LOW", "MEDIUM", "HIGH")
LEVELS_NO_MINIMAL = ("LOW", "MEDIUM", "HIGH")
GLOBAL_RESOLUTIONS = ("LOW", "MEDIUM", "HIGH")
PART_RESOLUTIONS = ("LOW", "MEDIUM", "HIGH", "ULTRA_HIGH")

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


# Sources ------------------------------------------------------------------------------------

DEPRECATIONS_2025 = Source(
    "https://ai.google.dev/gemini-api/docs/deprecations",
    "2025-12-12",
    "2.0 flash/flash-lite shutdown earliest Feb 2026; 2.5 flash June 2026; 3.x preview dates",
)
DEPRECATIONS_2026 = Source(
    "https://ai.google.dev/gemini-api/docs/deprecations?authuser=10",
    "2026-11-10",
    "3.8-flash 2026-09-02, 3.7-flash 2026-08-13, 3.6-flash and 3.5-flash-lite 2026-07-21, "
    "3.5-flash 2026-05-19, 3.1-flash-lite 2026-05-07 (shutdown 2027-05-07); "
    "3-pro-preview shut down 2026-03-09",
)
RETIREMENT_2_5 = Source(
    "https://dev.to/aideprecations/what-to-do-before-gemini-25-pro-and-25-flash-are-retired-on-december-1-2026-5gg9",
    "2026-11-10",
    "quotes the deprecations page: gemini-2.5-pro and gemini-2.5-flash shut down 2026-12-01, "
    "requests routed to gemini-3.8-flash / gemini-3.5-flash-lite; gemini-2.5-flash-lite is not "
    "deprecated and remains available until further notice",
)
RELEASE_NOTES_SEGMENTATION = Source(
    "https://discuss.ai.google.dev/t/image-understanding-and-segmentation-mask-support/146559",
    "2026-11-21",
    "quotes the release notes: 'Image segmentation is not supported in Gemini 3.x. For "
    "segmentation workloads, continue using Gemini 2.5 Flash with thinking off, or Gemini "
    "Robotics-ER 1.6'; 3.5 Flash and Robotics-ER 1.6 answer polygons the poster calls [x,y]",
)
IMAGE_GUIDE_2025 = Source(
    "https://ai.google.dev/gemini-api/docs/image-understanding",
    "2025-10-01",
    "2.0: object detection; 2.5: segmentation masks as base64 PNG probability maps over the box; "
    "tile rule 258 tokens; 3,600 images per request (copy in stozo04/Interactive-Video-Character)",
)
IMAGE_GUIDE_2026 = Source(
    "https://ai.google.dev/gemini-api/docs/image-understanding?hl=fr",
    "2026-06-15",
    "page updated 2026-06-11: samples on gemini-3.5-flash; segmentation section removed; "
    "'object detection' is the only specialised task left",
)
THINKING_GUIDE = Source(
    "https://ai.google.dev/gemini-api/docs/thinking",
    "2026-07-22",
    "2.5 budgets: Flash 0..24576, Pro 128..32768 (cannot disable), Flash-Lite 512..24576; -1 "
    "dynamic; thinking_level on a model earlier than Gemini 3 returns an error",
)
GEMINI3_GUIDE = Source(
    "https://ai.google.dev/gemini-api/docs/gemini-3",
    "2026-06-01",
    "thinking_level replaces thinking_budget (budget still accepted, never both); keep "
    "temperature at its default 1.0; media_resolution per part, ultra-high per part only",
)
VERTEX_3_5_GUIDE = Source(
    "https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/guides/gemini-3-5-flash",
    "2026-07-31",
    "3.5 Flash GA: MINIMAL/LOW/MEDIUM/HIGH, default MEDIUM; 3.1 Pro preview LOW/MEDIUM/HIGH, "
    "default HIGH; 3.1 Flash-Lite GA MINIMAL..HIGH, default MINIMAL; 1,048,576 in / 65,536 out",
)
LEVEL_ERRORS = Source(
    "https://github.com/theJayTea/WritingTools/issues/282",
    "2026-09-11",
    "MINIMAL rejected on gemini-3.7-flash, gemini-3.8-flash and Pro models: 'Thinking level "
    "MINIMAL is not supported for this model. Please retry with other thinking level.'",
)
LEVELS_3_7 = Source(
    "https://github.com/can1357/oh-my-pi/issues/10543",
    "2026-09-02",
    "Google's thinking-level table: 3.7 Flash low/medium/high only, medium default",
)
BUDGET_3_8 = Source(
    "https://github.com/earendil-works/pi/issues/9455",
    "2026-09-10",
    "gemini-3.8-flash accepts LOW, MEDIUM, HIGH or thinkingBudget 0; MINIMAL is a 400",
)
BUDGET_3_5_LITE = Source(
    "https://github.com/googleapis/python-genai/issues/2936",
    "2026-09-08",
    "gemini-3.5-flash-lite rejects thinkingBudget 0 (reproduced by the SDK team)",
)
PRO_BUDGET_ZERO = Source(
    "https://github.com/docker/docker-agent/issues/2051",
    "2026-03-11",
    "gemini-3.1-pro-preview: 'Budget 0 is invalid. This model only works in thinking mode.'",
)
PRICING_2026 = Source(
    "https://ai.google.dev/gemini-api/docs/pricing",
    "2026-10-07",
    "transcribed verbatim in api-evangelist/deepmind plans/deepmind-plans-pricing.yml: 3.8 Flash "
    "$0.75/$3.75 through 2026-12-31 ($1.50/$7.50 from 2027-01-01); 3.5 Flash $1.50/$9.00; 3.5 "
    "Flash-Lite $0.30/$2.50; 3.1 Pro Preview $2/$12; 2.5 Pro $1.25 in; 2.5 Flash $0.30 in; 2.5 "
    "Flash-Lite $0.40 out; Batch API 50%",
)
PRICING_2025 = Source(
    "https://ai.google.dev/gemini-api/docs/pricing",
    "2025-12-01",
    "2.5 Flash $0.30/$2.50, 2.5 Flash-Lite $0.10/$0.40, 2.5 Pro $1.25/$10, 2.0 Flash "
    "$0.10/$0.40, 3 Flash preview $0.50/$3.00, 3 Pro preview $2/$12 (imagejobs' price table)",
)
SDK_TYPES = Source(
    "google-genai 3.6.1 google/genai/types.py",
    "2026-12-01",
    "ThinkingLevel MINIMAL/LOW/MEDIUM/HIGH/XHIGH; MediaResolution (global) LOW 64, MEDIUM 256, "
    "HIGH 256 tokens (zoomed reframing); PartMediaResolutionLevel adds ULTRA_HIGH",
)
MEDIA_RESOLUTION_GUIDE = Source(
    "https://ai.google.dev/gemini-api/docs/media-resolution",
    "2026-11-21",
    "per part (Gemini 3 only) or global (all multimodal models); Gemini 3 images LOW 280, "
    "MEDIUM 560, HIGH 1120 (default), ULTRA_HIGH 2240 (see /work/shared/docs/gemini-wire.md)",
)
ROBOTICS_GUIDE = Source(
    "https://ai.google.dev/gemini-api/docs/robotics-overview",
    "2026-09-01",
    "Robotics-ER 2 (gemini-robotics-er-2-preview) is built on 3.5 Flash; Robotics-ER 1.6 was "
    "shut down 2026-08-31; points are [y, x] normalised to 0-1000",
)
LIMITS = Source(
    "https://blog.google/innovation-and-ai/technology/developers-tools/gemini-api-new-file-limits",
    "2026-01-12",
    "inline requests up to 100 MB (was 20 MB); Files API 2 GB per file, kept 48 h",
)

# The table -----------------------------------------------------------------------------------

_BUDGET_FLASH = Thinking("budget", budget_min=1, budget_max=24576, can_disable=True)
_BUDGET_LITE = Thinking("budget", budget_min=512, budget_max=24576, can_disable=True)
_BUDGET_PRO = Thinking("budget", budget_min=128, budget_max=32768, can_disable=False)
_BASE_2X = Family(
    key="",
    display_name="",
    generation=(2, 5),
    models=(),
    tasks=TASKS_ALL,
    mask_shape="png",
    thinking=_BUDGET_FLASH,
    sampling_honoured=True,
    global_resolutions=GLOBAL_RESOLUTIONS,
    part_resolutions=(),
    token_rule="tiles",
    input_token_limit=1_048_576,
    output_token_limit=65_536,
    prices=None,
    released=None,
    retirement=None,
    status="ga",
)
_BASE_3X = replace(
    _BASE_2X,
    generation=(3, 0),
    tasks=TASKS_NO_SEGMENT,
    mask_shape="polygon",
    sampling_honoured=False,
    part_resolutions=PART_RESOLUTIONS,
    token_rule="media_resolution",
)
_3X_SOURCES = {
    "tasks": RELEASE_NOTES_SEGMENTATION,
    "mask_shape": RELEASE_NOTES_SEGMENTATION,
    "sampling_honoured": GEMINI3_GUIDE,
    "media_resolution": MEDIA_RESOLUTION_GUIDE,
    "token_rule": MEDIA_RESOLUTION_GUIDE,
    "limits": VERTEX_3_5_GUIDE,
}

FAMILIES: tuple[Family, ...] = (
    replace(
        _BASE_2X,
        key="gemini-2.0-flash",
        display_name="Gemini 2.0 Flash",
        generation=(2, 0),
        models=("gemini-2.0-flash", "gemini-2.0-flash-001"),
        tasks=TASKS_NO_SEGMENT,
        mask_shape=None,
        thinking=Thinking("none", accepts_budget=False),
        prices=Prices(0.10, 0.40),
        released="2025-02-05",
        retirement="2026-02-05",
        status="retired",
        replacement="gemini-2.5-flash",
        sources={
            "family": DEPRECATIONS_2025,
            "tasks": IMAGE_GUIDE_2025,
            "prices": PRICING_2025,
            "media_resolution": SDK_TYPES,
        },
        notes=("retirement: the page said 'earliest February 2026'; the day is UNVERIFIED",),
        output_token_limit=8192,
    ),
    replace(
        _BASE_2X,
        key="gemini-2.0-flash-lite",
        display_name="Gemini 2.0 Flash-Lite",
        generation=(2, 0),
        models=("gemini-2.0-flash-lite", "gemini-2.0-flash-lite-001"),
        tasks=TASKS_NO_SEGMENT,
        mask_shape=None,
        thinking=Thinking("none", accepts_budget=False),
        prices=None,
        released="2025-02-25",
        retirement="2026-02-25",
        status="retired",
        replacement="gemini-2.5-flash-lite",
        sources={"family": DEPRECATIONS_2025, "tasks": IMAGE_GUIDE_2025},
        notes=("retirement: 'earliest February 2026', day UNVERIFIED; price not read",),
        output_token_limit=8192,
    ),
    replace(
        _BASE_2X,
        key="gemini-2.5-flash",
        display_name="Gemini 2.5 Flash",
        generation=(2, 5),
        models=("gemini-2.5-flash",),
        tasks=TASKS_ALL,
        mask_shape="png",
        thinking=_BUDGET_FLASH,
        prices=Prices(0.30, 2.50),
        released="2025-06-17",
        retirement="2026-12-01",
        status="ga",
        replacement="gemini-3.5-flash-lite",
        sources={
            "family": RETIREMENT_2_5,
            "tasks": RELEASE_NOTES_SEGMENTATION,
            "mask_shape": IMAGE_GUIDE_2025,
            "thinking": THINKING_GUIDE,
            "prices": PRICING_2026,
            "media_resolution": SDK_TYPES,
            "token_rule": IMAGE_GUIDE_2026,
        },
        notes=(
            "retirement: 2025-12 page said 2026-06-17; the 2026-11 page says 2026-12-01 and "
            "routes requests to gemini-3.5-flash-lite after that",
            "some 2.5 releases answer masks as <start_of_mask><seg_N> tokens (cookbook#798)",
        ),
    ),
    replace(
        _BASE_2X,
        key="gemini-2.5-flash-lite",
        display_name="Gemini 2.5 Flash-Lite",
        generation=(2, 5),
        models=("gemini-2.5-flash-lite",),
        tasks=TASKS_ALL,
        mask_shape="png",
        thinking=_BUDGET_LITE,
        prices=Prices(0.10, 0.40),
        released="2025-07-22",
        retirement=None,
        status="ga",
        sources={
            "family": RETIREMENT_2_5,
            "tasks": IMAGE_GUIDE_2025,
            "thinking": THINKING_GUIDE,
            "prices": PRICING_2026,
            "media_resolution": SDK_TYPES,
        },
        notes=("the only GA model left with documented segmentation after 2026-12-01",),
    ),
    replace(
        _BASE_2X,
        key="gemini-2.5-pro",
        display_name="Gemini 2.5 Pro",
        generation=(2, 5),
        models=("gemini-2.5-pro",),
        tasks=TASKS_ALL,
        mask_shape="png",
        thinking=_BUDGET_PRO,
        prices=Prices(1.25, 10.00),
        released="2025-06-17",
        retirement="2026-12-01",
        status="ga",
        replacement="gemini-3.8-flash",
        sources={
            "family": RETIREMENT_2_5,
            "tasks": IMAGE_GUIDE_2025,
            "thinking": THINKING_GUIDE,
            "prices": PRICING_2025,
            "media_resolution": SDK_TYPES,
        },
    ),
    replace(
        _BASE_3X,
        key="gemini-3-pro",
        display_name="Gemini 3 Pro Preview",
        generation=(3, 0),
        models=("gemini-3-pro-preview",),
        thinking=Thinking("level", ("LOW", "HIGH"), "HIGH", can_disable=False),
        prices=Prices(2.00, 12.00),
        released="2025-11-18",
        retirement="2026-03-09",
        status="retired",
        replacement="gemini-3.1-pro-preview",
        sources={
            **_3X_SOURCES,
            "family": DEPRECATIONS_2026,
            "thinking": GEMINI3_GUIDE,
            "prices": PRICING_2025,
        },
    ),
    replace(
        _BASE_3X,
        key="gemini-3-flash",
        display_name="Gemini 3 Flash Preview",
        generation=(3, 0),
        models=("gemini-3-flash-preview",),
        thinking=Thinking("level", LEVELS_ALL, "HIGH", can_disable=True),
        prices=Prices(0.50, 3.00),
        released="2025-12-17",
        retirement=None,
        status="preview",
        sources={
            **_3X_SOURCES,
            "family": DEPRECATIONS_2025,
            "thinking": GEMINI3_GUIDE,
            "prices": PRICING_2025,
        },
    ),
    replace(
        _BASE_3X,
        key="gemini-3.1-pro",
        display_name="Gemini 3.1 Pro Preview",
        generation=(3, 1),
        models=("gemini-3.1-pro-preview",),
        thinking=Thinking("level", LEVELS_NO_MINIMAL, "HIGH", can_disable=False),
        prices=Prices(2.00, 12.00),
        released="2026-02-19",
        retirement=None,
        status="preview",
        sources={
            **_3X_SOURCES,
            "family": DEPRECATIONS_2026,
            "thinking": VERTEX_3_5_GUIDE,
            "prices": PRICING_2026,
            "budget": PRO_BUDGET_ZERO,
        },
    ),
    replace(
        _BASE_3X,
        key="gemini-3.1-flash-lite",
        display_name="Gemini 3.1 Flash-Lite",
        generation=(3, 1),
        models=("gemini-3.1-flash-lite", "gemini-3.1-flash-lite-preview"),
        thinking=Thinking("level", LEVELS_ALL, "MINIMAL", can_disable=True),
        prices=None,
        released="2026-05-07",
        retirement="2027-05-07",
        status="ga",
        sources={**_3X_SOURCES, "family": DEPRECATIONS_2026, "thinking": VERTEX_3_5_GUIDE},
        notes=("price not found in the pricing transcripts read",),
    ),
    replace(
        _BASE_3X,
        key="gemini-3.5-flash",
        display_name="Gemini 3.5 Flash",
        generation=(3, 5),
        models=("gemini-3.5-flash",),
        thinking=Thinking("level", LEVELS_ALL, "MEDIUM", can_disable=True),
        prices=Prices(1.50, 9.00),
        released="2026-05-19",
        retirement=None,
        status="ga",
        polygon_axis_default="yx",
        sources={
            **_3X_SOURCES,
            "family": DEPRECATIONS_2026,
            "thinking": VERTEX_3_5_GUIDE,
            "prices": PRICING_2026,
            "polygon_axis_default": ROBOTICS_GUIDE,
        },
        notes=(
            "polygon axis: a forum user calls the points [x,y]; Google's point format is [y, x]; "
            "the item's box_2d decides, this default only breaks ties",
        ),
    ),
    replace(
        _BASE_3X,
        key="gemini-3.5-flash-lite",
        display_name="Gemini 3.5 Flash-Lite",
        generation=(3, 5),
        models=("gemini-3.5-flash-lite",),
        thinking=Thinking("level", LEVELS_ALL, "MINIMAL", can_disable=False),
        prices=Prices(0.30, 2.50),
        released="2026-07-21",
        retirement=None,
        status="ga",
        sources={
            **_3X_SOURCES,
            "family": DEPRECATIONS_2026,
            "budget": BUDGET_3_5_LITE,
            "prices": PRICING_2026,
        },
        notes=("thinking levels UNVERIFIED: taken from 3.1 Flash-Lite",),
    ),
    replace(
        _BASE_3X,
        key="gemini-3.6-flash",
        display_name="Gemini 3.6 Flash",
        generation=(3, 6),
        models=("gemini-3.6-flash",),
        thinking=Thinking("level", LEVELS_ALL, "MEDIUM", can_disable=True),
        prices=None,
        released="2026-07-21",
        retirement=None,
        status="ga",
        sources={**_3X_SOURCES, "family": DEPRECATIONS_2026},
        notes=("thinking levels and price UNVERIFIED: levels taken from 3.5 Flash",),
    ),
    replace(
        _BASE_3X,
        key="gemini-3.7-flash",
        display_name="Gemini 3.7 Flash",
        generation=(3, 7),
        models=("gemini-3.7-flash",),
        thinking=Thinking("level", LEVELS_NO_MINIMAL, "MEDIUM", can_disable=True),
        prices=None,
        released="2026-08-13",
        retirement=None,
        status="ga",
        sources={**_3X_SOURCES, "family": DEPRECATIONS_2026, "thinking": LEVELS_3_7},
    ),
    replace(
        _BASE_3X,
        key="gemini-3.8-flash",
        display_name="Gemini 3.8 Flash",
        generation=(3, 8),
        models=("gemini-3.8-flash", "gemini-flash-latest"),
        thinking=Thinking("level", LEVELS_NO_MINIMAL, "MEDIUM", can_disable=True),
        prices=Prices(0.75, 3.75),
        released="2026-09-02",
        retirement=None,
        status="ga",
        sources={
            **_3X_SOURCES,
            "family": DEPRECATIONS_2026,
            "thinking": LEVEL_ERRORS,
            "budget": BUDGET_3_8,
            "prices": PRICING_2026,
        },
        notes=(
            "price $0.75/$3.75 through 2026-12-31, then $1.50/$7.50 (pricing page)",
            "default level MEDIUM UNVERIFIED (taken from 3.7 Flash); gemini-flash-latest "
            "resolved to gemini-3.8-flash on 2026-09-11 (WritingTools#282)",
        ),
    ),
    replace(
        _BASE_2X,
        key="gemini-robotics-er-1.5",
        display_name="Gemini Robotics-ER 1.5 Preview",
        generation=(2, 5),
        models=("gemini-robotics-er-1.5-preview",),
        tasks=TASKS_ALL,
        mask_shape="png",
        thinking=_BUDGET_FLASH,
        prices=None,
        released="2025-09-25",
        retirement=None,
        status="preview",
        sources={"family": ROBOTICS_GUIDE, "media_resolution": SDK_TYPES},
        notes=("built on 2.5 Flash; mask shape and status after 2026-08 UNVERIFIED",),
    ),
    replace(
        _BASE_2X,
        key="gemini-robotics-er-1.6",
        display_name="Gemini Robotics-ER 1.6 Preview",
        generation=(2, 5),
        models=("gemini-robotics-er-1.6-preview",),
        tasks=TASKS_ALL,
        mask_shape="polygon",
        thinking=_BUDGET_FLASH,
        prices=None,
        released=None,
        retirement="2026-08-31",
        status="retired",
        replacement="gemini-robotics-er-2-preview",
        sources={
            "family": ROBOTICS_GUIDE,
            "tasks": RELEASE_NOTES_SEGMENTATION,
            "mask_shape": RELEASE_NOTES_SEGMENTATION,
        },
        notes=("thinking control UNVERIFIED (taken from 2.5 Flash)",),
    ),
    replace(
        _BASE_3X,
        key="gemini-robotics-er-2",
        display_name="Gemini Robotics-ER 2 Preview",
        generation=(3, 5),
        models=("gemini-robotics-er-2-preview",),
        thinking=Thinking("level", LEVELS_ALL, "MEDIUM", can_disable=True),
        prices=None,
        released=None,
        retirement=None,
        status="preview",
        sources={**_3X_SOURCES, "family": ROBOTICS_GUIDE},
        notes=("segmentation not documented for ER 2; thinking taken from 3.5 Flash",),
    ),
)
