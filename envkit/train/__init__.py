"""The MEM1 trainer: GRPO (TRL) over multi-turn envkit episodes, trained on masked trajectories.

Import cost: this package imports TRL (extra ``train``); nothing else in envkit does.
"""

from envkit.train.config import Mem1GRPOConfig
from envkit.train.trainer import Mem1GRPOTrainer, make_training_env

__all__ = ["Mem1GRPOConfig", "Mem1GRPOTrainer", "make_training_env"]
