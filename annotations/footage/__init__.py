"""Footage: upload, ingest (a batch job) and splitting into shots; the footage and shot API."""
