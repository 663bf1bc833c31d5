"""Tools for testing envkit envs and the adapters that expose them to other libraries."""

from envkit.deprecations import moved_names

# the tiny test model moved to envkit.policy.tiny (a model spec like any other)
__getattr__ = moved_names(
    __name__,
    {
        name: "envkit.policy.tiny"
        for name in ("CHATML_TEMPLATE", "save_tiny_model", "tiny_model", "tiny_policy", "tiny_tokenizer")
    },
)
