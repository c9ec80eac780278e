"""The SASRec recommender tool that the AF-IRS program calls."""
from afirs_dspy.recsys.artifacts import checkpoint_dir, load_or_train, load_tool, resolve_device
from afirs_dspy.recsys.checkpoint import Checkpoint, dataset_fingerprint, load_checkpoint, save_checkpoint
from afirs_dspy.recsys.config import SASRecConfig, default_config
from afirs_dspy.recsys.evaluator import evaluate
from afirs_dspy.recsys.item_index import ItemIndex
from afirs_dspy.recsys.model import SASRec
from afirs_dspy.recsys.popularity import PopularityRanker
from afirs_dspy.recsys.sasrec_ranker import SASRecRanker
from afirs_dspy.recsys.score_prior import PriorWeights, ScorePrior
from afirs_dspy.recsys.threads import torch_threads
from afirs_dspy.recsys.tool import Recommendation, RecsysTool
from afirs_dspy.recsys.trainer import TrainingResult, train_sasrec

__all__ = [
    "Checkpoint", "ItemIndex", "PopularityRanker", "PriorWeights", "Recommendation", "RecsysTool", "SASRec",
    "SASRecConfig", "SASRecRanker", "ScorePrior", "TrainingResult", "checkpoint_dir", "dataset_fingerprint",
    "default_config", "evaluate", "load_checkpoint", "load_or_train", "load_tool", "resolve_device",
    "save_checkpoint", "torch_threads", "train_sasrec",
]
