"""`python -m trailforge` runs the command line."""

from .cli import main

main()
