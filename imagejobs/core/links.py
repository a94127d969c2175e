"""Where a job's resources live in the HTTP API (webhook events and API answers link to them)."""

from __future__ import annotations


def job_links(job_id: str) -> dict[str, str]:
    return {"self": f"/v1/jobs/{job_id}", "overlay": f"/v1/jobs/{job_id}/overlay.png"}
