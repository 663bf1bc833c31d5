"""Bring your own QA set and corpus: FlashRAG-style JSONL in, an env out.

Writes a tiny FlashRAG-format QA file and a Search-R1-format corpus (``{id, contents}``
with ``"Title"\\ntext``) to a temp folder, composes 3-objective tasks from it and plays
one episode with the oracle. Replace the two paths with your own files
(e.g. FlashRAG's ``nq/train.jsonl`` and DPR's ``wiki-18.jsonl``).

    python examples/your_own_qa_set.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import gymnasium as gym

import envkit
from composers import compose
from envkit.policy import OracleAgent
from envkit.rollout.episode import run_episode

RIVERS = {"Aldermoor": "Quellin", "Brisk": "Tarrow", "Corran": "Vessel", "Dunmere": "Yarl", "Ebbing": "Orrin"}


def write_inputs(folder: Path) -> tuple[Path, Path]:
    qa, corpus = folder / "rivers_train.jsonl", folder / "corpus.jsonl"
    with qa.open("w") as handle:
        for index, (town, river) in enumerate(RIVERS.items()):
            question = f"Which river flows through {town}?"
            record = {"id": f"train_{index}", "question": question, "golden_answers": [river]}
            handle.write(json.dumps(record) + "\n")
    with corpus.open("w") as handle:
        for index, (town, river) in enumerate(RIVERS.items()):
            contents = f'"{town}"\n{town} is a market town on the river {river}.'
            handle.write(json.dumps({"id": str(index), "contents": contents}) + "\n")
    return qa, corpus


def main() -> None:
    qa, corpus = write_inputs(Path(tempfile.mkdtemp()))
    tasks = compose(f"file:{qa}", strategy="parallel", n_objectives=3, count=4, seed=1)
    print("task 0:", [o.question for o in tasks[0].objectives])
    env = gym.make(envkit.QA_ENV_ID, source=f"file:{qa}", n_objectives=3, corpus=corpus, context="consolidated")
    result = run_episode(env, OracleAgent(), task_index=0)
    peak = result.peak_context_tokens
    print(f"oracle: reward {result.reward:.2f} in {len(result.turns)} turns, peak context {peak} tokens")


if __name__ == "__main__":
    main()
