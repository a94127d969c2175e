"""Where each model fact comes from: the page or file read, the day it was read, what it says."""

from __future__ import annotations

from imagejobs.core.model_facts.schema import Source

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
