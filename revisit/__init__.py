"""revisit: brings car owners back to the dealer's service shop."""

__version__ = "0.1.0"
