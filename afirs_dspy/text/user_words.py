"""What the code reads in a user's words, in one place: words and clauses, negations, wish phrases and
their filler, words about the conversation itself, time phrases and the other critiques.

Everything here is plain text in, plain values out (no catalog, no tree, no LM): the domain maps the
phrases to attributes and items, the programs decide what to do with them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# A name after one of these in its clause is rejected ("not horror", "no zombies", "don't" → "don", "t").
NEGATIONS = frozenset({"not", "no", "without", "never", "nor", "t", "avoid", "except", "dislike", "hate"})
# Words before a wish that refuse it: the negations and a few ways to say "none of it".
REFUSALS = NEGATIONS | {"nothing", "none", "neither", "skip", "tired", "sick", "enough"}
CLAUSE_BREAK = re.compile(r"[.,;:!?\n]|\bbut\b", re.IGNORECASE)
WISH_BREAK = re.compile(r"[.,;:!?\n]|\b(?:and|but|with|also|or|plus)\b", re.IGNORECASE)
# Words of a request that name no wish ("I'm in the mood for a … movie"): stop words and request words.
FILLER = ENGLISH_STOP_WORDS | {
    "movie", "movies", "film", "films", "game", "games", "product", "products", "mood", "want", "like", "looking",
    "recommend", "suggest", "need", "fit", "m", "s", "d", "ll", "ve", "t",
    # conversation words: "think horror", "preferably co-op", "a comedy instead"
    "think", "maybe", "preferably", "ideally", "instead", "actually", "rather", "prefer", "ok", "okay", "hmm", "pls",
    "sorry", "thanks", "thank", "ones", "keyword", "keywords", "trait", "traits",
    # what the user would do with it: "something to watch", "could you try", "it feels"
    "watch", "try", "play", "feel", "feels", "kind", "sort",
}
TOKEN = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")  # a word, hyphens and apostrophes inside kept ("co-op", "sci-fi")


def is_filler(token: str) -> bool:
    """A filler word, or one made of filler words only ("I'd", "don't"; "co-op" is not)."""
    lowered = token.casefold()
    return lowered in FILLER or all(part in FILLER for part in re.split(r"[-']", lowered))
# Words that carry no preference: a phrase is matched (and grounded in the user's words) by the others.
STOPWORDS = frozenset(
    "a an the of with and or to in on for at by from about some something anything any it its is are be "
    "that this these those very really quite more less much one ones i me my we you your please like want "
    "would love kind sort type".split()
)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def words(text: str) -> tuple[str, ...]:
    """Lower-cased alphanumeric words in the singular ("Comedies" → "comedy", "don't" → "don", "t")."""
    return tuple(_singular(w) for w in re.findall(r"[^\W_]+", text.casefold()))


def content_words(phrase: str) -> tuple[str, ...]:
    """The words of ``phrase`` that say what is wanted: no stopwords, no negations."""
    return tuple(w for w in words(phrase) if w not in STOPWORDS and w not in NEGATIONS)


def without_refusal(phrase: str) -> str:
    """'no zombies' → 'zombies', "don't like gore" → 'like gore'."""
    return " ".join(token for token in phrase.split() if not set(words(token)) & REFUSALS)


def wish_phrases(text: str) -> list[str]:
    """The parts of ``text`` between punctuation and conjunctions, each with a word in it."""
    return [phrase.strip() for phrase in WISH_BREAK.split(text) if words(phrase)]


def wishes(text: str) -> list[str]:
    """The wish phrases of ``text`` without filler words; a refused phrase ("not too long", "nothing from
    Disney") wishes for nothing (it is a refusal: :func:`refused_phrases`)."""
    found = []
    for phrase in wish_phrases(text):
        kept = [token for token in TOKEN.findall(phrase) if not is_filler(token)]
        if kept and not REFUSALS & set(words(phrase)):
            found.append(" ".join(kept))
    return found


# -- words about the conversation itself: never a preference ----------------------------------------------
_THOSE = r"(?:those|these|them|that|this|it|they|the ones?|the list|all (?:of )?(?:those|these|them))"
_META = [
    rf"\b(?:i(?:'ve| have)?|we(?:'ve| have)?)\s+(?:already\s+)?(?:seen|watched|played|tried|bought|used|own|owned|had|read)\s+{_THOSE}(?:\s+(?:all|already|before))*",
    rf"\b(?:already\s+)?(?:seen|watched|played|tried|owned?)\s+{_THOSE}(?:\s+(?:all|already|before))*",
    rf"\b(?:none|neither|nothing)\s+of\s+{_THOSE}(?:\s+(?:either|is it|are it|work|works|fit|fits|do it|does it|is what i'?m after|appeal|grab me))?",
    r"\bnot\s+(?:what|quite|really|exactly)\b(?:\s+(?:i\s+)?(?:want(?:ed)?|need(?:ed)?|mean(?:t)?|look(?:ing)? for|had in mind|was after|i'?m after|my thing|it|right))*",
    r"\bnot\s+(?:my|for me|it|these|those|them|this|that)\b(?:\s+(?:thing|cup of tea|style|kind))?",
    rf"\b{_THOSE}\s+(?:don'?t|do not|doesn'?t|does not|aren'?t|are not|isn'?t|is not)\s+(?:fit|work|do it|appeal|right|it|what i want)\w*",
    r"\b(?:any|some|show me|give me)?\s*(?:others?|other ones?|more|else|another)\b(?:\s+(?:options?|ones?|suggestions?|picks?|titles?|choices?|please|like that))*",
    r"\banything\s+else\b|\bsomething\s+else\b(?!\s+entirely)|\bany\s+more\b|\bmore\s+please\b|\bnext\b",
    r"\b(?:nope|nah|no thanks?|no thank you|not really|not quite|hmm+|meh|ok(?:ay)?|sure|thanks?|please)\b",
]
META_PHRASE = re.compile("|".join(f"(?:{pattern})" for pattern in _META), re.IGNORECASE)


def without_meta(text: str) -> str:
    """``text`` less its words about the conversation itself ("seen those", "none of these", "any others?",
    "not what I want"): they reject a list, they ask for nothing (a clause break keeps what is left apart)."""
    return META_PHRASE.sub(", ", text)


# -- change of mind -----------------------------------------------------------------------------------------
CHANGE_OF_MIND = re.compile(
    r"\b(?:instead|(?:i'?d|i would|would) rather|changed? (?:my|of) mind|change of plans?|on second thought|"
    r"scratch that|start over|forget (?:it|that|all that|everything|what i said))\b", re.IGNORECASE)


def changes_mind(text: str) -> bool:
    """The user replaces what they asked for ("Actually, a romantic comedy instead")."""
    return CHANGE_OF_MIND.search(text) is not None


WITHDRAWAL = re.compile(r"\b(?:forget|drop|skip|ditch|never ?mind|lose)\s+(?:about\s+)?(?:the\s+)?([\w' -]+?)(?=[.,;:!?\n]|\bpart\b|\bthing\b|\bbit\b|$)",
                        re.IGNORECASE)


def withdrawn_phrases(text: str) -> list[str]:
    """What the user takes back without refusing it ("forget the zombies part" → "zombies")."""
    found = []
    for match in WITHDRAWAL.finditer(text):
        kept = [token for token in TOKEN.findall(match.group(1)) if not is_filler(token)]
        if kept and kept[0].casefold() not in {"it", "that", "everything"}:
            found.append(" ".join(kept))
    return found


# -- critiques ------------------------------------------------------------------------------------------------
DIFFERENT = re.compile(
    r"\b(?:something|anything|somewhat|completely|totally|entirely|quite|very)\s+(?:\w+\s+)?different\b|"
    r"\bdifferent\s+(?:kind|type|sort|style|direction|genre)\b|\bsomething else entirely\b|\bchange of pace\b|"
    r"\bmix (?:it|things) up\b|\bswitch (?:it|things) up\b|"
    # "these all feel kind of the same", "too similar"
    r"\b(?:all|too)\s+(?:\w+\s+){0,3}?(?:the same|similar|alike)\b", re.IGNORECASE)


def wants_different(text: str) -> bool:
    """"Something different": move away from what the last list had in common."""
    return DIFFERENT.search(text) is not None


def refused_phrases(text: str) -> list[str]:
    """The phrases the user rules out, each without its refusal word: "not a cartoon" → "cartoon", "nothing
    from Disney" → "Disney", "no more horror" → "horror"; words about the conversation and time are not phrases."""
    found = []
    for clause in CLAUSE_BREAK.split(without_meta(without_time(text))):
        tokens = TOKEN.findall(clause)
        refusal = next((n for n, token in enumerate(tokens) if set(words(token)) & REFUSALS), None)
        if refusal is None:
            continue
        # "no horror or gore" refuses both: the words after the refusal, split at conjunctions
        for phrase in WISH_BREAK.split(" ".join(tokens[refusal + 1:])):
            kept = [t for t in phrase.split() if not is_filler(t) and not set(words(t)) & REFUSALS]
            if kept:
                found.append(" ".join(kept))
    return found


# -- time ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class YearWish:
    """A wish about when an item came out: ``direction`` "later" / "earlier" than what was shown, or an
    inclusive range (``start``/``end``, None for an open end)."""

    direction: str | None = None
    start: int | None = None
    end: int | None = None

    def describe(self) -> str:
        if self.direction:
            return f"{'more recent' if self.direction == 'later' else 'older'} than the last list"
        if self.start is not None and self.end is not None:
            return f"from {self.start}" if self.start == self.end else f"from {self.start} to {self.end}"
        return f"from {self.start} on" if self.start is not None else f"up to {self.end}"


_DECADE_WORDS = {"twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
                 "seventies": 1970, "eighties": 1980, "nineties": 1990}
# "from around 2005 to 2011": a hedge before a year keeps the year (steam-03 of bench/conversations).
_YEAR = r"(?:(?:around|about|roughly|approximately|circa|ca\.)\s+)?((?:19|20)\d\d)"
_DECADE = r"(?:(?:19|20)?(\d)0'?s|'(\d)0s|(" + "|".join(_DECADE_WORDS) + r"))\b"
_TIME_PATTERNS = [
    ("between", rf"\bbetween\s+{_YEAR}\s+and\s+{_YEAR}\b|\bfrom\s+{_YEAR}\s+(?:to|until|till)\s+{_YEAR}\b|\b{_YEAR}\s*[-–]\s*{_YEAR}\b"),
    ("after", rf"\b(?:after|post-?|later than|newer than|more recent than)\s*(?:the\s+)?{_YEAR}\b"),
    ("since", rf"\b(?:since|from)\s+{_YEAR}\s+(?:on|onwards?|or later|and later|or newer)\b|\bsince\s+{_YEAR}\b|\b{_YEAR}\s+or\s+(?:later|newer)\b"),
    ("before", rf"\b(?:before|pre-?|older than|earlier than)\s*(?:the\s+)?{_YEAR}\b"),
    ("until", rf"\b(?:until|till|up to|no later than)\s+{_YEAR}\b|\b{_YEAR}\s+or\s+(?:earlier|older|before)\b"),
    ("decade_after", rf"\b(?:after|since|post-?)\s*the\s+{_DECADE}"),
    ("decade_before", rf"\b(?:before|pre-?)\s*the\s+{_DECADE}"),
    ("decade", rf"(?<![\w'])(?:the\s+|early\s+|late\s+|mid\s+)?{_DECADE}"),
    ("year", rf"\b(?:from|in|of|released in|came out in)\s+{_YEAR}\b"),
    ("later", r"\b(?:more recent|recent|newer|new(?:est)? ones?|latest|modern|contemporary|up to date|"
              r"not (?:so|that|too|as) old|less old|from (?:the )?(?:last|past) (?:few )?(?:years?|decade))\b"),
    ("earlier", r"\b(?:older|old(?:er)? ones?|earlier ones?|less recent|not (?:so|that|too|as) (?:new|recent)|"
                r"from way back|oldies?)\b"),
]
TIME_PHRASE = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _TIME_PATTERNS), re.IGNORECASE)


def _decade(match: re.Match, first_group: int) -> int:
    digit, quoted, word = match.group(first_group), match.group(first_group + 1), match.group(first_group + 2)
    if word:
        return _DECADE_WORDS[word.casefold()]
    full = re.search(r"(19|20)?(\d)0'?s", match.group(0))
    if full and full.group(1):
        return int(full.group(1) + full.group(2) + "0")
    tens = int(digit or quoted)
    return (1900 if tens >= 3 else 2000) + 10 * tens  # "the 80s" → 1980, "the 10s" → 2010


def year_wish(text: str) -> YearWish | None:
    """The last time phrase in ``text`` ("more recent", "from the 80s", "after 2000", "between 1990 and 1995"),
    or None."""
    wish = None
    for match in TIME_PHRASE.finditer(text):
        kind = match.lastgroup
        numbers = [int(g) for g in match.groups() if g and g.isdigit() and len(g) == 4]
        first = match.re.groupindex[kind] + 1  # the kind's own capture groups follow its name group
        if kind == "between":
            wish = YearWish(start=min(numbers), end=max(numbers))
        elif kind == "after":
            wish = YearWish(start=numbers[0] + 1)
        elif kind == "since":
            wish = YearWish(start=numbers[0])
        elif kind == "before":
            wish = YearWish(end=numbers[0] - 1)
        elif kind == "until":
            wish = YearWish(end=numbers[0])
        elif kind in ("decade", "decade_after", "decade_before"):
            decade = _decade(match, first)
            wish = {"decade": YearWish(start=decade, end=decade + 9), "decade_after": YearWish(start=decade + 10),
                    "decade_before": YearWish(end=decade - 1)}[kind]
        elif kind == "year":
            wish = YearWish(start=numbers[0], end=numbers[0])
        else:
            wish = YearWish(direction=kind)
    return wish


def without_time(text: str) -> str:
    """``text`` less its time phrases (they become a year filter, not a tag: "more recent" is no "historical")."""
    return TIME_PHRASE.sub(", ", text)


# -- one user message, read -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserMessage:
    """What one user message says: ``wishes`` (phrases asked for, filler removed), ``refused`` (ruled out),
    ``withdrawn`` (taken back), ``year``, ``different`` ("something different") and ``changes_mind`` (the
    wishes replace the earlier ones). Words about the conversation itself ("seen those", "any others?") are
    none of these."""

    text: str
    wishes: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    withdrawn: tuple[str, ...] = ()
    year: YearWish | None = None
    different: bool = False
    changes_mind: bool = False

    @property
    def says_nothing_new(self) -> bool:
        """A plain rejection ("No, none of those"): keep the preferences, move down the ranking."""
        return not (self.wishes or self.refused or self.withdrawn or self.year or self.different)


def read_message(text: str) -> UserMessage:
    """The parts of one user message that the program acts on."""
    wish_text = without_meta(without_time(text))
    for pattern in (WITHDRAWAL, DIFFERENT, CHANGE_OF_MIND):
        wish_text = pattern.sub(", ", wish_text)
    refused = refused_phrases(text)
    # "no horror or gore": the phrase after the conjunction is refused too, not wished for
    ruled_out = [set(words(phrase)) for phrase in refused]
    wished = [w for w in wishes(wish_text) if not any(set(words(w)) <= out for out in ruled_out)]
    return UserMessage(text, tuple(wished), tuple(refused), tuple(withdrawn_phrases(text)), year_wish(text),
                       wants_different(text), changes_mind(text))
