"""``python -m blobmaster``: the same command line as the ``blobmaster`` script."""

from blobmaster.cli import main

if __name__ == "__main__":
    main()
