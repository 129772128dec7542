"""Log files for long-running commands (live session, gateway simulator, report scheduler):
rotation by size and by day with a retention count (issue 19)."""
