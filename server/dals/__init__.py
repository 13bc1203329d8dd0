"""DALS: the Durable Agent Language Server."""
