"""envkit's envs through other libraries' interfaces (each adapter imports its library lazily)."""
