"""The result-cache key of a job: equal requests give equal keys, any difference another key.

The key hashes canonical JSON (sorted keys, no spaces, UTF-8) of everything that decides what
Gemini is asked: the images by sha256 in order, the task, its inputs (prompt, question, labels
in order, multi_label, target), the model and the options. Representations that mean the same
request are made equal first: ``models/Gemini-2.5-Flash`` and ``gemini-2.5-flash``, upper and
lower case hex, ``1`` and ``1.0``, a field set to null and a field left out. Anything else that
changes the answer (a prompt template, a downscale setting) belongs in ``options`` or in
:data:`CACHE_KEY_VERSION`, which is bumped when imagejobs' own prompts or parsing change.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from imagejobs.core.jobspec import TASKS

CACHE_KEY_VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")


def result_cache_key(
    *,
    image_sha256s: Sequence[str],
    task: str,
    params: Mapping[str, Any],
    model: str,
    options: Mapping[str, Any],
) -> str:
    """``v1:<sha256 hex>`` of the canonical request; bad input raises ValueError naming it."""
    images = [sha.strip().lower() for sha in image_sha256s]
    if not images:
        raise ValueError("cache key: a job needs at least one image sha256")
    for index, sha in enumerate(images):
        if not _SHA256.fullmatch(sha):
            raise ValueError(f"cache key: images[{index}] is not a sha256 hex digest: {sha!r}")
    if task not in TASKS:
        raise ValueError(f"cache key: unknown task {task!r}; known: {list(TASKS)}")
    name = model.strip().lower().removeprefix("models/")
    if not name:
        raise ValueError("cache key: model must be named (the model the job will run on)")
    request = {
        "v": CACHE_KEY_VERSION,
        "images": images,
        "task": task,
        "params": _canonical(params, "params"),
        "model": name,
        "options": _canonical(options, "options"),
    }
    text = json.dumps(
        request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return f"v{CACHE_KEY_VERSION}:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: Any, where: str) -> Any:
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"cache key: {where} has a non-string key {key!r}")
            if item is not None:
                result[key] = _canonical(item, f"{where}.{key}")
        return result
    if isinstance(value, list | tuple):
        return [_canonical(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cache key: {where} must be a finite number, got {value!r}")
        return int(value) if value.is_integer() else value
    raise ValueError(f"cache key: {where} must be JSON (got {type(value).__name__})")
