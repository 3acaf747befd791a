"""Topics (议题): intake (征题), numbering, tracking, and the staff queue."""
