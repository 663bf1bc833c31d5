"""Tools for testing envkit envs and the adapters that expose them to other libraries."""
