"""Run framedb from a checkout: `python cli.py COMMAND ...` is the same as `framedb COMMAND ...`."""

from framedb.cli import main

if __name__ == "__main__":
    main()
