"""Signatures of the ChatCRS, RAH and MACRec baselines (paper 5.1.3; re-implementations, see programs/).

Each is kept short and constrained for weak local models: Literal choices, and item references as
numbers into a list shown in the prompt.
"""
from __future__ import annotations

from typing import Literal

import dspy

from afirs_dspy.signatures.preferences import UserPreferences


# ChatCRS: goal planning, then a response grounded in retrieved item knowledge.

class PlanDialogueGoal(dspy.Signature):
    """You are the goal planner of a conversational recommender. Predict the goal of the
    recommender's next turn: 'recommend' when the user has said enough to pick items, otherwise
    'ask' about one aspect the user has not stated yet (for example genre, mood or era)."""

    conversation: str = dspy.InputField()
    goal: Literal["recommend", "ask"] = dspy.OutputField()
    aspect: str = dspy.OutputField(desc="the aspect to ask about when asking, else ''")


class RecommendWithKnowledge(dspy.Signature):
    """You are a conversational recommender. Using the knowledge about catalog items, select up to
    k items that fit what the user asked for. Answer with item numbers, best first."""

    conversation: str = dspy.InputField()
    knowledge: list[str] = dspy.InputField(desc="numbered items: 'number. title — attributes: description'")
    k: int = dspy.InputField()
    selected: list[int] = dspy.OutputField(desc="item numbers, best first")


class AskWithKnowledge(dspy.Signature):
    """You are a conversational recommender. Ask the user one short question about the aspect,
    offering two or three options that the catalog items below actually have. Do not name
    specific items."""

    conversation: str = dspy.InputField()
    aspect: str = dspy.InputField()
    knowledge: list[str] = dspy.InputField(desc="catalog items related to the conversation")
    question: str = dspy.OutputField()


# RAH: the user's assistant learns a profile, decides from it and recommends from its own knowledge.

class LearnUserProfile(dspy.Signature):
    """You are the user's personal assistant. Learn the user's profile from their conversation with
    a recommender: what they like and what they dislike, in short phrases taken from what they
    said. Traits or items the user turned down are dislikes."""

    conversation: str = dspy.InputField()
    profile: UserPreferences = dspy.OutputField()


class DecideFromProfile(dspy.Signature):
    """You are the user's personal assistant, acting for them with a recommender. Decide from the
    user's profile: 'recommend' when the likes say clearly what to look for, otherwise 'ask' the
    user one short question about what the profile is missing."""

    profile: UserPreferences = dspy.InputField()
    action: Literal["recommend", "ask"] = dspy.OutputField()
    question: str = dspy.OutputField(desc="the question when asking, else ''")


class RecommendFromProfile(dspy.Signature):
    """Recommend up to k items of the domain from your own knowledge, by their exact titles, that
    match the user's likes and avoid their dislikes. Do not repeat items from the history."""

    domain: str = dspy.InputField()
    profile: UserPreferences = dspy.InputField()
    history: list[str] = dspy.InputField(desc="items the user interacted with before, oldest first")
    k: int = dspy.InputField()
    titles: list[str] = dspy.OutputField(desc="exact titles, best first")


# MACRec: a manager coordinating an analyst, a searcher and a reflector.

class ManageStep(dspy.Signature):
    """You are the manager of a team of recommender agents serving a user. Choose the next step:
    'analyse' (the analyst describes what the user wants), 'search' (the searcher finds matching
    catalog items), 'recommend' (recommend the items found) or 'ask' (ask the user a
    clarification question). Recommend or ask before the steps run out."""

    conversation: str = dspy.InputField()
    reports: list[str] = dspy.InputField(desc="what the agents reported so far")
    steps_left: int = dspy.InputField()
    action: Literal["analyse", "search", "recommend", "ask"] = dspy.OutputField()


class AnalyseUser(dspy.Signature):
    """You are the analyst of a recommender team. In one or two sentences, say what this user wants
    now, from the conversation and the items they interacted with before, and which of the items
    found so far fit them."""

    conversation: str = dspy.InputField()
    history: list[str] = dspy.InputField(desc="the user's recent items, oldest first")
    found: list[str] = dspy.InputField(desc="items the searcher found so far, best first")
    analysis: str = dspy.OutputField()


class ProposeItems(dspy.Signature):
    """You are the manager of a recommender team. Select up to k of the items the searcher found
    that best fit the user, given the agents' reports. Answer with item numbers, best first."""

    conversation: str = dspy.InputField()
    reports: list[str] = dspy.InputField()
    candidates: list[str] = dspy.InputField(desc="numbered items: 'number. title — attributes'")
    k: int = dspy.InputField()
    selected: list[int] = dspy.OutputField(desc="item numbers, best first")


class ProposeQuestion(dspy.Signature):
    """You are the manager of a recommender team. Ask the user one short clarification question
    about what the conversation and the agents' reports leave open. Do not name specific items."""

    conversation: str = dspy.InputField()
    reports: list[str] = dspy.InputField()
    question: str = dspy.OutputField()


class ReflectOnAnswer(dspy.Signature):
    """You are the reflector of a recommender team. Check the manager's answer before it is sent to
    the user: accept it when it fits the conversation; reject it when it ignores what the user
    asked for or asks about something already answered, and say why in one sentence."""

    conversation: str = dspy.InputField()
    answer: str = dspy.InputField()
    verdict: Literal["accept", "reject"] = dspy.OutputField()
    feedback: str = dspy.OutputField(desc="why, when rejecting, else ''")
