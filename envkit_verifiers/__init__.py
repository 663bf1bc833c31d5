"""envkit's tasks as a verifiers taskset and env: ``vf-eval envkit_verifiers -m MODEL --client.base-url URL``.

verifiers loads a taskset by a plain module name (``vf-eval <taskset-id>`` imports the
module and takes the ``Taskset`` and ``Env`` subclasses in its ``__all__``); this module is
that name for envkit. The classes live in :mod:`envkit.adapters.verifiers_env`.
"""

from envkit.adapters.verifiers_env import EnvkitEnv, EnvkitTaskset

__all__ = ["EnvkitEnv", "EnvkitTaskset"]
