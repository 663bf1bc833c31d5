"""Composition strategies: how questions are grouped into N-objective tasks."""

from composers.strategies.base import CompositionError, Strategy
from composers.strategies.chained import Chained
from composers.strategies.mixed import Mixed
from composers.strategies.parallel import Parallel

__all__ = ["Chained", "CompositionError", "Mixed", "Parallel", "Strategy"]
