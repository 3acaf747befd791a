"""Shared machinery: database, errors, clock, auth primitives, rate limits, events, i18n."""
