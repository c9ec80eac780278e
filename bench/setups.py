"""The AF-IRS configurations the cost benchmarks compare, so every script means the same by them.

  today  the program as it was before the fast-turns work: DSPy's ChatAdapter (unconstrained field sections; a
         parse failure re-sends the whole prompt through its JSONAdapter) and the stages' old settings
         (``TODAY_STAGES``)
  scored the programs' own adapters (``program_adapter``: compact JSON with a JSON-schema grammar for structured
         outputs, field sections for plain ones; one call per attempt) and the defaults, except that the LM
         reranks the preference score's top 15 (``refinement="scored"``, the default until the fast-turns work)
  new    the defaults: as scored, without the LM rerank (``refinement="score"``: the computed preference score
         orders the 50; measured, the rerank echoed its input order)

All use the same engine settings (the KV prefix-state cache is on in both: it was merged before), so a run
compares the program, not the engine.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from typing import Any, Iterator

import dspy

from afirs_dspy.programs.afirs import AFIRSConfig

# AFIRSConfig fields whose defaults changed with issue 15's stage work, at their earlier values; a field this
# version of AFIRSConfig does not have is left out (so the script runs before and after that work).
TODAY_STAGES: dict[str, Any] = {"extraction": "levelwise", "relax_up_tree": False, "summary": "lm",
                                "refinement": "lm", "decision_facts": False, "brief_lists": False}


@dataclass(frozen=True)
class Setup:
    name: str
    chat_adapter: bool  # DSPy's ChatAdapter instead of the programs' own
    stages: dict[str, Any] = field(default_factory=dict)

    def config(self) -> AFIRSConfig:
        known = {f.name for f in fields(AFIRSConfig)}
        return replace(AFIRSConfig(), **{k: v for k, v in self.stages.items() if k in known})

    @contextmanager
    def adapter_context(self) -> Iterator[None]:
        with dspy.context(**({"adapter": dspy.ChatAdapter()} if self.chat_adapter else {})):
            yield

    def describe(self) -> dict:
        known = {f.name for f in fields(AFIRSConfig)}
        return {"adapter": "ChatAdapter" if self.chat_adapter else "program_adapter (compact JSON or field sections)",
                "stages": {k: v for k, v in self.stages.items() if k in known}}


SETUPS = {"today": Setup("today", chat_adapter=True, stages=TODAY_STAGES),
          "scored": Setup("scored", chat_adapter=False, stages={"refinement": "scored"}),
          "new": Setup("new", chat_adapter=False)}
