"""Issue 31: what the code reads in a user's message — wishes, refusals, time, "something different", a change
of mind — and the words about the conversation itself, which are none of these."""
from __future__ import annotations

import pytest

from afirs_dspy.text.user_words import YearWish, read_message, year_wish


@pytest.mark.parametrize("text", [
    "No, none of those is it.", "Not what I want, sorry.", "Seen them all, any others?", "I've seen those.",
    "Nope, not those.", "Those don't fit.", "Anything else?", "More please.", "Not quite.", "hmm, none of these either",
    "I've played those already", "Not really my thing.", "Show me something else",
])
def test_words_about_the_conversation_ask_for_nothing(text):
    message = read_message(text)
    assert message.says_nothing_new, message


def test_the_seen_those_critique_keeps_its_time_and_refusal_but_wishes_nothing():
    message = read_message("No, I've seen those. Something more recent please, not a cartoon.")
    assert (message.wishes, message.refused, message.year) == ((), ("cartoon",), YearWish(direction="later"))


def test_wishes_refusals_and_new_aspects_in_one_message():
    assert read_message("I am in the mood for a scary movie with zombies, but also funny.").wishes == (
        "scary", "zombies", "funny")
    message = read_message("No, none of those is what I'm after. It should also be scary.")
    assert message.wishes == ("scary",) and not message.refused
    message = read_message("before 1990 and no horror or gore")
    assert (message.wishes, message.refused, message.year) == ((), ("horror", "gore"), YearWish(end=1989))
    assert read_message("nothing from Disney").refused == ("Disney",)
    assert read_message("I don't want anything scary, something sci-fi").refused == ("scary",)
    assert read_message("Anything co-op?").wishes == ("co-op",)  # a hyphenated name stays one word


@pytest.mark.parametrize("text, wish", [
    ("from the 80s", YearWish(start=1980, end=1989)),
    ("something from the 1990s", YearWish(start=1990, end=1999)),
    ("the 2000s", YearWish(start=2000, end=2009)),
    ("eighties please", YearWish(start=1980, end=1989)),
    ("after 2000", YearWish(start=2001)),
    ("since 2015", YearWish(start=2015)),
    ("2010 or later", YearWish(start=2010)),
    ("before 1990", YearWish(end=1989)),
    ("between 1990 and 1995", YearWish(start=1990, end=1995)),
    ("from around 2005 to 2011", YearWish(start=2005, end=2011)),  # a hedge keeps the years (steam-03)
    ("after about 2000", YearWish(start=2001)),
    ("released in 1999", YearWish(start=1999, end=1999)),
    ("newer ones", YearWish(direction="later")),
    ("something more recent", YearWish(direction="later")),
    ("not that old", YearWish(direction="later")),
    ("older ones please", YearWish(direction="earlier")),
    ("a comedy", None),
])
def test_time_phrases(text, wish):
    assert year_wish(text) == wish
    if wish is not None:
        assert read_message(text).wishes == ()  # a time phrase is no tag ("more recent" is no "historical")


def test_different_withdrawal_and_change_of_mind():
    assert read_message("something completely different please").different
    message = read_message("ok forget the zombies part")
    assert message.withdrawn == ("zombies",) and not message.wishes and not message.changes_mind
    message = read_message("Actually, forget the horror, I'd rather have a romantic comedy instead")
    assert message.changes_mind and message.withdrawn == ("horror",) and message.wishes == ("romantic comedy",)
    assert not read_message("Actually, I also want it to be funny").changes_mind  # "actually" alone changes nothing


def test_what_the_user_would_do_and_a_list_all_alike_are_no_wishes():
    # "These all feel the same" asks for something different; "watch", "try" name what one does with an item
    said = read_message("These all feel kind of the same. Can you show me something else?")
    assert said.wishes == () and said.different
    assert read_message("Something to watch with friends and laugh at.").wishes == ("friends", "laugh")
    assert read_message("A feel-good movie").wishes == ("feel-good",)
