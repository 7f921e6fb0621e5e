"""What every HTTP surface of the ledger shares: authentication and roles, problem
details, security headers, the access log, and the one path every read takes.

Below both the API (ledger.api) and the dashboard (ledger.dashboard); the app that
puts them together is ledger.app.
"""
