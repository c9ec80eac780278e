"""A session's memory, carried in the dialogue itself (programs stay stateless).

An assistant message may carry what the program showed and the state it acted on::

    {"role": "assistant", "content": "You might like: …", "items": [12, 7, …], "session": {…}}

``items`` are the ids of a recommendation (a question shows none); ``session`` is the
:class:`SessionState` the turn acted on (``SessionState.as_json``). A dialogue whose assistant messages are
text only still works: the titles of a "You might like: …" reply are matched back to ids
(``Catalog.match_title``), and the state is rebuilt from the user's messages.

What a session remembers: every item it showed and the user did not take (never shown again, unless the
user names it), the preferences (tree nodes) in force, the attributes the user ruled out, the release years
in force, and the attributes the user moved away from ("something different").
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from afirs_dspy.domain.candidate_distribution import attributes_of
from afirs_dspy.domain.catalog import Catalog
from afirs_dspy.domain.preference_tree import PreferenceTree
from afirs_dspy.text.title_forms import title_key, title_variants
from afirs_dspy.text.user_words import YearWish

ITEMS = "items"
SESSION = "session"
RECOMMENDATION_PREFIX = "You might like: "  # the programs' template reply when they recommend
COMMON_SHARE = 0.5  # "something different" moves away from attributes at least this share of the last list holds


@dataclass(frozen=True)
class SessionState:
    """``preferences``: tree nodes in force; ``refused``: attribute nodes ruled out (their items are never
    recommended); ``years``: the inclusive (first, last) release years in force, None for an open end;
    ``avoided``: attribute nodes the user moved away from (their items come last)."""

    preferences: tuple[int, ...] = ()
    refused: tuple[int, ...] = ()
    years: tuple[int | None, int | None] | None = None
    avoided: tuple[int, ...] = ()

    def as_json(self) -> dict:
        return {"preferences": list(self.preferences), "refused": list(self.refused),
                "years": None if self.years is None else list(self.years), "avoided": list(self.avoided)}

    @classmethod
    def from_json(cls, data: object, tree: PreferenceTree) -> SessionState | None:
        """The state a message carried, or None when it is not one this tree can hold (another tree's,
        hand-edited, damaged): the caller then rebuilds it from the words."""
        if not isinstance(data, dict):
            return None
        nodes = {}
        for key in ("preferences", "refused", "avoided"):
            value = data.get(key, [])
            if not isinstance(value, list) or not all(type(n) is int and 0 < n < len(tree.nodes) for n in value):
                return None
            nodes[key] = tuple(value)
        years = data.get("years")
        if years is not None and not (isinstance(years, list) and len(years) == 2
                                      and all(y is None or type(y) is int for y in years)):
            return None
        return cls(years=None if years is None else tuple(years), **nodes)


@dataclass(frozen=True)
class MessageEffects:
    """One user message mapped onto the tree: the nodes it ``wished`` for (extracted), the attribute nodes it
    ``refused`` and ``withdrawn``, its ``year`` wish, and whether it asked for something ``different`` or
    ``changes_mind`` (its wishes replace the earlier ones)."""

    wished: tuple[int, ...] = ()
    refused: tuple[int, ...] = ()
    withdrawn: tuple[int, ...] = ()
    year: YearWish | None = None
    different: bool = False
    changes_mind: bool = False

    @property
    def critiques(self) -> bool:
        """Whether the message critiques the list (years, something ruled out, something different): the
        user asked for another list, not a question."""
        return bool(self.refused or self.year or self.different)


def _deepest(tree: PreferenceTree, nodes: Sequence[int]) -> tuple[int, ...]:
    """``nodes`` once each, less those with a deeper node among them (a deeper pick refines its ancestor)."""
    nodes = list(dict.fromkeys(nodes))
    covered = {a for n in nodes for a in tree.ancestors(n)}
    return tuple(n for n in nodes if n not in covered)


def _under(tree: PreferenceTree, node: int, dropped: set[int]) -> bool:
    return node in dropped or any(a in dropped for a in tree.ancestors(node))


def median_year(catalog: Catalog, items: Sequence[int]) -> int | None:
    years = [catalog.years[i] for i in items if catalog.years[i] is not None]
    return int(np.median(years)) if years else None


def resolve_years(wish: YearWish, catalog: Catalog, last_shown: Sequence[int]) -> tuple[int | None, int | None] | None:
    """The years a wish asks for. "More recent" / "older" are relative to the last list shown (to the
    catalog's median year before any list): later than its median year, or earlier. None where nothing has
    a year (the catalog has none)."""
    if wish.direction is None:
        return wish.start, wish.end
    pivot = median_year(catalog, last_shown) or median_year(catalog, range(1, len(catalog) + 1))
    if pivot is None:
        return None
    return (pivot + 1, None) if wish.direction == "later" else (None, pivot - 1)


def common_attributes(tree: PreferenceTree, items: Sequence[int], keep: Sequence[int] = ()) -> tuple[int, ...]:
    """The attribute nodes that at least ``COMMON_SHARE`` of ``items`` hold, most held first, less the
    preferences in ``keep`` and those under or above them ("something different" keeps what was asked for)."""
    if not items:
        return ()
    held = np.concatenate([attributes_of(tree, i) for i in items])
    nodes, counts = np.unique(held, return_counts=True)
    above = {a for node in keep for a in tree.ancestors(node)}
    common = [(int(c), int(n)) for n, c in zip(nodes, counts) if c >= COMMON_SHARE * len(items)
              and int(n) not in above and not _under(tree, int(n), set(keep))]
    return tuple(n for _, n in sorted(common, key=lambda pair: (-pair[0], pair[1])))


def advance(state: SessionState, effects: MessageEffects, tree: PreferenceTree, catalog: Catalog,
            last_shown: Sequence[int]) -> tuple[SessionState, list[str]]:
    """The state after a user message, and one note per change in words. What earlier turns established
    stays unless the message withdraws, refuses or (changing its mind) replaces it."""
    notes: list[str] = []
    dropped = set(effects.refused) | set(effects.withdrawn)
    earlier = () if effects.changes_mind else state.preferences
    if effects.changes_mind and state.preferences:
        notes.append("changed their mind: earlier preferences replaced")
    kept = [n for n in earlier if not _under(tree, n, dropped)]
    notes += [f"withdrew {tree.nodes[n].name!r}" for n in earlier if n not in kept]
    wished = [n for n in effects.wished if not _under(tree, n, set(effects.refused))]
    preferences = _deepest(tree, [*kept, *wished])
    # Asking for something again lifts an earlier refusal of it.
    refused = tuple(n for n in dict.fromkeys([*state.refused, *effects.refused])
                    if not any(n == w or n in tree.ancestors(w) for w in wished))
    notes += [f"ruled out {tree.nodes[n].name!r}" for n in effects.refused]
    years = state.years
    if effects.year is not None:
        resolved = resolve_years(effects.year, catalog, last_shown)
        if resolved is None:
            notes.append(f"{effects.year.describe()}: the catalog has no years, ignored")
        else:
            years = resolved
            notes.append(f"years {years_text(years)} ({effects.year.describe()})")
    if effects.different:
        avoided = common_attributes(tree, last_shown, preferences)
        notes.append("something different: away from " + (", ".join(repr(tree.nodes[n].name) for n in avoided)
                                                           or "nothing the last list shared"))
    elif effects.wished or effects.changes_mind:
        avoided = ()
    else:
        avoided = state.avoided
    return SessionState(preferences, refused, years, avoided), notes


def years_text(years: tuple[int | None, int | None]) -> str:
    """(1990, None) → "1990–…"."""
    first, last = years
    return f"{first if first is not None else '…'}–{last if last is not None else '…'}"


# -- reading the dialogue ---------------------------------------------------------------------------------------
def _listed_titles(reply: str) -> list[str]:
    """The titles of a template recommendation ("You might like: A; B; C.")."""
    if not reply.startswith(RECOMMENDATION_PREFIX):
        return []
    body = reply[len(RECOMMENDATION_PREFIX):].strip()
    return [title.strip() for title in (body[:-1] if body.endswith(".") else body).split("; ") if title.strip()]


def shown_items(message: dict, catalog: Catalog) -> list[int]:
    """The ids an assistant message recommended: its ``items`` when they are catalog ids, else the titles
    of its template reply matched back (titles with no match are skipped)."""
    items = message.get(ITEMS)
    if isinstance(items, list) and all(type(i) is int and 1 <= i <= len(catalog) for i in items):
        return list(items)
    matched = (catalog.match_title(title) for title in _listed_titles(message["content"]))
    return list(dict.fromkeys(i for i in matched if i is not None))


def names_item(text: str, catalog: Catalog, item: int) -> bool:
    """Whether ``text`` names ``item`` by one of its title's forms (case and punctuation ignored)."""
    said = f" {title_key(text)} "
    return any(len(key) > 3 and f" {key} " in said for key in map(title_key, title_variants(catalog.titles[item])))


def rejected_items(dialogue: Sequence[dict], catalog: Catalog) -> list[int]:
    """Every item recommended earlier in the dialogue, in order: the user went on talking, so none was taken.
    An item the user names after it was shown ("tell me more about Alien") is not rejected."""
    rejected: dict[int, None] = {}
    for position, message in enumerate(dialogue):
        if message["role"] != "assistant":
            continue
        later = " ".join(m["content"] for m in dialogue[position + 1:] if m["role"] == "user")
        rejected.update((i, None) for i in shown_items(message, catalog) if not names_item(later, catalog, i))
    return list(rejected)


def carried_state(dialogue: Sequence[dict], tree: PreferenceTree) -> tuple[int, SessionState] | None:
    """(position, state) of the last assistant message that carries a state this tree can hold, or None."""
    for position in range(len(dialogue) - 1, -1, -1):
        message = dialogue[position]
        if message["role"] == "assistant" and SESSION in message:
            state = SessionState.from_json(message[SESSION], tree)
            if state is not None:
                return position, state
    return None


def last_shown(dialogue: Sequence[dict], catalog: Catalog) -> list[int]:
    """The items of the latest recommendation in the dialogue ([] before any)."""
    for message in reversed(dialogue):
        if message["role"] == "assistant":
            shown = shown_items(message, catalog)
            if shown:
                return shown
    return []


def item_mask(tree: PreferenceTree, nodes: Sequence[int]) -> np.ndarray:
    """Boolean mask over item ids 0..n: the items under any of ``nodes``."""
    mask = np.zeros(tree.n_items + 1, dtype=bool)
    for node in nodes:
        mask[tree.node_items(node)] = True
    return mask


def excluded_items(state: SessionState, tree: PreferenceTree, catalog: Catalog, rejected: Sequence[int]) -> np.ndarray:
    """The ids never to recommend now: the rejected items, those holding a refused attribute, and those outside
    the years in force (an item without a year cannot be shown to be inside them)."""
    mask = item_mask(tree, state.refused)
    mask[list(rejected)] = True
    if state.years is not None:
        first, last = state.years
        years = np.array([np.nan if y is None else y for y in catalog.years], dtype=float)
        inside = ~np.isnan(years)
        if first is not None:
            inside &= years >= first
        if last is not None:
            inside &= years <= last
        mask |= ~inside
    mask[0] = False
    return np.flatnonzero(mask)

