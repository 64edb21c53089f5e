"""Results: the versioned result JSON, TREC run files, manifests and figures."""
