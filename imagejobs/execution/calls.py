"""One attempt's Gemini calls under quota governance: each call admitted (the first before the
claim, later ones waited for here), sent on the model its admission names (the job's own, or a
fallback with the options it takes), then reported back: the slot released with the billed
prompt tokens, the breaker told how it went, a 429 honoured. The attempt's cost is reserved
against the producer's budget before the first call and settled with what was billed.
"""

from __future__ import annotations

import time

from imagejobs.core.budget import output_allowance, quote_nanos, usd_to_nanos
from imagejobs.core.governance_config import GovernanceConfig
from imagejobs.core.model_options import options_for, prompt_thinking_budget
from imagejobs.core.pricing import cost_usd
from imagejobs.core.prompts import PromptSpec
from imagejobs.execution.lease import Lease
from imagejobs.gemini.errors import GeminiCallError
from imagejobs.gemini.port import GenerateReply, GenerateRequest, ImagePart, TokenUsage
from imagejobs.governance import Reservation
from imagejobs.governance.governor import Admission, Deferred, call_outcome
from imagejobs.runtime import Runtime
from imagejobs.store.models import Job

OVERLOADED = "gemini_503"
# The first call is admitted before its quote exists (images unread): charged this much, and the
# token bucket corrected with the billed count when the call ends.
ROUGH_IMAGE_TOKENS = 1_100
ROUGH_PROMPT_TOKENS = 200


def model_chain(
    config: GovernanceConfig,
    task: str,
    model: str,
    fallbacks: list[str] | None,
    last_error: str | None,
) -> list[str]:
    """The models a job may run on, in order: its own, then its fallbacks (its own list, else
    the task's default chain); after an overloaded attempt its own model goes last."""
    chain = list(dict.fromkeys([model, *(fallbacks or config.fallback_chain(task))]))
    if last_error == OVERLOADED and len(chain) > 1:
        chain = [*chain[1:], chain[0]]
    return chain


def rough_tokens(image_count: int) -> int:
    return ROUGH_IMAGE_TOKENS * max(1, image_count) + ROUGH_PROMPT_TOKENS


class Calls:
    def __init__(
        self, runtime: Runtime, job: Job, lease: Lease, admission: Admission | None = None
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.governor = runtime.governor
        self.job = job
        self.lease = lease
        self.admission = admission  # the first call's, taken before the claim
        self.reservation: Reservation | None = None
        self.usage = TokenUsage()
        self.count = 0
        self.model_version: str | None = None
        self.cost: float | None = None  # billed USD of this attempt's calls
        self.models_used: list[str] = []

    def answered_model(self) -> str | None:
        return ",".join(dict.fromkeys(self.models_used))[:100] or None

    # Budget ---------------------------------------------------------------------------------

    def reserve_budget(self, producer: str, estimated_tokens: int, calls: int) -> None:
        """Reserve the attempt's cost quote (its dearest model) against ``producer``'s budget;
        raises :class:`~imagejobs.governance.governor.BudgetExceeded`."""
        job = self.job
        if self.governor.config.budget_for(producer) is None:
            return
        output = output_allowance(job.task, (job.options or {}).get("max_output_tokens")) * calls
        quotes = [
            quote_nanos(model, estimated_tokens, output, self.settings.prices)
            for model in [job.model, *(job.fallback_models or [])]
        ]
        quote = max((q for q in quotes if q is not None), default=0)
        self.reservation = self.governor.reserve(producer, f"{job.id}-{job.attempts}", quote)

    def settle(self) -> None:
        """The reservation replaced by the billed cost (released when nothing was sent)."""
        billed = usd_to_nanos(self.cost) if self.count and self.cost is not None else None
        self.governor.settle(self.reservation, billed if self.count else None)
        self.reservation = None

    def release_unused(self) -> None:
        """Give back the admission taken before the claim if no call used it."""
        if self.admission is not None:
            self.governor.finished(self.admission, billed_prompt_tokens=0, outcome="neutral")
            self.admission = None

    # Calls ----------------------------------------------------------------------------------

    def chain(self) -> list[str]:
        job = self.job
        return model_chain(
            self.governor.config, job.task, job.model, job.fallback_models, job.error_code
        )

    def admit_first(self, image_count: int) -> None:
        """Ask for the first call's slot right after the claim, before any image is read;
        :class:`Deferred` sends the job back to the queue with its attempt given back."""
        if self.governor.enabled and self.admission is None:
            self.admission = self.governor.admit(self.chain(), rough_tokens(image_count))

    def _admitted(self, tokens: int) -> Admission | None:
        """The first call's admission, or one waited for here (answers already paid for are
        kept), renewing the lease meanwhile."""
        if self.admission is not None:
            admission, self.admission = self.admission, None
            return admission
        if not self.governor.enabled:
            return None
        chain = self.chain()
        if self.models_used:  # stay on the model that answered the earlier calls
            chain = list(dict.fromkeys([self.models_used[-1], *chain]))
        give_up_at = time.monotonic() + self.settings.lease_s * 2
        while True:
            try:
                return self.governor.admit(chain, tokens)
            except Deferred as wait:
                if time.monotonic() + wait.delay_s > give_up_at:
                    raise
                time.sleep(min(wait.delay_s, self.settings.lease_s / 4))
                self.lease.keep()

    def call(self, parts: list[ImagePart], spec: PromptSpec, tokens: int) -> GenerateReply:
        """One generateContent call of about ``tokens`` input tokens, admitted and accounted."""
        admission = self._admitted(tokens)
        model = admission.model if admission is not None else self.job.model
        request = self._request(model, parts, spec)
        try:
            reply = self.runtime.gemini.generate(request)
        except GeminiCallError as exc:
            if admission is not None:
                if exc.code == 429:
                    self.governor.throttled(model, exc.retry_after_s)
                self.governor.finished(
                    admission, billed_prompt_tokens=None, outcome=call_outcome(exc)
                )
            raise
        if admission is not None:
            self.governor.finished(
                admission, billed_prompt_tokens=reply.usage.prompt, outcome="success"
            )
        self.count += 1
        self.usage = self.usage + reply.usage
        self.model_version = reply.model_version or self.model_version
        self.models_used.append(model)
        if reply.usage.prompt is not None:
            output = (reply.usage.candidates or 0) + (reply.usage.thoughts or 0)
            cost = cost_usd(model, reply.usage.prompt, output, self.settings.prices)
            if cost is not None:
                self.cost = (self.cost or 0.0) + cost
        return reply

    def _request(self, model: str, parts: list[ImagePart], spec: PromptSpec) -> GenerateRequest:
        options = dict(self.job.options or {})
        if model != self.job.model:  # a fallback: the options it takes
            options, _ = options_for(model, options)
        return GenerateRequest(
            model=model,
            images=parts,
            text=spec.text,
            system_instruction=spec.system_instruction,
            response_mime_type=spec.response_mime_type,
            response_schema=spec.response_schema,
            # A job's own thinking option wins; the prompt's default budget goes only where the
            # model takes it (a level model, or one that cannot switch thinking off, refuses it).
            thinking_budget=options.get(
                "thinking_budget",
                None
                if "thinking_level" in options
                else prompt_thinking_budget(model, spec.thinking_budget),
            ),
            thinking_level=options.get("thinking_level"),
            temperature=options.get("temperature"),
            max_output_tokens=options.get("max_output_tokens"),
            media_resolution=options.get("media_resolution"),
        )
