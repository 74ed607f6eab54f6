"""`python -m framedb` runs the command line."""

from framedb.cli import main

main()
