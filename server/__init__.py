"""码上议 Mashangyi: a real-time hybrid deliberation server for community governance."""

__version__ = "0.1.0"
