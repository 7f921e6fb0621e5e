"""`python -m ledger.cli ...`: the same as the `ledger` command."""

from ledger.cli import app

app()
