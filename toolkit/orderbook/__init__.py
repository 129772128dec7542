"""Level-2 order books: exact replay of LOBSTER message files, order-flow features, queue
position and event-level backtests (issue 20)."""
