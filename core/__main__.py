"""``python -m recgraft`` (and ``torchrun -m recgraft``) runs the command line."""

from recgraft.cli import main

if __name__ == "__main__":
    main()
