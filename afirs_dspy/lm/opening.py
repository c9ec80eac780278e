"""Opening the LM a command or run names, checked before any work: a remote LM must answer a one-token call."""
from __future__ import annotations

import dspy

from afirs_dspy.lm.backends import LMOptions, LocalEngines, make_lm
from afirs_dspy.lm.errors import LMSetupError
from afirs_dspy.lm.failures import check_reachable
from afirs_dspy.lm.specs import LMSpec


def open_lm(spec: str | None, api_base: str | None, engines: LocalEngines | None = None,
            option: str = "--lm", options: LMOptions | None = None) -> dspy.LM:
    """``make_lm``, with a remote LM's reachability checked; a set-up error (missing install or model file, bad
    spec, a remote LM that does not answer) is an LMSetupError whose one line starts with ``option``."""
    try:
        lm = make_lm(spec, api_base, options=options, engines=engines)
        if not LMSpec.parse(spec).is_local:
            check_reachable(lm)
        return lm
    except LMSetupError as exc:
        raise LMSetupError(f"{option}: {exc}") from None
