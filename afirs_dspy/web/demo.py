"""What the page talks to: one program per method (built on first use), one conversation per browser tab,
and one turn at a time on the LM, whatever the number of tabs.

Loading (data, tree, recommender, LM) happens on the first request, not at start-up, so a missing artifact or
LM is a line in the page saying what to run; once it is fixed, the next message loads again without a restart.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import click
import dspy

from afirs_dspy.artifacts.context import MissingArtifact, ProgramContext
from afirs_dspy.data.errors import DataError
from afirs_dspy.lm.errors import LMSetupError
from afirs_dspy.lm.failures import lm_failures_explained
from afirs_dspy.compiled.manifest import ManifestMismatch
from afirs_dspy.programs.registry import build_program
from afirs_dspy.explain.explanation import explain_turn
from afirs_dspy.explain.recorder import Stage, TurnRecorder

log = logging.getLogger(__name__)
MAX_CONVERSATIONS = 200  # the oldest tab's conversation is forgotten beyond this
MAX_USERS = 200          # test users offered in the page
RECENT_TITLES = 3        # of a user's history, shown beside their id
# Problems a user can fix; their message says how. Anything else is reported by type and logged in full.
EXPLAINED = (MissingArtifact, ManifestMismatch, LMSetupError, DataError, click.ClickException)


def one_line(error: BaseException) -> str:
    """The error as the page shows it: its own message where it says what to do, else its type and first line."""
    if isinstance(error, click.ClickException):
        text = error.format_message()
    elif isinstance(error, EXPLAINED):
        text = str(error)
    else:
        first = (str(error).strip().splitlines() or [""])[0][:200]
        text = f"{type(error).__name__}: {first} (the server's log has the details)"
    return " ".join(text.split())


@dataclass
class Loaded:
    """What every turn needs: the program context, the LM and the programs built so far (by method name)."""

    context: ProgramContext
    lm: dspy.LM
    programs: dict[str, dspy.Module] = field(default_factory=dict)


@dataclass
class Conversation:
    method: str
    user: str | None
    history: list[int]
    dialogue: list[dict] = field(default_factory=list)


class Demo:
    """``load()`` returns a Loaded (raising one of EXPLAINED for a problem the user can fix); ``methods`` are the
    method names the page offers, the first being the default (a compiled program is put in ``Loaded.programs``
    under its own name by ``load``)."""

    def __init__(self, load: Callable[[], Loaded], methods: list[str], split: str = "test"):
        self._load = load
        self.methods = methods
        self.split = split
        self._loaded: Loaded | None = None
        self._load_lock = threading.Lock()
        self.lm_lock = threading.Lock()  # one turn at a time: the local model is shared by every tab
        self._conversations: OrderedDict[str, Conversation] = OrderedDict()
        self._conversations_lock = threading.Lock()

    def loaded(self) -> Loaded:
        with self._load_lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def info(self) -> dict:
        """Dataset, methods and the test users to play; ``error`` says what to run when loading failed."""
        try:
            context = self.loaded().context
        except Exception as exc:  # noqa: BLE001 - the page shows it; the server keeps serving
            if not isinstance(exc, EXPLAINED):
                log.exception("loading failed")
            return {"dataset": None, "methods": self.methods, "users": [], "error": one_line(exc)}
        table = context.dataset.split(self.split)
        titles = context.catalog.titles
        users = [{"id": str(user), "items": len(history),
                  "recent": [titles[i] for i in list(history)[-RECENT_TITLES:]][::-1]}
                 for user, history in zip(table.user[:MAX_USERS], table.history[:MAX_USERS])]
        return {"dataset": context.dataset.name, "methods": self.methods, "users": users, "error": None}

    def reset(self, session: str, method: str, user: str | None) -> Conversation:
        """A new conversation for the tab ``session``: ``method`` talking to ``user`` (None: a new user)."""
        if method not in self.methods:
            raise click.ClickException(f"unknown method {method!r}; known: {', '.join(self.methods)}")
        context = self.loaded().context
        history: list[int] = []
        if user:
            table = context.dataset.split(self.split)
            rows = table[table.user.astype(str) == str(user)]
            if rows.empty:
                raise click.ClickException(f"no user {user!r} in the {self.split} split of {context.dataset.name}")
            history = [int(i) for i in rows.history.iloc[0]]
        conversation = Conversation(method, user or None, history)
        with self._conversations_lock:
            self._conversations[session] = conversation
            self._conversations.move_to_end(session)
            while len(self._conversations) > MAX_CONVERSATIONS:
                self._conversations.popitem(last=False)
        return conversation

    def conversation(self, session: str, method: str, user: str | None) -> Conversation:
        """The tab's conversation, or a new one when it has none or the page asks for another method or user."""
        with self._conversations_lock:
            current = self._conversations.get(session)
        if current is None or current.method != method or current.user != (user or None):
            return self.reset(session, method, user)
        return current

    def program(self, method: str) -> dspy.Module:
        loaded = self.loaded()
        with self._load_lock:
            if method not in loaded.programs:
                loaded.programs[method] = build_program(method, loaded.context)
            return loaded.programs[method]

    def turn(self, session: str, text: str, method: str, user: str | None,
             on_event: Callable[[str, dict], None]) -> dict:
        """Run one turn of the tab's conversation; ``on_event`` hears "waiting" (another tab's turn holds the LM),
        "stage" (each stage as it finishes). Returns the turn's explanation; on an error the message is not kept."""
        text = " ".join(text.split())
        if not text:
            raise click.ClickException("type a message first")
        conversation = self.conversation(session, method, user)
        program, loaded = self.program(method), self.loaded()
        if not self.lm_lock.acquire(blocking=False):
            on_event("waiting", {"message": "another tab's turn is using the model; yours starts when it ends"})
            self.lm_lock.acquire()
        try:
            recorder = TurnRecorder(program, on_stage=lambda stage: on_event("stage", _stage_event(stage)))
            dialogue = [*conversation.dialogue, {"role": "user", "content": text}]
            with dspy.context(lm=loaded.lm), recorder.watching(), lm_failures_explained(loaded.lm):
                turn = program(dialogue=dialogue, history=list(conversation.history))
        finally:
            self.lm_lock.release()
        conversation.dialogue = [*dialogue, dict(turn["message"])]
        explanation = explain_turn(turn, recorder.stages, loaded.context.catalog, loaded.context.tree)
        return {**explanation, "method": method, "turn": sum(m["role"] == "user" for m in conversation.dialogue)}

    def events(self, session: str, text: str, method: str, user: str | None) -> Iterator[tuple[str, dict]]:
        """The turn as a stream of (event, data): "waiting", "stage"…, then "turn" (the explanation) or "error"
        (one line). The turn runs in its own thread, so its stages arrive while it runs."""
        events: queue.Queue = queue.Queue()

        def work() -> None:
            try:
                events.put(("turn", self.turn(session, text, method, user, lambda *event: events.put(event))))
            except Exception as exc:  # noqa: BLE001 - one line in the page; the server keeps serving
                if not isinstance(exc, EXPLAINED):
                    log.exception("turn failed")
                events.put(("error", {"message": one_line(exc)}))
            finally:
                events.put(None)

        threading.Thread(target=work, name=f"turn-{session[:8]}", daemon=True).start()
        while (event := events.get()) is not None:
            yield event


def _stage_event(stage: Stage) -> dict:
    return {key: value for key, value in stage.as_dict().items() if key != "detail"}
