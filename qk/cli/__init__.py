"""The ``qk`` command line."""
