"""Scripts that generate checked-in oracle reference files for tests too slow to run live."""
