"""The ``envkit`` command line."""
