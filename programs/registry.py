"""The methods ``afirs-dspy eval --method`` knows: AF-IRS, its ablations (paper 5.3) and the
baselines (paper 5.1.3), each built on the same tree, tool, catalog and LM."""
from __future__ import annotations

from dataclasses import replace

import dspy

from afirs_dspy.artifacts.context import ProgramContext
from afirs_dspy.programs.afirs import AFIRS, AFIRSConfig
from afirs_dspy.programs.preference_match import SIMILARITY_WEIGHTS, ScoreWeights
from afirs_dspy.programs.chatcrs import ChatCRS
from afirs_dspy.programs.interecagent import InteRecAgent
from afirs_dspy.programs.llmcrs import LLMCRS
from afirs_dspy.programs.macrec import MACRec
from afirs_dspy.programs.rah import RAH
from afirs_dspy.programs.react_agent import ReActAgent
from afirs_dspy.programs.zero_shot import ZeroShot

ABLATIONS = {
    "afirs": {},
    "decision-first": {"action_first": False},
    "no-llm2rs": {"llm_to_rs": False},
    "no-refine": {"llm_refine": False},
}
BASELINES = ("zero-shot", "react", "llmcrs", "interecagent", "chatcrs", "rah", "macrec")
METHODS = (*ABLATIONS, *BASELINES)
# Methods whose turn cannot say what it would recommend where it asks (DSR@5 needs it), and why. The others
# either know it (action first) or answer ``must_recommend`` (the evaluation asks, unbilled).
WHY_NO_DSR = {
    "zero-shot": "one LM answer decides and names the titles: when it asks, there is no list",
    "react": "the agent's one final answer decides and names the ids: when it asks, there is no list",
    "macrec": "the manager asks only when no proposal passed its reflector: a forced list would be another program",
}


def build_program(method: str, context: ProgramContext, config: AFIRSConfig = AFIRSConfig()) -> dspy.Module:
    """A fresh program for ``method``; ``config`` sets the sizes (and, for AF-IRS, its switches)."""
    sizes = {"n_candidates": config.n_candidates, "n_recommend": config.n_recommend}
    if method in ABLATIONS:
        config = replace(config, **ABLATIONS[method])
        if config.similarity_weight is None:
            config = replace(config, similarity_weight=SIMILARITY_WEIGHTS.get(context.dataset.name, ScoreWeights.similarity))
        # the item vectors, where the refinement score has its similarity term
        scored = config.llm_refine and config.refinement != "lm" and config.similarity_weight > 0
        return AFIRS(context.tree, context.tool, context.catalog, context.embedder, context.node_vectors(), config,
                     context.item_vectors() if scored else None)
    if method == "zero-shot":
        return ZeroShot(context.catalog, context.domain, config.n_recommend)
    if method == "react":
        return ReActAgent(context.tool, context.catalog, context.embedder, context.item_vectors(), config.n_recommend)
    if method == "llmcrs":
        return LLMCRS(context.tool, context.catalog, **sizes)
    if method == "interecagent":
        names, vectors = context.attributes()
        return InteRecAgent(context.tool, context.catalog, context.embedder, names, vectors, **sizes)
    if method == "chatcrs":
        return ChatCRS(context.catalog, context.embedder, context.item_vectors(), config.n_recommend)
    if method == "rah":
        return RAH(context.catalog, context.domain, config.n_recommend)
    if method == "macrec":
        names, vectors = context.attributes()
        return MACRec(context.tool, context.catalog, context.embedder, names, vectors, **sizes)
    raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")
