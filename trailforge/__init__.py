"""trailforge: a dataset factory for ski-track reasoning trails."""

__version__ = "0.1.0"

from .publish import publish  # noqa: E402  - the notebook API: trailforge.publish(dir, repo_id)

__all__ = ["__version__", "publish"]
