"""Data loading: published files -> records that carry their language explicitly."""
