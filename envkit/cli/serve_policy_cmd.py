"""``envkit serve-policy``: a model policy behind an OpenAI-compatible chat endpoint on 127.0.0.1."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["serve_policy"]


def serve_policy(
    policy: Annotated[str, typer.Argument(help="A model: smollm2, tiny or hf:FOLDER.")],
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Longest reply, unless a request sets max_tokens.")] = 256,
    temperature: Annotated[
        float, typer.Option(min=0.0, help="Temperature, unless a request sets one (0: greedy).")
    ] = 1.0,
    max_context_tokens: Annotated[int, typer.Option(min=1, help="Longest context; longer ones are refused.")] = 8192,
    max_tokens_limit: Annotated[
        int, typer.Option(min=1, help="Largest max_tokens a request may ask for; larger ones are refused (400).")
    ] = 4096,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu, cuda:0...")] = "auto",
) -> None:
    """Serve a model at /v1/chat/completions (OpenAI's shape, streamed or not), named by its spec in /v1/models."""
    from rich.console import Console

    from envkit.net import listen, serve_app
    from envkit.policy.chat_server import chat_completions_app, policy_replies
    from envkit.policy.hf import GenerationSettings, HFPolicy
    from envkit.policy.specs import load_policy

    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature)
    model = load_policy(policy, settings, max_context_tokens, device)
    if not isinstance(model, HFPolicy):
        raise ValueError(f"policy {policy!r} is not a model served in this process; serve smollm2, tiny or hf:FOLDER")
    app = chat_completions_app(policy_replies(model, settings, max_tokens_limit), policy)
    sock = listen(host, port)  # a busy port is one line, before anything claims to serve
    Console(stderr=True).print(
        f"serving {policy} on http://{host}:{port} (POST /v1/chat/completions, GET /v1/models; Ctrl-C stops)",
        highlight=False,
    )
    serve_app(app, sock)
