#!/usr/bin/env python
"""Self-play throughput benchmark: ``blobmaster bench`` under its old name.

The logic lives in :mod:`blobmaster.bench`; this script takes the same
options (``--help`` lists them). See benchmarks/README.md.
"""

from __future__ import annotations

from blobmaster.bench import main

if __name__ == "__main__":
    main()
