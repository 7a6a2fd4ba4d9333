"""trailforge: a dataset factory for ski-track reasoning trails."""

__version__ = "0.1.0"
