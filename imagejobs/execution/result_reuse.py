"""The result cache on the worker's side: the cache key of a job once its images are known (by
content), and the stored results of an equal earlier job when the cache may answer it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from imagejobs.core.cache_key import result_cache_key
from imagejobs.core.outcome import Outcome
from imagejobs.core.times import utcnow
from imagejobs.runtime import Runtime
from imagejobs.store.models import Job
from imagejobs.store.result_cache import find_cached, read_outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reuse:
    cache_key: str | None  # None: the request has no key (an image without content yet)
    source: str | None = None  # the earlier job whose results answer this one
    outcome: Outcome | None = None


def look_up(runtime: Runtime, job: Job, image_sha256s: list[str]) -> Reuse:
    """The cache's answer for ``job`` (in a session of its own)."""
    if not _may_answer(runtime, job):
        return Reuse(cache_key(job, image_sha256s))
    with runtime.db.session() as session:
        return look_up_in(session, runtime, job, image_sha256s)


def look_up_in(session: Session, runtime: Runtime, job: Job, image_sha256s: list[str]) -> Reuse:
    """The cache's answer for ``job``, read in the caller's ``session`` (the one right after
    the claim)."""
    key = cache_key(job, image_sha256s)
    if key is None or not _may_answer(runtime, job):
        return Reuse(key)
    since = utcnow() - timedelta(seconds=runtime.governor.config.cache_ttl_s)
    source = find_cached(session, key, since=since, not_job=job.id)
    outcome = read_outcome(session, source) if source else None
    if source is None or outcome is None:
        return Reuse(key)
    log.info("job %s: answered from the result cache (job %s)", job.id, source)
    return Reuse(key, source, outcome)


class CacheRequest(Protocol):
    """What the cache key is made of (a job row, or a due job peeked before its claim)."""

    @property
    def id(self) -> str: ...
    @property
    def task(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def options(self) -> dict[str, Any]: ...
    @property
    def use_cache(self) -> bool: ...


def would_answer(runtime: Runtime, job: CacheRequest, image_sha256s: list[str | None]) -> bool:
    """Whether the cache has an answer for ``job`` now (so no quota slot is needed for it)."""
    known = [sha for sha in image_sha256s if sha]
    if not _may_answer(runtime, job) or len(known) != len(image_sha256s):
        return False
    key = cache_key(job, known)
    if key is None:
        return False
    since = utcnow() - timedelta(seconds=runtime.governor.config.cache_ttl_s)
    with runtime.db.session() as session:
        return find_cached(session, key, since=since, not_job=job.id) is not None


def cache_key(job: CacheRequest, image_sha256s: list[str]) -> str | None:
    """The job's cache key (None while an image's content is unknown)."""
    params = {k: v for k, v in (job.params or {}).items() if not k.startswith("_")}
    try:
        return result_cache_key(
            image_sha256s=image_sha256s,
            task=job.task,
            params=params,
            model=job.model,
            options=job.options or {},
        )
    except ValueError:
        return None


def _may_answer(runtime: Runtime, job: CacheRequest) -> bool:
    return bool(runtime.governor.config.cache_ttl_s) and job.use_cache
