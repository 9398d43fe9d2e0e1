"""Shared primitives: money, IIN/BIN, periods, the working-day calendar, dated rules, errors."""
