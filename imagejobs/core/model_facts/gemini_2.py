"""Gemini 2.0 and 2.5 families: thinking by token budget, the tile token rule, PNG masks.

``BASE_2X`` holds what the 2.x families share; each family states only what differs.
"""

from __future__ import annotations

from dataclasses import replace

from imagejobs.core.model_facts.schema import (
    GLOBAL_RESOLUTIONS,
    TASKS_ALL,
    TASKS_NO_SEGMENT,
    Family,
    Prices,
    Thinking,
)
from imagejobs.core.model_facts.sources import (
    DEPRECATIONS_2025,
    IMAGE_GUIDE_2025,
    IMAGE_GUIDE_2026,
    PRICING_2025,
    PRICING_2026,
    RELEASE_NOTES_SEGMENTATION,
    RETIREMENT_2_5,
    SDK_TYPES,
    THINKING_GUIDE,
)

BUDGET_FLASH = Thinking("budget", budget_min=1, budget_max=24576, can_disable=True)
BUDGET_LITE = Thinking("budget", budget_min=512, budget_max=24576, can_disable=True)
BUDGET_PRO = Thinking("budget", budget_min=128, budget_max=32768, can_disable=False)
BASE_2X = Family(
    key="",
    display_name="",
    generation=(2, 5),
    models=(),
    tasks=TASKS_ALL,
    mask_shape="png",
    thinking=BUDGET_FLASH,
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

GEMINI_2: tuple[Family, ...] = (
    replace(
        BASE_2X,
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
        BASE_2X,
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
        BASE_2X,
        key="gemini-2.5-flash",
        display_name="Gemini 2.5 Flash",
        generation=(2, 5),
        models=("gemini-2.5-flash",),
        tasks=TASKS_ALL,
        mask_shape="png",
        thinking=BUDGET_FLASH,
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
        BASE_2X,
        key="gemini-2.5-flash-lite",
        display_name="Gemini 2.5 Flash-Lite",
        generation=(2, 5),
        models=("gemini-2.5-flash-lite",),
        tasks=TASKS_ALL,
        mask_shape="png",
        thinking=BUDGET_LITE,
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
        BASE_2X,
        key="gemini-2.5-pro",
        display_name="Gemini 2.5 Pro",
        generation=(2, 5),
        models=("gemini-2.5-pro",),
        tasks=TASKS_ALL,
        mask_shape="png",
        thinking=BUDGET_PRO,
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
)
