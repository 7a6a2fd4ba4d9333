"""What trailforge reads from the environment, read in one place."""

from __future__ import annotations

import os


def hub_offline() -> bool:
    """Whether HF_HUB_OFFLINE asks for no Hub access (the values huggingface_hub accepts)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
