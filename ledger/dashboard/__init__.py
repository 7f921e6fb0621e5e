"""The dashboard people look at: pages served by `ledger serve`, pictures for `ledger report`."""
