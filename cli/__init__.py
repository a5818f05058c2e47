"""`slipway`: the command-line client of the Slipway REST API, for people and CI pipelines.

Entry point: `cli.main:main` (installed as the `slipway` console script). Exit codes are
listed in `cli.exitcodes` and documented in docs/cli.md.
"""

__version__ = "0.1.0"
