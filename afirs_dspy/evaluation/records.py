"""What one simulated session leaves behind: plain dataclasses that round-trip through JSON."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Usage:
    """LM use of one step. Tokens are DSPy's usage tracker's (responses from DSPy's cache cost none);
    ``lm_calls`` counts every LM call, cached or not, ``model_calls`` those that reached the model (None in
    records written before it was counted). ``seconds`` is wall time, including any wait for a local model
    shared with other sessions."""

    lm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    model_calls: int | None = None

    def __add__(self, other: Usage) -> Usage:
        model_calls = None if None in (self.model_calls, other.model_calls) else self.model_calls + other.model_calls
        return Usage(self.lm_calls + other.lm_calls, self.prompt_tokens + other.prompt_tokens,
                     self.completion_tokens + other.completion_tokens, self.seconds + other.seconds, model_calls)

    @property
    def uncached(self) -> bool:
        """Every LM call reached the model: the step's tokens and seconds are its full cost."""
        return self.model_calls == self.lm_calls


@dataclass
class TurnRecord:
    """Program turn ``turn`` (1-based) and the simulated user's answer to it."""

    turn: int
    action: str
    items: list[int]
    preselected: list[int] | None       # the list it would recommend now; None: the method cannot say when asking
    candidates: list[int] | None        # what its tool passed to the LM; None: the method has no such list
    preferences: list[str]
    question: str
    reply: str
    accepted: bool                      # the target is among ``items`` (decided by ids)
    user_reply: str | None = None       # None when the session ended without asking the simulator
    # what the turn read of the conversation (AF-IRS: the state in force, what changed, how many items it
    # left out); None for a method that reports none
    session: dict | None = None
    trace: list[dict] = field(default_factory=list)
    simulator_trace: list[dict] = field(default_factory=list)
    program_usage: Usage = field(default_factory=Usage)
    simulator_usage: Usage = field(default_factory=Usage)
    # the evaluation's question "what would you recommend now?" at an ask turn (DSR): not the method's cost
    probe_usage: Usage = field(default_factory=Usage)

    @classmethod
    def from_dict(cls, data: dict) -> TurnRecord:
        usages = {k: Usage(**data[k]) for k in ("program_usage", "simulator_usage", "probe_usage") if k in data}
        return cls(**{**data, **usages})


@dataclass
class SessionRecord:
    """One session of ``method`` with the simulated ``user``. ``status`` is "ok", or "error" when an
    exception escaped the program or simulator (``error`` holds its message); errored sessions count as
    failures in the metrics. ``ended_by``: "accept", "max_turns", "user_end" (the simulator said <END>) or
    "error". ``program_hash``: the state of the program that ran it (``provenance.program_hash``)."""

    method: str
    user: str
    target: int
    history_length: int
    simulator: str
    opener: str
    target_title: str = ""
    turns: list[TurnRecord] = field(default_factory=list)
    status: str = "ok"
    ended_by: str = "max_turns"
    error: str | None = None
    opener_usage: Usage = field(default_factory=Usage)
    simulator_stats: dict = field(default_factory=dict)  # e.g. leaks, regenerations, stripped
    seconds: float = 0.0
    program_hash: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.user

    @property
    def success_turn(self) -> int | None:
        return next((t.turn for t in self.turns if t.accepted), None)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SessionRecord:
        return cls(**{**data, "turns": [TurnRecord.from_dict(t) for t in data["turns"]],
                      "opener_usage": Usage(**data["opener_usage"])})
