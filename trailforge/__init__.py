"""trailforge: a dataset factory for ski-track reasoning trails.

The Python API (see README, "Python API"): `trailforge.build`, `trailforge.verify`,
`trailforge.load`, `trailforge.export`, `trailforge.publish`.
"""

__version__ = "0.1.0"

# Importing the API loads the submodules named `build`, `verify` and `publish` first, so the
# functions bound here are never replaced by those modules on a later import.
from .api import BuiltVersion, build, export, load, publish, verify  # noqa: E402

__all__ = ["__version__", "BuiltVersion", "build", "export", "load", "publish", "verify"]
