"""Only the C extension lives here; everything else about the package is in pyproject.toml.

`pip install -e .` (scripts/setup) builds `media._fanout` from media/_fanout.c,
media/_ingest.c and media/_remb.c; after editing a C file, `scripts/setup` rebuilds it in place
(`python setup.py build_ext --inplace`).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "media._fanout",
            sources=["media/_fanout.c", "media/_ingest.c", "media/_remb.c"],
            depends=["media/_fanout.h"],
            # no fused multiply-add: _remb.c must round as Python's floats do
            extra_compile_args=[
                "-O2",
                "-ffp-contract=off",
                "-Wall",
                "-Wextra",
                "-Wno-unused-parameter",
            ],
        )
    ]
)
