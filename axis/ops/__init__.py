"""Running the axis: health checks, metrics, agencies' broker users, dead letters and
quarantine."""
