"""What the partner use cases refuse."""

from __future__ import annotations


class InvalidPartner(ValueError):
    """Input for a partner that we will not store (a bad webhook URL, say), or a use that
    needs ``SYNDICATION_SECRET_KEY`` when none is set."""
