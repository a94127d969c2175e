"""Gemini Robotics-ER families, each built on a Gemini Flash of its time (1.x on 2.5, 2 on 3.5)."""

from __future__ import annotations

from dataclasses import replace

from imagejobs.core.model_facts.gemini_2 import BASE_2X, BUDGET_FLASH
from imagejobs.core.model_facts.gemini_3 import BASE_3X, SOURCES_3X
from imagejobs.core.model_facts.schema import LEVELS_ALL, TASKS_ALL, Family, Thinking
from imagejobs.core.model_facts.sources import RELEASE_NOTES_SEGMENTATION, ROBOTICS_GUIDE, SDK_TYPES

ROBOTICS_ER: tuple[Family, ...] = (
    replace(
        BASE_2X,
        key="gemini-robotics-er-1.5",
        display_name="Gemini Robotics-ER 1.5 Preview",
        generation=(2, 5),
        models=("gemini-robotics-er-1.5-preview",),
        tasks=TASKS_ALL,
        mask_shape="png",
        thinking=BUDGET_FLASH,
        prices=None,
        released="2025-09-25",
        retirement=None,
        status="preview",
        sources={"family": ROBOTICS_GUIDE, "media_resolution": SDK_TYPES},
        notes=("built on 2.5 Flash; mask shape and status after 2026-08 UNVERIFIED",),
    ),
    replace(
        BASE_2X,
        key="gemini-robotics-er-1.6",
        display_name="Gemini Robotics-ER 1.6 Preview",
        generation=(2, 5),
        models=("gemini-robotics-er-1.6-preview",),
        tasks=TASKS_ALL,
        mask_shape="polygon",
        thinking=BUDGET_FLASH,
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
        BASE_3X,
        key="gemini-robotics-er-2",
        display_name="Gemini Robotics-ER 2 Preview",
        generation=(3, 5),
        models=("gemini-robotics-er-2-preview",),
        thinking=Thinking("level", LEVELS_ALL, "MEDIUM", can_disable=True),
        prices=None,
        released=None,
        retirement=None,
        status="preview",
        sources={**SOURCES_3X, "family": ROBOTICS_GUIDE},
        notes=("segmentation not documented for ER 2; thinking taken from 3.5 Flash",),
    ),
)
