"""Thin command line: one subcommand maps to one library function (see main.py)."""
