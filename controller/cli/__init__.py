"""``bandctl``: argument parsing and printing only; the business logic lives in the library."""

from controller.cli.main import main

__all__ = ["main"]
