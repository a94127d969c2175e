"""What we know about each Gemini model family, with the date and source of every fact.

Data only: ``imagejobs.core.models`` holds the lookup logic. The one lookup table is
:data:`FAMILIES`, in this order: the Gemini 2.x families (``gemini_2``), the 3.x families
(``gemini_3``), then Robotics-ER (``robotics``); ``schema`` holds the shape of a family and
``sources`` what each fact was read from.

Each ``Family`` names its sources per field (``sources["thinking"]`` and so on); a field without
its own entry relies on the family's ``"family"`` source. Sources disagree over time (the
deprecations page moved its dates three times in 2026); the newest primary source read wins and
the others are kept in ``notes``. Where nothing could be read, the field says so (``None`` or a
note marked UNVERIFIED) rather than guess.
"""

from __future__ import annotations

from imagejobs.core.model_facts.gemini_2 import GEMINI_2
from imagejobs.core.model_facts.gemini_3 import GEMINI_3
from imagejobs.core.model_facts.robotics import ROBOTICS_ER
from imagejobs.core.model_facts.schema import Family, Prices, Source, Thinking

FAMILIES: tuple[Family, ...] = (*GEMINI_2, *GEMINI_3, *ROBOTICS_ER)

__all__ = ["FAMILIES", "Family", "Prices", "Source", "Thinking"]
