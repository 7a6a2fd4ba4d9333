"""The optional compiled inner loop; everything else is in pyproject.toml.

`optional=True`: where no C compiler is found, `pip install` warns and installs the pure-Python
package, which gives the same bytes (trailforge/tokenize/local.py is the reference).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("trailforge.tokenize._splice", ["trailforge/tokenize/_splice.c"], optional=True)
    ]
)
